/// An error that a person can read as one line.
///
/// Every module's error type conforms, so the command-line tool and the
/// server print the same clear line whatever went wrong: what failed, on
/// which input, and why.
public protocol VSearchError: Error, CustomStringConvertible, Sendable {}

extension VSearchError {
    /// Swift's `localizedDescription` falls back to an opaque string on Linux.
    public var localizedDescription: String { description }
}

/// One line for any error: a `VSearchError` prints its own line, anything
/// else its Swift description.
public func describe(_ error: any Error) -> String {
    if let error = error as? any VSearchError { return error.description }
    return String(describing: error)
}
