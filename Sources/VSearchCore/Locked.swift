#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A value shared between threads and tasks, guarded by a mutex: the package's one lock primitive.
///
/// It is a `pthread_mutex_t` rather than `Synchronization.Mutex` because ThreadSanitizer sees
/// pthread locks: `Mutex` locks with atomics and futexes inside the standard library, which is
/// not instrumented, so every access it guards reads to TSan as a race (CI runs the concurrency
/// suites under TSan; still so with Swift 6.3: four tasks incrementing a `Mutex<Int>` read as a
/// race, the same loop on this type does not). Foundation's `NSLock` is not used either, so that
/// there is one way to guard shared state. Never call `withLock` on the same value from inside its
/// own body.
// @unchecked: the mutex is the guard; `value` is only touched inside `withLock`.
public final class Locked<Value>: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var value: Value

    public init(_ value: Value) {
        self.value = value
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with the value, holding the mutex.
    @discardableResult
    public func withLock<T, E: Error>(_ body: (inout Value) throws(E) -> T) throws(E) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
