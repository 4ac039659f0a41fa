import Foundation
import VSearchCore

/// Which index a store builds.
public enum IndexKind: String, Sendable, CaseIterable {
    case flat
    case hnsw
    /// Flat below ``IndexOptions/autoThreshold`` vectors (or with compact storage), HNSW above.
    case auto
}

/// Everything needed to make an empty index.
public struct IndexOptions: Sendable {
    public var kind: IndexKind = .auto
    public var metric: Metric = .innerProduct
    public var storage: VectorStorage = .f32
    public var hnsw = HNSWParameters()
    /// Threads per search and for building; all cores by default.
    public var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    /// With `.auto`, collections smaller than this are searched exactly: a scan of 20,000 vectors
    /// takes about a millisecond and is always right.
    public var autoThreshold = Self.defaultAutoThreshold(windowsSharePrefix: false)

    /// The default ``autoThreshold`` for an index searched with single vectors, or with a picture's windows
    /// that share a prefix (the blend recipe's queries, ``VectorIndex/search(batch:k:filter:sharedPrefix:)``).
    ///
    /// Those windows take the flat index's 8-bit scan, which with VNNI stays faster than a graph search per
    /// window to about 50,000 rows (17 windows, rows around 100 centres, 2 cores: 2.3 against 3.9 ms at 20,000,
    /// 3.7 against 4.3 at 40,000, 4.8 against 4.2 at 60,000), and is exact. Without VNNI the graph is the
    /// faster from 20,000 (the AVX2 scan takes 5.1 ms at 19,000).
    public static func defaultAutoThreshold(windowsSharePrefix: Bool) -> Int {
        windowsSharePrefix && KernelLevel.active == .avx512VNNI ? 50_000 : 20_000
    }

    public init(
        kind: IndexKind = .auto, metric: Metric = .innerProduct, storage: VectorStorage = .f32,
        hnsw: HNSWParameters = HNSWParameters(), threads: Int = ProcessInfo.processInfo.activeProcessorCount
    ) {
        self.kind = kind
        self.metric = metric
        self.storage = storage
        self.hnsw = hnsw
        self.threads = max(1, threads)
    }

    /// The kind `.auto` resolves to for `count` vectors.
    public func resolvedKind(count: Int) -> IndexKind {
        switch kind {
        case .flat, .hnsw: return kind
        case .auto: return storage != .f32 || count < autoThreshold ? .flat : .hnsw
        }
    }

    /// An empty index for `count` expected vectors of `dimension`.
    public func makeIndex(dimension: Int, expectedCount count: Int) throws(IndexError) -> any VectorIndex {
        switch resolvedKind(count: count) {
        case .hnsw:
            guard storage == .f32 else {
                throw .invalidArgument(
                    "HNSW stores float32 vectors; \(storage.rawValue) storage is for the flat index only")
            }
            let index = try HNSWIndex(dimension: dimension, metric: metric, parameters: hnsw)
            index.threads = threads
            return index
        default:
            let index = try FlatIndex(dimension: dimension, metric: metric, storage: storage)
            index.threads = threads
            return index
        }
    }
}

/// Indexes that can write themselves as an ``IndexFile`` snapshot.
protocol Snapshotting: AnyObject, Sendable {
    func writeSnapshot(path: String, generation: UInt64) throws(IndexError)
}

extension FlatIndex: Snapshotting {}
extension HNSWIndex: Snapshotting {}

/// An index kept durably in a directory: a snapshot plus a write-ahead log.
///
/// `DIR/index.vsi` is the last snapshot (see `IndexFile`), opened by
/// memory-mapping; `DIR/wal.log` holds the adds and removes made since, each
/// batch fsynced before it is applied. Opening replays the log, so a process
/// killed at any moment reopens to its last committed batch. ``checkpoint()``
/// folds the log into a new snapshot (written to a temporary file, fsynced
/// and renamed over the old one).
public final class IndexStore: Sendable {
    public static let snapshotName = "index.vsi"
    public static let logName = "wal.log"

    public let directory: String
    /// The index; search it directly. Change it only through the store, or the change is not durable.
    public let index: any VectorIndex
    /// The same object as `index`; snapshots are written only while `journal` is held.
    private let snapshot: any Snapshotting
    /// The log and its generation: every change and checkpoint holds this, so records and
    /// snapshots follow one order.
    private let journal: Locked<(log: WriteAheadLog, generation: UInt64)>

    private init(
        directory: String, index: any VectorIndex & Snapshotting, log: sending WriteAheadLog, generation: UInt64
    ) {
        self.directory = directory
        self.index = index
        self.snapshot = index
        self.journal = Locked((log, generation))
    }

    var snapshotPath: String { directory + "/" + Self.snapshotName }
    var logPath: String { directory + "/" + Self.logName }

