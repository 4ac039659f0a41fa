import VSearchCore

/// A failure of a test's set-up or of the harness itself (a missing tool, model or photo, a broker that
/// did not start), as one line that names the fix.
public struct TestFailure: VSearchError {
    public let description: String
    public init(_ description: String) { self.description = description }
}
