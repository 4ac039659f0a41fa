import Foundation
import Synchronization

/// Runs a long CPU-bound loop on threads of its own.
///
/// `DispatchQueue.concurrentPerform` hands its iterations to libdispatch's global worker threads,
/// and on Linux those same threads run every Swift task of the process (the cooperative pool).
/// A loop that computes for seconds there (an index build, an evaluation) takes the pool for as
/// long, and the rest of the process waits: a server's requests, a download's reads, a health
/// check. Such loops start threads of their own instead, which costs tens of microseconds, nothing
/// beside work of that length. Short sections on a search's path use ``HelperThreads``, whose
/// threads are already started.
public enum WorkerThreads {
    /// The cores this process may use.
    public static var coreCount: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }

    /// Calls `body(i)` for every `i` in `0..<count` on `threads` threads, the caller's among them,
    /// each taking the next index as it finishes one; returns when every call has returned.
    public static func forEach(_ count: Int, threads: Int = coreCount, _ body: (Int) -> Void) {
        let workers = max(1, min(threads, count))
        if workers == 1 {
            for i in 0..<count { body(i) }
            return
        }
        withoutActuallyEscaping(body) { body in
            let loop = Loop(count: count, helpers: workers - 1, body: body)
            for _ in 1..<workers {
                Thread {
                    loop.run()
                    loop.helperFinished()
                }
                .start()
            }
            loop.run()
            loop.waitForHelpers()
            // The helpers' threads may outlive their last call for a moment, holding the loop; the
            // body must not outlive this call.
            loop.dropBody()
        }
    }

    /// The indices still to hand out, the body every thread calls, and the helpers still running.
    ///
    /// Unchecked `Sendable`: `body` is called from several threads at once, which is the caller's
    /// promise in ``forEach(_:threads:_:)``; the counter is atomic and `running` is guarded by
    /// `done`. The wait is a pthread condition, which ThreadSanitizer sees, so what the helpers
    /// wrote is seen as written before the caller goes on.
    private final class Loop: @unchecked Sendable {
        private let indices: SharedIndices
        private var body: ((Int) -> Void)?
        private let done = NSCondition()
        private var running: Int

        init(count: Int, helpers: Int, body: @escaping (Int) -> Void) {
            indices = SharedIndices(count)
            self.body = body
            running = helpers
        }

        func run() {
            if let body { indices.take(body) }
        }

        /// Called once every helper has finished.
        func dropBody() { body = nil }

        func helperFinished() {
            done.lock()
            running -= 1
            if running == 0 { done.signal() }
            done.unlock()
        }

        func waitForHelpers() {
            done.lock()
            while running > 0 { done.wait() }
            done.unlock()
        }
    }
}

/// The indices `0..<count`, handed out once each to the threads of a loop.
final class SharedIndices: Sendable {
    let count: Int
    private let next = Atomic<Int>(0)

    init(_ count: Int) { self.count = count }

    /// Calls `body` with the next index not yet handed out, until none are left.
    func take(_ body: (Int) -> Void) {
        while true {
            let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
            if i >= count { return }
            body(i)
        }
    }
}