    /// Saves `index` as a new store in `directory` (created if needed), replacing any store there.
    public static func create(directory: String, index: any VectorIndex) throws(IndexError) -> IndexStore {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw .io(path: directory, operation: "create directory", errno: EEXIST)
        }
        guard let index = index as? any VectorIndex & Snapshotting else {
            throw .invalidArgument("this index type cannot be saved")
        }
        let generation: UInt64 = 1
        try index.writeSnapshot(path: directory + "/" + snapshotName, generation: generation)
        let log = try WriteAheadLog.create(
            path: directory + "/" + logName, dimension: index.dimension, generation: generation)
        return IndexStore(directory: directory, index: index, log: log, generation: generation)
    }

    /// Opens the store in `directory` and replays its log.
    ///
    /// With `verify` (the default) every section's checksum is checked, which reads the whole file;
    /// without it only the header, the section table and the graph are checked, and the vectors are
    /// paged in as searches touch them.
    public static func open(
        directory: String, verify: Bool = true, threads: Int = ProcessInfo.processInfo.activeProcessorCount
    )
        throws(IndexError) -> IndexStore
    {
        let path = directory + "/" + snapshotName
        guard FileManager.default.fileExists(atPath: path) else {
            throw .corrupt(path: directory, reason: "no \(snapshotName) here; build an index first")
        }
        let reader = try IndexFile.Reader(path: path, verify: verify)
        let header = reader.header
        guard let metric = Metric(code: header.metric) else {
            throw .corrupt(path: path, reason: "unknown metric code \(header.metric)")
        }
        guard let storage = VectorStorage(code: header.storage) else {
            throw .corrupt(path: path, reason: "unknown storage code \(header.storage)")
        }
        guard header.dimension > 0, header.dimension < 1 << 24 else {
            throw .corrupt(path: path, reason: "dimension \(header.dimension) out of range")
        }
        let index: any VectorIndex & Snapshotting
        switch header.kind {
        case FlatIndex.kindCode:
            let flat = try FlatIndex.load(reader, metric: metric, storage: storage)
            flat.threads = threads
            index = flat
        case HNSWIndex.kindCode:
            let graph = try HNSWIndex.load(reader, metric: metric)
            graph.threads = threads
            index = graph
        default:
            throw .corrupt(path: path, reason: "unknown index kind \(header.kind)")
        }
        let logPath = directory + "/" + logName
        let log: WriteAheadLog
        if FileManager.default.fileExists(atPath: logPath) {
            let (opened, operations) = try WriteAheadLog.open(path: logPath, dimension: index.dimension)
            if opened.generation == header.generation {
                try replay(operations, into: index)
                log = opened
            } else if opened.generation < header.generation {
                // A checkpoint wrote the snapshot and died before replacing the log: the log is already folded in.
                log = try WriteAheadLog.create(path: logPath, dimension: index.dimension, generation: header.generation)
            } else {
                throw .corrupt(path: logPath, reason: "write-ahead log is newer than the snapshot")
            }
        } else {
            log = try WriteAheadLog.create(path: logPath, dimension: index.dimension, generation: header.generation)
        }
        return IndexStore(directory: directory, index: index, log: log, generation: header.generation)
    }

    private static func replay(_ operations: [WriteAheadLog.Operation], into index: any VectorIndex)
        throws(IndexError)
    {
        var pendingIDs: [UInt64] = []
        var pendingVectors: [Float] = []
        var pendingSet = Set<UInt64>()
        func flush() throws(IndexError) {
            guard !pendingIDs.isEmpty else { return }
            try index.add(ids: pendingIDs, vectors: pendingVectors)
            pendingIDs.removeAll()
            pendingVectors.removeAll()
            pendingSet.removeAll()
        }
        for operation in operations {
            switch operation {
            case .add(let id, let vector):
                if pendingSet.contains(id) { try flush() }
                pendingIDs.append(id)
                pendingVectors += vector
                pendingSet.insert(id)
            case .remove(let id):
                try flush()
                index.remove(id: id)
            }
        }
        try flush()
    }

    /// Adds or replaces items durably: logged and fsynced, then applied.
    public func add(ids: [UInt64], vectors: [Float]) throws(IndexError) {
        let n = try VectorValidation.rows(vectors, dimension: index.dimension, context: "add")
        guard n == ids.count else { throw .invalidArgument("add: \(ids.count) ids for \(n) vectors") }
        if Set(ids).count != ids.count {
            var seen = Set<UInt64>()
            for id in ids where !seen.insert(id).inserted { throw .duplicateID(id) }
        }
        let d = index.dimension
        try journal.withLock { (journal) throws(IndexError) in
            try journal.log.append(
                ids.indices.map { .add(id: ids[$0], vector: Array(vectors[($0 * d)..<(($0 + 1) * d)])) })
            try index.add(ids: ids, vectors: vectors)
        }
    }

    /// Removes an item durably; returns whether it was there.
    @discardableResult
    public func remove(id: UInt64) throws(IndexError) -> Bool {
        try journal.withLock { (journal) throws(IndexError) in
            guard index.contains(id: id) else { return false }
            try journal.log.append([.remove(id: id)])
            return index.remove(id: id)
        }
    }

    /// Writes a new snapshot holding everything so far and starts an empty log.
    public func checkpoint() throws(IndexError) {
        try journal.withLock { (journal) throws(IndexError) in
            let next = journal.generation + 1
            try snapshot.writeSnapshot(path: snapshotPath, generation: next)
            journal.log = try WriteAheadLog.create(path: logPath, dimension: index.dimension, generation: next)
            journal.generation = next
        }
    }
}
