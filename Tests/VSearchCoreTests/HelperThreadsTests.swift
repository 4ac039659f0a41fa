import CThreadPlacement
import Foundation
import Testing
import VSearchCore

/// Each test has helpers of its own, so that other suites' searches, which share
/// `HelperThreads.shared`, cannot take them.
@Suite struct HelperThreadsTests {
    /// How many times each index was called, and by which threads.
    private final class Calls: Sendable {
        let counts: Locked<[Int]>
        let threads = Locked<Set<pthread_t>>([])

        init(_ count: Int) { counts = Locked([Int](repeating: 0, count: count)) }

        func record(_ i: Int) {
            counts.withLock { $0[i] += 1 }
            threads.withLock { _ = $0.insert(pthread_self()) }
        }

        var eachOnce: Bool { counts.withLock { $0.allSatisfy { $0 == 1 } } }
    }

    @Test func everyIndexIsCalledOnce() {
        let helpers = HelperThreads(count: 3)
        for count in [0, 1, 2, 3, 17, 10_000] {
            let calls = Calls(count)
            helpers.forEach(count) { calls.record($0) }
            #expect(calls.eachOnce, "\(count) indices")
        }
    }

    /// The first two indices each wait until two threads are inside the section, so the section can only
    /// finish if a helper joins; the wait's timeout turns a helper that never comes into a failure.
    @Test func aHelperSharesTheWork() {
        let helpers = HelperThreads(count: 1)
        let calls = Calls(8)
        let inside = Locked<Set<pthread_t>>([])
        let deadline = Date(timeIntervalSinceNow: 30)
        helpers.forEach(8) { i in
            calls.record(i)
            guard i < 2 else { return }
            inside.withLock { _ = $0.insert(pthread_self()) }
            while inside.withLock({ $0.count }) < 2, Date() < deadline { usleep(100) }
        }
        #expect(calls.eachOnce)
        #expect(inside.withLock { $0.count } == 2)
    }

    @Test func oneThreadMeansTheCallerAlone() {
        let helpers = HelperThreads(count: 2)
        let calls = Calls(500)
        helpers.forEach(500, threads: 1) { calls.record($0) }
        #expect(calls.eachOnce)
        #expect(calls.threads.withLock { $0 } == [pthread_self()])
    }

    /// A section inside a section finds the helpers taken and runs on its caller's thread, instead of
    /// waiting for helpers that are waiting for it.
    @Test func aSectionInsideASectionRunsAlone() {
        let helpers = HelperThreads(count: 1)
        let outer = Calls(4)
        let inner = (0..<4).map { _ in Calls(50) }
        helpers.forEach(4) { i in
            outer.record(i)
            let caller = pthread_self()
            helpers.forEach(50) { j in
                inner[i].record(j)
                #expect(pthread_self() == caller)
            }
        }
        #expect(outer.eachOnce)
        #expect(inner.allSatisfy { $0.eachOnce })
    }

    /// Sections started at once from several threads each run every index once, whichever of them gets
    /// the helpers.
    @Test func sectionsFromManyThreadsAtOnce() {
        let helpers = HelperThreads(count: 2)
        let sections = (0..<64).map { _ in Calls(300) }
        WorkerThreads.forEach(sections.count, threads: 4) { s in
            helpers.forEach(300) { sections[s].record($0) }
        }
        #expect(sections.allSatisfy { $0.eachOnce })
    }

    /// What keeps a woken helper from preempting the searching thread: once kept off a CPU, a thread
    /// does not run there.
    @Test(.enabled(if: WorkerThreads.coreCount > 1)) func aThreadKeptOffACPUDoesNotRunThere() throws {
        let found = Locked<[Int32]>([])
        let done = DispatchSemaphore(value: 0)
        Thread {
            let cpu = vs_current_cpu()
            let kept = vs_keep_thread_off_cpu(pthread_self(), cpu)
            var seen: [Int32] = [cpu, Int32(kept)]
            for _ in 0..<200 {
                sched_yield()
                seen.append(vs_current_cpu())
            }
            found.withLock { $0 = seen }
            done.signal()
        }
        .start()
        done.wait()
        let seen = found.withLock { $0 }
        try #require(seen.count == 202)
        #expect(seen[0] >= 0)
        #expect(seen[1] == 0)
        #expect(!seen.dropFirst(2).contains(seen[0]))
    }
}
