import Foundation

/// Runs a blocking call (waiting for a child process, reading a pipe to its end) on a thread of its
/// own and awaits its result.
///
/// Swift's cooperative thread pool has one thread per core, two on the CI machine, and when the suite
/// runs in one process every test shares it. A test that blocks one of those threads for seconds,
/// waiting for a `vsearch` child to finish, stalls the async work of every other test: their servers
/// answer late and their streams time out. Tests make blocking calls through here instead.
public func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

extension Process {
    /// Waits for the process to end without holding a thread of the cooperative pool; returns its status.
    @discardableResult
    public func exited() async throws -> Int32 {
        let process = SendableProcess(self)
        return try await onOwnThread {
            process.value.waitUntilExit()
            return process.value.terminationStatus
        }
    }
}

/// A `Process` handed to another thread, which only calls what Foundation makes safe from any
/// thread on it: `waitUntilExit`, `terminationStatus`, `isRunning` and `processIdentifier`.
public struct SendableProcess: @unchecked Sendable {
    public let value: Process
    public init(_ value: Process) { self.value = value }
}

/// Waits until `condition` holds. The wait is for an event (a message, a stream event, a file), not
/// for a time: `deadline` (seconds) only keeps a broken test from hanging the suite.
public func waitUntil(
    _ what: @autoclosure () -> String, deadline: Double = 300, _ condition: @Sendable () -> Bool
) async throws {
    let start = ContinuousClock.now
    while !condition() {
        guard ContinuousClock.now - start < .seconds(deadline) else {
            throw WaitTimedOut(description: "\(what()) did not happen within \(deadline) s")
        }
        try await Task.sleep(for: .milliseconds(20))
    }
}

/// Waits until `count()` reaches `expected`, then until it has stayed the same for `quiet` seconds,
/// so that one too many shows as well.
public func waitUntilCount(
    reaches expected: Int, thenQuietFor quiet: Double = 1, deadline: Double = 300, _ count: @Sendable () -> Int
) async throws {
    try await waitUntil("\(expected) arrivals", deadline: deadline) { count() >= expected }
    var seen = count()
    while true {
        try await Task.sleep(for: .seconds(quiet))
        let now = count()
        if now == seen { return }
        seen = now
    }
}

/// A wait that reached its deadline.
public struct WaitTimedOut: Error, CustomStringConvertible {
    public let description: String
}
