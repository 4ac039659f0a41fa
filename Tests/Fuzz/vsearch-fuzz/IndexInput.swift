import Foundation

@testable import VectorIndex

/// An index directory packed into one fuzz input:
///
/// ```
/// flags u8 (1: repair checksums, 2: verify sections, 4: has a write-ahead log), snapshot length u32 LE,
/// snapshot bytes, write-ahead log bytes
/// ```
///
/// Checksums would stop nearly every mutation at the first check, so with flag 1 the harness
/// recomputes them, as a writer would have, and the fuzzer reaches the structure behind them.
struct IndexInput {
    var flags: UInt8 = 0
    var snapshot: [UInt8] = []
    var log: [UInt8]?

    init(_ bytes: [UInt8]) {
        guard bytes.count >= 5 else { return }
        flags = bytes[0]
        let length = Int(bytes[1...4].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        let end = min(5 + length, bytes.count)
        snapshot = Array(bytes[5..<end])
        if flags & 4 != 0 { log = Array(bytes[end...]) }
        if flags & 1 != 0 {
            Self.repairSnapshot(&snapshot)
            if var repaired = log {
                Self.repairLog(&repaired)
                log = repaired
            }
        }
    }

    init(snapshot: [UInt8], log: [UInt8]?) {
        flags = 1 | (log == nil ? 0 : 4)
        self.snapshot = snapshot
        self.log = log
    }

    var bytes: [UInt8] {
        let length = UInt32(snapshot.count)
        return [flags] + (0..<4).map { UInt8(truncatingIfNeeded: length >> (8 * $0)) } + snapshot + (log ?? [])
    }

    /// A directory of this process's own (in memory where /dev/shm exists, so fsync costs nothing).
    static let directory: String = {
        let root = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let path = root + "/vsearch-fuzz-index-\(getpid())"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    func open() {
        let snapshotPath = Self.directory + "/" + IndexStore.snapshotName
        let logPath = Self.directory + "/" + IndexStore.logName
        try? FileManager.default.removeItem(atPath: logPath)
        FileManager.default.createFile(atPath: snapshotPath, contents: Data(snapshot))
        if let log { FileManager.default.createFile(atPath: logPath, contents: Data(log)) }
        guard let store = try? IndexStore.open(directory: Self.directory, verify: flags & 2 != 0, threads: 1) else {
            return
        }
        _ = try? store.index.search([Float](repeating: 0.5, count: store.index.dimension), k: 3)
    }

    static func repairSnapshot(_ file: inout [UInt8]) {
        let headerSize = IndexFile.headerSize
        let entrySize = IndexFile.tableEntrySize
        guard file.count >= headerSize else { return }
        let sections = min(Int(file.load(UInt32.self, at: 12)), IndexFile.maxSections)
        let tableEnd = headerSize + sections * entrySize
        guard tableEnd <= file.count else { return }
        for i in 0..<sections {
            let entry = headerSize + i * entrySize
            let offset = file.load(UInt64.self, at: entry + 8)
            let length = file.load(UInt64.self, at: entry + 16)
            guard offset <= UInt64(file.count), length <= UInt64(file.count) - offset else { continue }
            let checksum = file.withUnsafeBytes {
                Checksum.of(UnsafeRawBufferPointer(rebasing: $0[Int(offset)..<Int(offset + length)]))
            }
            file.store(checksum, at: entry + 24)
        }
        file.store(IndexFile.headerChecksum(Array(file[0..<headerSize]), Array(file[headerSize..<tableEnd])), at: 120)
    }

    static func repairLog(_ log: inout [UInt8]) {
        let headerSize = WriteAheadLog.headerSize
        guard log.count >= headerSize else { return }
        log.store(log.withUnsafeBytes { Checksum.of(UnsafeRawBufferPointer(rebasing: $0[0..<24])) }, at: 24)
        var offset = headerSize
        while offset + WriteAheadLog.recordHeaderSize <= log.count {
            let length = Int(log.load(UInt32.self, at: offset))
            let start = offset + WriteAheadLog.recordHeaderSize
            guard length <= log.count - start else { return }
            log.store(
                log.withUnsafeBytes { Checksum.of(UnsafeRawBufferPointer(rebasing: $0[start..<(start + length)])) },
                at: offset + 8)
            offset = start + length
        }
    }
}
