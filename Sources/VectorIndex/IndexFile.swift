#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The on-disk snapshot format (`index.vsi`).
///
/// ```
/// offset  size  field
/// 0       8     magic "VSINDEX\0"
/// 8       4     format version (1), little-endian like every field
/// 12      4     section count (≤ 64)
/// 16      4     kind (0 flat, 1 HNSW)      20  4  metric (0 ip, 1 cosine, 2 l2)
/// 24      4     storage (0 f32, 1 f16, 2 i8) 28  4  reserved
/// 32      8     dimension                  40  8  item count
/// 48      8     generation (pairs the snapshot with its write-ahead log)
/// 56      64    eight kind-specific parameters (HNSW: M, efConstruction, entry point, top level, ...)
/// 120     8     checksum of bytes 0..<120 and the section table
/// 128     32·n  section table: tag u32, reserved u32, offset u64, length u64, checksum u64
/// ...           sections, each starting on a 64-byte boundary
/// ```
///
/// Every offset and length is checked against the file size with
/// overflow-checked arithmetic before it is used, and each section's
/// length against what the header implies, so a damaged file is reported
/// as such, never trusted.
enum IndexFile {
    static let magic: [UInt8] = Array("VSINDEX\0".utf8)
    static let version: UInt32 = 1
    static let headerSize = 128
    static let tableEntrySize = 32
    static let maxSections = 64
    static let alignment = 64

    enum Tag: UInt32 {
        case ids = 1
        case vectors = 2
        case norms = 3
        case codes = 4
        case codeMinimum = 5
        case codeScale = 6
        case codeNorms = 7
        case levels = 10
        case baseLinks = 11
        case upperOffsets = 12
        case upperLinks = 13
        case deleted = 14
    }

    struct Header: Equatable {
        var kind: UInt32
        var metric: UInt32
        var storage: UInt32
        var dimension: UInt64
        var count: UInt64
        var generation: UInt64
        var parameters: [UInt64] = Array(repeating: 0, count: 8)
    }

    /// A section's bytes, borrowed (valid during the write) or owned.
    struct Section {
        var tag: Tag
        var bytes: UnsafeRawBufferPointer
        var owner: AnyObject?

        init(_ tag: Tag, _ bytes: UnsafeRawBufferPointer) {
            self.tag = tag
            self.bytes = bytes
        }

        init<T: BitwiseCopyable>(_ tag: Tag, array: [T]) {
            let box = ByteBox(array)
            self.tag = tag
            self.bytes = box.buffer
            self.owner = box
        }
    }

    /// Writes a snapshot to `path` atomically: a temporary file, fsync, rename, fsync of the directory.
    static func write(path: String, header: Header, sections: [Section]) throws(IndexError) {
        guard sections.count <= maxSections else { throw .invalidArgument("too many sections") }
        var table = [UInt8](repeating: 0, count: sections.count * tableEntrySize)
        var offset = UInt64(headerSize + table.count)
        var offsets: [UInt64] = []
        for (i, section) in sections.enumerated() {
            offset = (offset + UInt64(alignment) - 1) / UInt64(alignment) * UInt64(alignment)
            offsets.append(offset)
            let entry = i * tableEntrySize
            table.store(UInt32(section.tag.rawValue), at: entry)
            table.store(offset, at: entry + 8)
            table.store(UInt64(section.bytes.count), at: entry + 16)
            table.store(Checksum.of(section.bytes), at: entry + 24)
            offset += UInt64(section.bytes.count)
        }
        var head = [UInt8](repeating: 0, count: headerSize)
        head.replaceSubrange(0..<8, with: magic)
        head.store(version, at: 8)
        head.store(UInt32(sections.count), at: 12)
        head.store(header.kind, at: 16)
        head.store(header.metric, at: 20)
        head.store(header.storage, at: 24)
        head.store(header.dimension, at: 32)
        head.store(header.count, at: 40)
        head.store(header.generation, at: 48)
        for (i, p) in header.parameters.prefix(8).enumerated() { head.store(p, at: 56 + 8 * i) }
        head.store(headerChecksum(head, table), at: 120)

        try AtomicFile.write(path: path) { (file: FileWriter) throws(IndexError) in
            try file.write(head)
            try file.write(table)
            for (i, section) in sections.enumerated() {
                try file.pad(to: offsets[i])
                try file.write(section.bytes)
            }
        }
    }

    static func headerChecksum(_ head: [UInt8], _ table: [UInt8]) -> UInt64 {
        let combined = Array(head[0..<120]) + table
        return combined.withUnsafeBytes { Checksum.of($0) }
    }

    /// A snapshot opened by memory-mapping, with its header and table checked.
    struct Reader {
        let file: MappedFile
        let header: Header
        private let sections: [UInt32: (offset: UInt64, length: UInt64, checksum: UInt64)]

        var path: String { file.path }

