import CThreadPlacement
import Foundation
import Synchronization

/// Threads that share a search's short parallel sections with the thread that searches.
///
/// A search splits a few short pieces of work (an index scan, the check of its candidates) among the
/// cores: a fraction of a millisecond each. `DispatchQueue.concurrentPerform` woke a libdispatch
/// worker for that, and in a server, where searches come one at a time, Linux started the woken
/// worker on the searching thread's own CPU, where it preempted the searching thread while the other
/// CPU stayed idle; the search then waited for the worker (Round 17 and 18 of `docs/retrieval.md`).
/// These helpers sleep until a section starts, are woken on a CPU other than the caller's, and join
/// only if they start before the caller has run out of work: a section never waits for a helper that
/// has not started, only for the item a joined one is computing.
///
/// One section runs on the helpers at a time; a section that starts while they are taken (a second
/// search at the same moment, or a section inside a section) runs on its caller's thread alone, as
/// the other cores are busy anyway.
public final class HelperThreads: Sendable {
    /// The process's helpers, one fewer than its cores; started on first use.
    public static let shared = HelperThreads(count: WorkerThreads.coreCount - 1)

    private let helpers: [Helper]
    private let taken = Atomic<Bool>(false)

    /// Starts `count` helper threads, which live as long as the process.
    public init(count: Int) {
        helpers = (0..<max(0, count)).map { _ in Helper() }
    }

    /// Calls `body(i)` for every `i` in `0..<count`, on the caller's thread and on the helpers that
    /// start in time, at most `threads` threads in all, each taking the next index as it finishes one;
    /// returns when every call has returned.
    public func forEach(_ count: Int, threads: Int = .max, _ body: (Int) -> Void) {
        let wanted = min(helpers.count, count - 1, threads - 1)
        guard wanted > 0, taken.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
        else {
            for i in 0..<count { body(i) }
            return
        }
        defer { taken.store(false, ordering: .releasing) }
        withoutActuallyEscaping(body) { body in
            let section = Section(count: count, body: body)
            let cpu = vs_current_cpu()
            for helper in helpers.prefix(wanted) { helper.start(section, awayFrom: cpu) }
            section.run()
            section.close()
        }
    }
}

/// One parallel section: the indices still to hand out, and the helpers that joined it.
///
/// Unchecked `Sendable`: `body` is called from several threads at once, the caller's promise in
/// ``HelperThreads/forEach(_:threads:_:)``; a helper reads it only after joining, and the caller
/// drops it only after every helper that joined has left.
private final class Section: @unchecked Sendable {
    private let indices: SharedIndices
    private var body: ((Int) -> Void)?
    /// The helpers inside the section, plus ``closed`` once the caller has run out of work.
    private let state = Atomic<Int>(0)
    private let left = NSCondition()
    private static let closed = 1 << 32

    init(count: Int, body: @escaping (Int) -> Void) {
        indices = SharedIndices(count)
        self.body = body
    }

    /// Takes indices until none are left.
    func run() {
        if let body { indices.take(body) }
    }

    /// Whether a helper may run the section: not once its caller has closed it.
    func join() -> Bool {
        var seen = state.load(ordering: .acquiring)
        while seen < Self.closed {
            let (exchanged, now) = state.compareExchange(
                expected: seen, desired: seen + 1, ordering: .acquiringAndReleasing)
            if exchanged { return true }
            seen = now
        }
        return false
    }

    /// A joined helper is done with the section.
    func leave() {
        let now = state.wrappingSubtract(1, ordering: .acquiringAndReleasing).newValue
        if now == Self.closed {
            left.lock()
            left.signal()
            left.unlock()
        }
    }

    /// Called by the caller after its own ``run()``: no helper joins from now on, and the call returns
    /// once every helper that joined has left; then the body is dropped, as it must not outlive the
    /// caller's `forEach`.
    func close() {
        let before = state.wrappingAdd(Self.closed, ordering: .acquiringAndReleasing).oldValue
        // A joined helper is computing one item, about as long as one of the caller's: waiting for it
        // in a short loop saves the two thread switches of sleeping.
        if before > 0, !Spin.until({ self.state.load(ordering: .acquiring) == Self.closed }) {
            left.lock()
            while state.load(ordering: .acquiring) != Self.closed { left.wait() }
            left.unlock()
        }
        body = nil
    }
}

/// A helper thread: it sleeps until it is handed a section, then joins it if it is still open.
///
/// Unchecked `Sendable`: `pending` is guarded by `wake` (`handed` only says whether to take it); `thread` is written once before `init`
/// returns; `awayFrom` is used only by the section's caller, one at a time (``HelperThreads``'s
/// `taken`).
private final class Helper: @unchecked Sendable {
    private let wake = NSCondition()
    private var pending: Section?
    /// Whether `pending` holds a section, readable without the lock by a helper that waits awake.
    private let handed = Atomic<Bool>(false)
    private var thread = pthread_t()
    private var awayFrom: Int32 = -1

    init() {
        let started = DispatchSemaphore(value: 0)
        let helper = Thread { [self] in
            thread = pthread_self()
            started.signal()
            serve()
        }
        helper.name = "vsearch-helper"
        helper.start()
        started.wait()
    }

    /// Hands the helper `section`, first keeping it off `cpu` (the caller's) so that it does not start
    /// there and preempt the caller.
    func start(_ section: Section, awayFrom cpu: Int32) {
        if cpu >= 0, cpu != awayFrom, vs_keep_thread_off_cpu(thread, cpu) == 0 { awayFrom = cpu }
        wake.lock()
        pending = section
        handed.store(true, ordering: .releasing)
        wake.signal()
        wake.unlock()
    }

    private func serve() -> Never {
        while true {
            // A search's sections follow one another a fraction of a millisecond apart: a helper that
            // waits that long awake needs no waking, nor placing, for the next one.
            _ = Spin.until { self.handed.load(ordering: .acquiring) }
            wake.lock()
            while pending == nil { wake.wait() }
            let section = pending!
            pending = nil
            handed.store(false, ordering: .relaxed)
            wake.unlock()
            if section.join() {
                section.run()
                section.leave()
            }
        }
    }
}

/// Waiting awake for a moment, for another thread that is running.
private enum Spin {
    /// How long a thread waits awake before it sleeps.
    static let limit: UInt64 = 200_000

    /// Whether `done` became true within ``limit`` nanoseconds.
    static func until(_ done: () -> Bool) -> Bool {
        let deadline = DispatchTime.now().uptimeNanoseconds + limit
        repeat {
            if done() { return true }
            for _ in 0..<32 { vs_spin_pause() }
        } while DispatchTime.now().uptimeNanoseconds < deadline
        return done()
    }
}
