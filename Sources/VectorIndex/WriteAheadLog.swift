#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An append-only log of adds and removes made since the last snapshot.
///
/// ```
/// header (32 bytes): magic "VSWAL\0\0\0", version u32, dimension u32, generation u64, checksum u64
/// record:            payload length u32, reserved u32, payload checksum u64,
///                    payload = op u8 (1 add, 2 remove), id u64, [dimension × f32 for add]
/// ```
///
/// A batch is one `write` followed by `fsync`; once `append` returns, the
/// batch survives a crash. On open, records are replayed up to the first
/// one that is incomplete or fails its checksum (a write torn by a crash),
/// and the log is cut back to that point.
final class WriteAheadLog {
    enum Operation: Equatable {
        case add(id: UInt64, vector: [Float])
        case remove(id: UInt64)
    }

    static let magic: [UInt8] = Array("VSWAL\0\0\0".utf8)
    static let headerSize = 32
    static let recordHeaderSize = 16

    let path: String
    let dimension: Int
    let generation: UInt64
    private let fd: Int32

    private init(path: String, dimension: Int, generation: UInt64, fd: Int32) {
        self.path = path
        self.dimension = dimension
        self.generation = generation
        self.fd = fd
    }

    deinit { close(fd) }

    /// Replaces any log at `path` with an empty one, atomically.
    static func create(path: String, dimension: Int, generation: UInt64) throws(IndexError) -> WriteAheadLog {
        var header = [UInt8](repeating: 0, count: headerSize)
        header.replaceSubrange(0..<8, with: magic)
        header.store(UInt32(1), at: 8)
        header.store(UInt32(dimension), at: 12)
        header.store(generation, at: 16)
        header.store(header.withUnsafeBytes { Checksum.of(UnsafeRawBufferPointer(rebasing: $0[0..<24])) }, at: 24)
        try AtomicFile.write(path: path) { (file: FileWriter) throws(IndexError) in try file.write(header) }
        let fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard fd >= 0 else { throw .io(path: path, operation: "open", errno: errno) }
        return WriteAheadLog(path: path, dimension: dimension, generation: generation, fd: fd)
    }

    /// Reads the log's committed operations and opens it for appending after them.
    static func open(path: String, dimension: Int) throws(IndexError) -> (WriteAheadLog, [Operation]) {
        let file = try MappedFile(path: path)
        let bytes = file.bytes
        guard bytes.count >= headerSize, Array(bytes[0..<8]) == magic else {
            throw .corrupt(path: path, reason: "not a vsearch write-ahead log (bad or truncated header)")
        }
        let head = Array(bytes[0..<headerSize])
        let expected = head.withUnsafeBytes { Checksum.of(UnsafeRawBufferPointer(rebasing: $0[0..<24])) }
        guard head.load(UInt64.self, at: 24) == expected else {
            throw .corrupt(path: path, reason: "write-ahead log header checksum mismatch")
        }
        guard head.load(UInt32.self, at: 8) == 1 else {
            throw .unsupportedVersion(path: path, version: head.load(UInt32.self, at: 8))
        }
        guard Int(head.load(UInt32.self, at: 12)) == dimension else {
            throw .corrupt(path: path, reason: "write-ahead log dimension differs from the index's")
        }
        let generation = head.load(UInt64.self, at: 16)
        var operations: [Operation] = []
        var offset = headerSize
        let addLength = 9 + 4 * dimension
        while offset + recordHeaderSize <= bytes.count {
            let length = Int(bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
            let checksum = bytes.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self)
            guard length == 9 || length == addLength, offset + recordHeaderSize + length <= bytes.count else { break }
            let payload = UnsafeRawBufferPointer(
                rebasing: bytes[(offset + recordHeaderSize)..<(offset + recordHeaderSize + length)])
            guard Checksum.of(payload) == checksum else { break }
            let op = payload[0]
            let id = payload.loadUnaligned(fromByteOffset: 1, as: UInt64.self)
            if op == 1, length == addLength {
                let vector = (0..<dimension).map { payload.loadUnaligned(fromByteOffset: 9 + 4 * $0, as: Float.self) }
                operations.append(.add(id: id, vector: vector))
            } else if op == 2, length == 9 {
                operations.append(.remove(id: id))
            } else {
                break
            }
            offset += recordHeaderSize + length
        }
        let fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard fd >= 0 else { throw .io(path: path, operation: "open", errno: errno) }
        if offset < bytes.count {
            // A torn tail from a crash: drop it so new records follow the last good one.
            guard ftruncate(fd, off_t(offset)) == 0, fsync(fd) == 0 else {
                let code = errno
                close(fd)
                throw .io(path: path, operation: "truncate torn tail", errno: code)
            }
        }
        return (WriteAheadLog(path: path, dimension: dimension, generation: generation, fd: fd), operations)
    }

    /// Appends the operations durably (one write, one fsync).
    func append(_ operations: [Operation]) throws(IndexError) {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(operations.count * (Self.recordHeaderSize + 9 + 4 * dimension))
        for operation in operations {
            var payload: [UInt8]
            switch operation {
            case .add(let id, let vector):
                payload = [1] + withUnsafeBytes(of: id.littleEndian) { Array($0) }
                vector.withUnsafeBytes { payload.append(contentsOf: $0) }
            case .remove(let id):
                payload = [2] + withUnsafeBytes(of: id.littleEndian) { Array($0) }
            }
            var header = [UInt8](repeating: 0, count: Self.recordHeaderSize)
            header.store(UInt32(payload.count), at: 0)
            header.store(payload.withUnsafeBytes { Checksum.of($0) }, at: 8)
            buffer += header
            buffer += payload
        }
        let writer = FileWriter(path: path, fd: fd)
        let end = lseek(fd, 0, SEEK_END)
        do throws(IndexError) {
            try writer.write(buffer)
            try writer.sync()
        } catch {
            // Cut a partly written batch off (a full disk, say) so later batches follow the last good record.
            if end >= 0 { _ = ftruncate(fd, end) }
            throw error
        }
    }
}