        /// Opens and checks the header; with `verify`, every section's checksum too.
        init(path: String, verify: Bool) throws(IndexError) {
            file = try MappedFile(path: path)
            let bytes = file.bytes
            guard bytes.count >= headerSize else {
                throw .corrupt(path: path, reason: "\(bytes.count) bytes is shorter than the \(headerSize)-byte header")
            }
            guard Array(bytes[0..<8]) == magic else {
                throw .corrupt(path: path, reason: "no VSINDEX magic number; not a vsearch index")
            }
            let version = bytes.load(fromByteOffset: 8, as: UInt32.self)
            guard version <= IndexFile.version else { throw .unsupportedVersion(path: path, version: version) }
            guard version >= 1 else { throw .corrupt(path: path, reason: "format version 0") }
            let sectionCount = Int(bytes.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
            guard sectionCount <= maxSections else {
                throw .corrupt(path: path, reason: "section count \(sectionCount) exceeds \(maxSections)")
            }
            let tableEnd = headerSize + sectionCount * tableEntrySize
            guard tableEnd <= bytes.count else {
                throw .corrupt(path: path, reason: "section table runs past the end of the file (truncated?)")
            }
            let head = Array(bytes[0..<headerSize])
            let table = Array(bytes[headerSize..<tableEnd])
            guard headerChecksum(head, table) == head.load(UInt64.self, at: 120) else {
                throw .corrupt(path: path, reason: "header checksum mismatch")
            }
            var parameters: [UInt64] = []
            for i in 0..<8 { parameters.append(head.load(UInt64.self, at: 56 + 8 * i)) }
            header = Header(
                kind: head.load(UInt32.self, at: 16), metric: head.load(UInt32.self, at: 20),
                storage: head.load(UInt32.self, at: 24), dimension: head.load(UInt64.self, at: 32),
                count: head.load(UInt64.self, at: 40), generation: head.load(UInt64.self, at: 48),
                parameters: parameters)
            var found: [UInt32: (offset: UInt64, length: UInt64, checksum: UInt64)] = [:]
            for i in 0..<sectionCount {
                let entry = i * tableEntrySize
                let tag = table.load(UInt32.self, at: entry)
                let offset = table.load(UInt64.self, at: entry + 8)
                let length = table.load(UInt64.self, at: entry + 16)
                let checksum = table.load(UInt64.self, at: entry + 24)
                let region = try file.slice(offset: offset, length: length, what: "section \(tag)")
                if verify, Checksum.of(region) != checksum {
                    throw .corrupt(path: path, reason: "section \(tag) checksum mismatch")
                }
                found[tag] = (offset, length, checksum)
            }
            sections = found
        }

        func has(_ tag: Tag) -> Bool { sections[tag.rawValue] != nil }

        /// The section's bytes, checked to hold exactly `count` elements of `T`.
        func section<T>(_ tag: Tag, count: UInt64, of type: T.Type) throws(IndexError) -> UnsafeRawBufferPointer {
            guard let entry = sections[tag.rawValue] else {
                throw .corrupt(path: path, reason: "missing section \(tag)")
            }
            let (expected, overflow) = count.multipliedReportingOverflow(by: UInt64(MemoryLayout<T>.stride))
            guard !overflow, expected == entry.length else {
                throw .corrupt(
                    path: path, reason: "section \(tag) has \(entry.length) bytes, expected \(count) × \(T.self)")
            }
            return try file.slice(offset: entry.offset, length: entry.length, what: "section \(tag)")
        }

        /// The section's bytes whatever their length.
        func section(_ tag: Tag) throws(IndexError) -> UnsafeRawBufferPointer {
            guard let entry = sections[tag.rawValue] else {
                throw .corrupt(path: path, reason: "missing section \(tag)")
            }
            return try file.slice(offset: entry.offset, length: entry.length, what: "section \(tag)")
        }

        func array<T: BitwiseCopyable>(_ tag: Tag, count: UInt64, of type: T.Type) throws(IndexError) -> [T] {
            let bytes = try section(tag, count: count, of: type)
            return Array(bytes.bindMemory(to: T.self))
        }
    }
}

/// Owns a copy of an array's bytes for a section.
final class ByteBox {
    private let storage: UnsafeMutableRawBufferPointer
    private let length: Int
    var buffer: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: storage[0..<length]) }

    init<T: BitwiseCopyable>(_ array: [T]) {
        length = array.count * MemoryLayout<T>.stride
        storage = .allocate(byteCount: max(length, 1), alignment: 64)
        array.withUnsafeBytes { storage.copyMemory(from: $0) }
    }

    deinit { storage.deallocate() }
}

extension [UInt8] {
    mutating func store<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        withUnsafeMutableBytes { $0.storeBytes(of: value.littleEndian, toByteOffset: offset, as: T.self) }
    }

    func load<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T {
        withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
    }
}
