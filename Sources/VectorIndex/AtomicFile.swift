#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes bytes to a file descriptor, all of them, reporting failures with the path.
final class FileWriter {
    let path: String
    let fd: Int32
    private(set) var position: UInt64 = 0

    init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(IndexError) {
        guard var pointer = bytes.baseAddress else { return }
        var remaining = bytes.count
        while remaining > 0 {
            let n = Glibc.write(fd, pointer, min(remaining, 1 << 30))
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(path: path, operation: "write", errno: errno)
            }
            pointer += n
            remaining -= n
            position += UInt64(n)
        }
    }

    func write(_ array: [UInt8]) throws(IndexError) {
        var failure: IndexError?
        array.withUnsafeBytes { bytes in
            do throws(IndexError) { try write(bytes) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Writes zeros up to `offset`.
    func pad(to offset: UInt64) throws(IndexError) {
        guard offset > position else { return }
        try write([UInt8](repeating: 0, count: Int(offset - position)))
    }

    func sync() throws(IndexError) {
        guard fsync(fd) == 0 else { throw .io(path: path, operation: "fsync", errno: errno) }
    }
}

/// Replaces a file so that a crash leaves either the old or the new contents, never a mix.
enum AtomicFile {
    static func write(path: String, _ body: (FileWriter) throws(IndexError) -> Void) throws(IndexError) {
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io(path: temporary, operation: "create", errno: errno) }
        let writer = FileWriter(path: temporary, fd: fd)
        do throws(IndexError) {
            try body(writer)
            try writer.sync()
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        close(fd)
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw .io(path: path, operation: "rename", errno: code)
        }
        try syncDirectory(of: path)
    }

    /// Makes a rename or a new file's directory entry durable.
    static func syncDirectory(of path: String) throws(IndexError) {
        let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        let fd = open(directory.isEmpty ? "/" : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(path: directory, operation: "open directory", errno: errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw .io(path: directory, operation: "fsync directory", errno: errno) }
    }
}
