import Foundation
import GRDB
import Logging
import VSearchCore
import VectorIndex

/// A catalogue on disk: item metadata in SQLite and their vectors in a `IndexStore` (from `VectorIndex`),
/// all in one directory.
///
/// ```
/// DIR/catalogue.sqlite   items and settings (WAL mode: readers never wait for the writer)
/// DIR/index/             the vectors, filed under each item's key
/// DIR/cache/             downloaded images, keyed by URL
/// DIR/reports/           one JSON Lines file of failures per ingest
/// ```
///
/// One process writes at a time (``Mode/write`` takes an exclusive lock for the store's lifetime);
/// any number read. Writes follow one order so that a crash at any moment leaves a state that
/// ``open(directory:mode:logger:)`` repairs: an item's row is written `pending`, then its vector is
/// logged durably, then the row is marked `ready`. Opening for writing reconciles the two
/// halves: vectors without a ready row are dropped, ready rows without a vector become pending.
///
/// Within one process any number of tasks may share a store. Its one mutable part, the index
/// (replaced whole when the model or the index kind changes), sits behind a mutex, so a search
/// always holds a complete index; and every write runs under `exclusive(_:)`, so two tasks'
/// writes never interleave their steps.
public final class CatalogueStore: Sendable {
    /// How a store is opened.
    public enum Mode: Sendable {
        /// Searching and listing; many processes at once.
        case read
        /// Ingesting, removing, reindexing; one process at a time.
        case write
    }

    public let directory: String
    public let mode: Mode
    let database: DatabasePool
    let indexLock: FileLock
    /// Held from `open` until the store is released: the one writer process.
    private let writerLock: FileLock?
    /// The index store. Readers take the reference and search it outside the mutex; the old
    /// index stays alive for searches that still hold it when `bind` or `conformIndex` replaces it.
    private let indexState = Locked<IndexStore?>(nil)
    /// Serialises this process's writes: a write is several steps (row pending, vector logged,
    /// row ready; or settings, new index, reconcile) that must not interleave with another task's.
    /// It also records ``close()``, after which no write starts.
    private let writeGate = Locked(WriteGate())
    /// The decoded local features of recently checked items (64 MiB, about 2,900 items at 500 keypoints),
    /// emptied after every write but a match event's.
    let featuresCache = LocalFeaturesCache(capacity: 64 << 20)
    /// Where a search reports what it skips without failing.
    public let logger: Logger
    /// The items whose stored local features were reported as not decoding, each reported once.
    let damagedFeatures = DamagedFeatures()

    private struct WriteGate {
        /// How many writes ran (a counter rather than `()`: see `FileLock.holder`).
        var writes = 0
        var isClosed = false
    }

    var indexDirectory: String { directory + "/index" }
    /// Where downloaded images are kept.
    public var cacheDirectory: String { directory + "/cache" }
    /// Where ingest reports are written.
    public var reportDirectory: String { directory + "/reports" }

