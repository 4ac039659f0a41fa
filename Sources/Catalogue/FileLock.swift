import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An advisory lock on a file (`flock`), released when the lock is released or the process dies.
///
/// The kernel drops a dead process's locks, so a crash never leaves a store locked.
final class FileLock: @unchecked Sendable {
    let path: String
    private let fd: Int32

    init(path: String) throws(CatalogueError) {
        self.path = path
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw .store(path: path, reason: "cannot open lock file: \(String(cString: strerror(errno)))")
        }
    }

    deinit { close(fd) }

    /// Takes the lock exclusively; returns false at once if another process holds it.
    func tryLockExclusive() -> Bool { flock(fd, LOCK_EX | LOCK_NB) == 0 }

    /// Runs `body` holding the lock exclusively, waiting for it if needed.
    func withExclusive<T>(_ body: () throws -> T) rethrows -> T {
        while flock(fd, LOCK_EX) != 0 && errno == EINTR {}
        defer { flock(fd, LOCK_UN) }
        return try body()
    }
}
