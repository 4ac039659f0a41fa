import Foundation

/// A value that several threads share, guarded by a lock.
///
/// libmosquitto calls back on its own network thread while callers publish
/// from theirs, so the client's state lives in one of these.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    @discardableResult
    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