    /// The store directory: `flag`, then `$VSEARCH_STORE`, then `./vsearch-data`.
    public static func resolveDirectory(
        _ flag: String?, environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> String {
        if let flag, !flag.isEmpty { return flag }
        if let path = environment["VSEARCH_STORE"], !path.isEmpty { return path }
        return "vsearch-data"
    }

    private init(
        directory: String, mode: Mode, database: DatabasePool, indexLock: FileLock, writerLock: FileLock?,
        logger: Logger
    ) {
        self.directory = directory
        self.logger = logger
        self.mode = mode
        self.database = database
        self.indexLock = indexLock
        self.writerLock = writerLock
    }

    /// Opens the store in `directory`; for writing it is created if missing and reconciled.
    ///
    /// The writer lock belongs to the returned store: a second `open(mode: .write)`, in this
    /// process or another, fails with ``CatalogueError/busy(path:)`` until the store is released.
    /// Tasks of one process share one store rather than opening it twice.
    /// `logger` hears what a search skips without failing: an item whose stored local features do not decode.
    public static func open(
        directory: String, mode: Mode, logger: Logger = Logger(label: "vsearch.catalogue")
    ) throws(CatalogueError) -> CatalogueStore {
        let databasePath = directory + "/catalogue.sqlite"
        if mode == .read, !FileManager.default.fileExists(atPath: databasePath) {
            throw .store(path: directory, reason: "no catalogue here; build one with `vsearch ingest`")
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw .store(path: directory, reason: "cannot create the store directory: \(error.localizedDescription)")
        }
        var writerLock: FileLock?
        if mode == .write {
            let lock = try FileLock(path: directory + "/writer.lock")
            guard lock.tryLockExclusive() else { throw .busy(path: directory) }
            writerLock = lock
        }
        let indexLock = try FileLock(path: directory + "/index.lock")
        let database: DatabasePool
        do {
            var configuration = Configuration()
            configuration.busyMode = .timeout(30)
            // In WAL mode NORMAL skips the fsync per commit; commits stay ordered and survive a killed
            // process. A power cut may lose the last commits, but never reorder them, so a row is only
            // ever `ready` after its vector's log record (which is fsynced) — what reconciling relies on.
            configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = NORMAL") }
            database = try DatabasePool(path: databasePath, configuration: configuration)
            if mode == .write { try StoreSchema.migrator.migrate(database) }
        } catch {
            throw .store(path: databasePath, reason: "cannot open the database: \(error)")
        }
        let store = CatalogueStore(
            directory: directory, mode: mode, database: database, indexLock: indexLock, writerLock: writerLock,
            logger: logger)
        try store.exclusive { () throws(CatalogueError) in try store.openIndex() }
        return store
    }

    // MARK: Settings

    /// The id of the model the store's vectors come from; nil until the first ingest, or when
    /// the database cannot be read (for display only: what decides uses ``binding()``).
    public var modelID: String? { try? setting("model") }
    /// The length of the store's vectors; nil until the first ingest (for display, like ``modelID``).
    public var dimension: Int? { (try? binding())?.dimension }

    /// The store's model and vector length, nil before the first ingest; a database error is
    /// thrown, never read as "no model", because callers rebind or empty the index on nil.
    public func binding() throws(CatalogueError) -> (model: String, dimension: Int)? {
        let values = try read { db in
            try [String: String](
                uniqueKeysWithValues: Row.fetchAll(
                    db, sql: "SELECT name, value FROM setting WHERE name IN ('model', 'dimension')"
                ).map { ($0["name"] as String, $0["value"] as String) })
        }
        guard let model = values["model"], let text = values["dimension"] else { return nil }
        guard let dimension = Int(text), dimension > 0 else {
            throw .store(
                path: directory + "/catalogue.sqlite", reason: "setting 'dimension' is '\(text)', not a length")
        }
        return (model, dimension)
    }

    func setting(_ name: String) throws(CatalogueError) -> String? {
        try read { db in try String.fetchOne(db, sql: "SELECT value FROM setting WHERE name = ?", arguments: [name]) }
    }

    /// Makes `model` the store's model. A store without a model takes it; a store with another
    /// model refuses unless `switching`, which marks every item pending and empties the index
    /// (also for the same model, so that a reindex recomputes every vector).
    public func bind(modelID model: String, dimension: Int, switching: Bool = false) throws(CatalogueError) {
        try requireWriter()
        try exclusive { () throws(CatalogueError) in
            let current = try binding()
            if !switching, let current, current.model == model, current.dimension == dimension, vectors != nil {
                return
            }
            if let current, current.model != model, !switching {
                throw .modelMismatch(store: current.model, model: model)
            }
            // Settings and pending state first: a crash before the index is replaced leaves a
            // dimension mismatch that the next open repairs the same way.
            try write { db in
                try db.execute(
                    sql: "INSERT OR REPLACE INTO setting(name, value) VALUES ('model', ?), ('dimension', ?)",
                    arguments: [model, String(dimension)])
                try db.execute(
                    sql: "UPDATE item SET state = 'pending', modelId = ? WHERE modelId IS NOT ?",
                    arguments: [model, model])
            }
            try recreateIndex(dimension: dimension)
            try reconcile()
        }
    }

    // MARK: Index lifecycle

    /// The index store, or nil before the first ingest.
    var vectors: IndexStore? { indexState.withLock { $0 } }

    /// Replaces the index store; callers hold `exclusive(_:)`.
    func replaceVectors(_ store: IndexStore) { indexState.withLock { $0 = store } }

    private func openIndex() throws(CatalogueError) {
        guard let dimension = try binding()?.dimension else { return }
        let path = indexDirectory
        let writable = mode == .write
        let opened = indexLock.withExclusive { () -> Result<IndexStore?, IndexError> in
            let current = Self.settleIndexSwap(path, writable: writable)
            guard FileManager.default.fileExists(atPath: current + "/" + IndexStore.snapshotName) else {
                return .success(nil)
            }
            do throws(IndexError) {
                return .success(try IndexStore.open(directory: current, verify: writable))
            } catch {
                return .failure(error)
            }
        }
        let usable: IndexStore?
        switch opened {
        case .success(let store): usable = store
        // A damaged index is rebuilt from the items below; an I/O error (a full disk, no file
        // descriptors left) says nothing about the index, so it fails the open instead of emptying it.
        case .failure(.corrupt), .failure(.unsupportedVersion): usable = nil
        case .failure(let error): throw .store(path: path, reason: error.description)
        }
        if let usable, usable.index.dimension == dimension {
            replaceVectors(usable)
        } else if mode == .write {
            // Missing, damaged or of another model's size: start empty; reconcile marks items pending.
            try recreateIndex(dimension: dimension)
        }
        if mode == .write { try reconcile() }
    }

    private func recreateIndex(dimension: Int) throws(CatalogueError) {
        let path = indexDirectory
        let choice = try indexChoice()
        let result = indexLock.withExclusive { () -> Result<IndexStore, IndexError> in
            try? FileManager.default.removeItem(atPath: path)
            do throws(IndexError) {
                let index = try choice.options.makeIndex(dimension: dimension, expectedCount: 0)
                return .success(try IndexStore.create(directory: path, index: index))
            } catch {
                return .failure(error)
            }
        }
        switch result {
        case .success(let store): replaceVectors(store)
        case .failure(let error): throw .store(path: path, reason: error.description)
        }
    }

    /// Makes the index and the table agree; returns how many items are pending afterwards.
    /// Callers hold `exclusive(_:)`.
    @discardableResult
    func reconcile() throws(CatalogueError) -> Int {
        try requireWriter()
        guard let vectors, let model = try binding()?.model else { return try pendingCount() }
        let ready = try read { db in
            try Int64.fetchAll(
                db, sql: "SELECT key FROM item WHERE state = 'ready' AND modelId = ?", arguments: [model])
        }
        let readySet = Set(ready.map { UInt64(bitPattern: $0) })
        var indexed = Set<UInt64>()
        vectors.index.forEachItem { id, _ in indexed.insert(id) }
        let stale = indexed.subtracting(readySet)
        let missing = readySet.subtracting(indexed)
        try withIndex { store throws(IndexError) in
            for id in stale { try store.remove(id: id) }
        }
        try write { db in
            for key in missing {
                try db.execute(
                    sql: "UPDATE item SET state = 'pending' WHERE key = ?", arguments: [Int64(bitPattern: key)])
            }
            try db.execute(
                sql: "UPDATE item SET state = 'pending' WHERE state = 'ready' AND modelId IS NOT ?", arguments: [model])
        }
        return try pendingCount()
    }

    /// Folds the index's log into a new snapshot, so the next open is fast.
    public func checkpoint() throws(CatalogueError) {
        try exclusive { () throws(CatalogueError) in
            try withIndex { store throws(IndexError) in try store.checkpoint() }
        }
    }

    // MARK: Access helpers

    func requireWriter() throws(CatalogueError) {
        guard mode == .write else { throw .store(path: directory, reason: "the store is open for reading only") }
    }

    /// Runs one write of several steps with no other write of this process in between.
    ///
    /// Not re-entrant: the public writes take it, and the helpers they call (``write(_:)``,
    /// ``withIndex(_:)``, ``reconcile()``) do not.
    func exclusive<T>(_ body: () throws(CatalogueError) -> T) throws(CatalogueError) -> T {
        try writeGate.withLock { gate throws(CatalogueError) -> T in
            guard !gate.isClosed else { throw .store(path: directory, reason: "the store is closed") }
            gate.writes += 1
            return try body()
        }
    }

    /// Ends this process's writing: waits for a write in progress, releases the writer lock at once,
    /// so another process or another `open(mode: .write)` of this one can write, and refuses later
    /// writes. Reads still work until the last reference goes.
    ///
    /// Without it the lock is released when the store is deallocated, which is whenever the last
    /// task holding a reference lets go: a caller that reopens the store for writing right after
    /// its own writes must close it first.
    public func close() {
        writeGate.withLock { gate in
            guard !gate.isClosed else { return }
            gate.isClosed = true
            writerLock?.unlock()
        }
    }

    func read<T>(_ body: (Database) throws -> T) throws(CatalogueError) -> T {
        do {
            return try database.read(body)
        } catch {
            throw .store(path: directory + "/catalogue.sqlite", reason: "\(error)")
        }
    }

    /// Runs one write transaction. Unless `itemsUnchanged` (a write of match events, which a server makes
    /// after its searches), it then empties ``featuresCache``: any other write may change an item's features.
    func write<T>(itemsUnchanged: Bool = false, _ body: (Database) throws -> T) throws(CatalogueError) -> T {
        try requireWriter()
        // After the commit (or the rollback): a search that read before it cannot put old features back.
        defer {
            if !itemsUnchanged {
                featuresCache.removeAll()
                damagedFeatures.removeAll()
            }
        }
        do {
            return try database.write(body)
        } catch {
            throw .store(path: directory + "/catalogue.sqlite", reason: "\(error)")
        }
    }

    /// Runs `body` on the index store holding the cross-process index lock, so a reader opening
    /// the index never sees a half-written log record or checkpoint.
    func withIndex(_ body: (IndexStore) throws(IndexError) -> Void) throws(CatalogueError) {
        guard let vectors else { throw .store(path: indexDirectory, reason: "the store has no index yet") }
        let failure = indexLock.withExclusive { () -> IndexError? in
            do throws(IndexError) {
                try body(vectors)
                return nil
            } catch {
                return error
            }
        }
        if let failure { throw .store(path: indexDirectory, reason: failure.description) }
    }

    /// The index, for searching.
    var index: (any VectorIndex)? { vectors?.index }
}
