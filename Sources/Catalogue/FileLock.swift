import Foundation
import VSearchCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An advisory lock on a file (`flock`), released when the lock is released or the process dies.
///
/// The kernel drops a dead process's locks, so a crash never leaves a store locked.
///
/// `flock` belongs to the open file description, not to a thread: two threads locking the same
/// descriptor both "get" it, and the first to unlock releases it for both. So the lock is taken
/// in two stages, first a mutex among this process's threads, then `flock` against other
/// processes, and released in the opposite order.
final class FileLock: Sendable {
    let path: String
    /// The lock file's descriptor, open from `init` to `deinit`; only `flock` is called on it.
    private let fd: Int32
    /// This process's holder of the lock; `flock` cannot tell two of our threads apart.
    /// How many times the lock was taken; a counter rather than `()`, because ThreadSanitizer
    /// tracks accesses by address and a zero-size value shares its address with the next object.
    private let holder = Locked(0)

    init(path: String) throws(CatalogueError) {
        self.path = path
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw .store(path: path, reason: "cannot open lock file: \(String(cString: strerror(errno)))")
        }
    }

    /// Unlocks before closing: `flock` belongs to the open file description, which a child process
    /// shares between its fork and its exec (another thread spawning a process), so closing alone
    /// could leave the lock held until that child execs; an explicit unlock releases it at once.
    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }

    /// Takes the lock exclusively for as long as this object lives; returns false at once if
    /// another process (or another `FileLock` on the same file) holds it.
    ///
    /// For the store's writer lock, taken once by `open`; the process's tasks then share the store.
    func tryLockExclusive() -> Bool {
        while true {
            if flock(fd, LOCK_EX | LOCK_NB) == 0 { return true }
            if errno != EINTR { return false }
        }
    }

    /// Releases a lock taken with ``tryLockExclusive()``.
    func unlock() {
        while flock(fd, LOCK_UN) != 0 && errno == EINTR {}
    }

    /// Runs `body` holding the lock exclusively against this process's other threads and other
    /// processes, waiting for it if needed.
    func withExclusive<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        try holder.withLock { taken throws(E) -> T in
            taken += 1
            while flock(fd, LOCK_EX) != 0 && errno == EINTR {}
            defer { flock(fd, LOCK_UN) }
            return try body()
        }
    }
}
