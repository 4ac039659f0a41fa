import Dispatch
import Testing
import VSearchCore

/// Runs each test of a suite, and every task it starts, on a thread of its own instead of Swift's
/// cooperative pool, at most as many such tests at once as the machine has cores.
///
/// The cooperative pool has one thread per core, two on the CI machine, and when the suite runs in
/// one process every test shares it. A test that computes for seconds without suspending (decoding
/// or featurizing photos, building an index) holds one of those threads the whole time; two such
/// tests stop every other test's async work, so a server under test answers late and a download
/// times out. Suites that compute put themselves off the pool with this trait. They take turns,
/// one per core, so that the pool's threads still get their share of the cores: with every
/// computing test running at once, sixty threads shared two cores and the pool waited seconds for
/// a turn all the same. ``PoolWatchdog`` measures how long the pool waits.
public struct OffThePool: SuiteTrait, TestTrait, TestScoping {
    public var isRecursive: Bool { true }

    /// Only a test case gets a scope (every test has at least one case), so a test never waits for
    /// a turn inside another scope of its own.
    public func scopeProvider(for test: Test, testCase: Test.Case?) -> Self? {
        test.isSuite || testCase == nil ? nil : self
    }

    public func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        await Self.turns.acquire()
        defer { Self.turns.release() }
        try await withTaskExecutorPreference(QueueExecutor(label: "vsearch.test." + test.name)) {
            try await function()
        }
    }

    private static let turns = AsyncSemaphore(permits: WorkerThreads.coreCount)
}

extension Trait where Self == OffThePool {
    /// Runs the suite's tests on threads of their own rather than the cooperative pool.
    public static var offThePool: Self { OffThePool() }
}

/// A task executor that runs its jobs one at a time on a serial dispatch queue, which libdispatch
/// backs with a thread of its own whenever the queue has work.
public final class QueueExecutor: TaskExecutor {
    private let queue: DispatchQueue

    public init(label: String) { queue = DispatchQueue(label: label) }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
