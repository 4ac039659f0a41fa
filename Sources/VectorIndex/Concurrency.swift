import CDNNL
import Foundation
import Synchronization
import VSearchCore

/// Runs a search's short parallel sections on ``HelperThreads``.
enum Parallel {
    /// Calls `body(part, range)` for `parts` contiguous slices of `0..<total`, concurrently.
    static func split(_ total: Int, parts: Int, _ body: (Int, Range<Int>) -> Void) {
        let parts = max(1, min(parts, total))
        HelperThreads.shared.forEach(parts) { part in
            body(part, total * part / parts..<total * (part + 1) / parts)
        }
    }

    /// Calls `body(i)` for every `i` in `0..<count`, handing indices out dynamically to `threads` workers.
    static func forEach(_ count: Int, threads: Int, _ body: (Int) -> Void) {
        HelperThreads.shared.forEach(count, threads: threads, body)
    }
}

/// A counter shared between threads.
final class AtomicCounter: Sendable {
    private let value: Atomic<Int>

    init(_ start: Int = 0) { value = Atomic(start) }

    /// Returns the value before adding one.
    func increment() -> Int { value.wrappingAdd(1, ordering: .relaxed).oldValue }
}

/// Many readers or one writer.
// @unchecked: a pthread_rwlock_t, itself the guard. (Mutex has no shared mode; searches need one.)
final class ReadWriteLock: @unchecked Sendable {
    private let lock = UnsafeMutablePointer<pthread_rwlock_t>.allocate(capacity: 1)

    init() { pthread_rwlock_init(lock, nil) }

    deinit {
        pthread_rwlock_destroy(lock)
        lock.deallocate()
    }

    func read<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        pthread_rwlock_rdlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }

    func write<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        pthread_rwlock_wrlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }
}

/// One mutex per graph node, allocated together.
// @unchecked: an array of pthread mutexes, one per graph node; grown only under the index's write lock.
final class NodeLocks: @unchecked Sendable {
    private(set) var locks: UnsafeMutablePointer<pthread_mutex_t>
    private(set) var capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 1)
        locks = .allocate(capacity: self.capacity)
        for i in 0..<self.capacity { pthread_mutex_init(locks + i, nil) }
    }

    deinit {
        for i in 0..<capacity { pthread_mutex_destroy(locks + i) }
        locks.deallocate()
    }

    /// Grows the array; only while no other thread holds or takes a lock.
    func grow(to newCapacity: Int) {
        guard newCapacity > capacity else { return }
        let fresh = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: newCapacity)
        for i in 0..<newCapacity { pthread_mutex_init(fresh + i, nil) }
        for i in 0..<capacity { pthread_mutex_destroy(locks + i) }
        locks.deallocate()
        locks = fresh
        capacity = newCapacity
    }

    @inline(__always) func lock(_ node: Int) { pthread_mutex_lock(locks + node) }
    @inline(__always) func unlock(_ node: Int) { pthread_mutex_unlock(locks + node) }
}

/// Matrix products through oneDNN, the library the CNN runtime uses.
enum GEMM {
    private typealias SetThreads = @convention(c) (Int32) -> Void

    /// `omp_set_num_threads`, looked up in the OpenMP runtime oneDNN links; nil if absent.
    private static let setOpenMPThreads: SetThreads? = {
        guard let symbol = dlsym(nil, "omp_set_num_threads") else { return nil }
        return unsafeBitCast(symbol, to: SetThreads.self)
    }()

    /// Limits oneDNN's OpenMP threads for calls made from the current thread.
    static func limitThreads(_ n: Int) {
        setOpenMPThreads?(Int32(max(1, n)))
    }

    /// `out[q][r] = Σ queries[q][i] · rows[r][i]` over `i < length`, row-major, `out` is `nq × nr`.
    ///
    /// Query `q` starts `q · stride` floats after `queries`, row `r` at `r · stride` after `rows`,
    /// so a product can cover a slice of longer vectors (`length` < `stride`).
    static func innerProducts(
        queries: UnsafePointer<Float>, nq: Int, rows: UnsafePointer<Float>, nr: Int, length: Int, stride: Int,
        out: UnsafeMutablePointer<Float>
    ) {
        _ = dnnl_sgemm(
            CChar(UInt8(ascii: "N")), CChar(UInt8(ascii: "T")), Int64(nq), Int64(nr), Int64(length), 1,
            queries, Int64(stride), rows, Int64(stride), 0, out, Int64(nr))
    }
}
