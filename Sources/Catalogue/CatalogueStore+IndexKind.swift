import Featurizer
import Foundation
import VectorIndex

#if canImport(Glibc)
    import Glibc
#endif

/// Which vector index a store keeps: exact (flat), HNSW, or flat until the catalogue is large.
public struct IndexChoice: Sendable, Equatable {
    /// `.flat`, `.hnsw`, or `.auto` (flat below ``autoThreshold`` items, HNSW from there).
    public var kind: IndexKind
    /// With `.auto`, the item count from which the store switches to HNSW: below it an exact scan
    /// takes about a millisecond and is always right.
    public var autoThreshold: Int

    public init(kind: IndexKind = .auto, autoThreshold: Int = IndexOptions().autoThreshold) {
        self.kind = kind
        self.autoThreshold = max(1, autoThreshold)
    }

    /// How to make an empty index of this choice (inner product: the store keeps unit vectors).
    var options: IndexOptions {
        var options = IndexOptions(kind: kind, metric: .innerProduct)
        options.autoThreshold = autoThreshold
        return options
    }

    /// The kind an index holding `count` items should be.
    func resolvedKind(count: Int) -> IndexKind { options.resolvedKind(count: count) }

    /// The automatic switch's item count for a store of `featurizer`'s vectors that records none: later
    /// for a picture's windows that share a prefix where the flat scan of them is the faster
    /// (`IndexOptions.defaultAutoThreshold(windowsSharePrefix:)` in VectorIndex).
    public static func defaultThreshold(for featurizer: Featurizer) -> Int {
        IndexOptions.defaultAutoThreshold(windowsSharePrefix: featurizer.sharedPrefix > 0)
    }
}

extension CatalogueStore {
    /// The store's index choice; `.auto` with `defaultThreshold` until one is set.
    ///
    /// It decides which index is built, so a database error is thrown rather than read as "auto".
    /// An ingest passes its model's default (``IndexChoice/defaultThreshold(for:)``).
    public func indexChoice(defaultThreshold: Int = IndexOptions().autoThreshold) throws(CatalogueError)
        -> IndexChoice
    {
        let kind = try setting("indexKind").flatMap(IndexKind.init(rawValue:)) ?? .auto
        let threshold = try setting("indexAutoThreshold").flatMap(Int.init)
        return IndexChoice(kind: kind, autoThreshold: threshold ?? defaultThreshold)
    }

    /// The kind of the index the store holds now: `.flat` or `.hnsw`; nil before the first ingest.
    public var indexKind: IndexKind? {
        guard let index else { return nil }
        return index is HNSWIndex ? .hnsw : .flat
    }

    /// Records `choice`; ``conformIndex(defaultThreshold:)`` applies it.
    public func setIndexChoice(_ choice: IndexChoice) throws(CatalogueError) {
        try exclusive { () throws(CatalogueError) in
            try write { db in
                try db.execute(
                    sql:
                        "INSERT OR REPLACE INTO setting(name, value) VALUES ('indexKind', ?), ('indexAutoThreshold', ?)",
                    arguments: [choice.kind.rawValue, String(choice.autoThreshold)])
            }
        }
    }

    /// Rebuilds the index as the kind the store's choice calls for at its current size, if it is
    /// another kind; returns whether it did.
    ///
    /// The new index is built and saved beside the old one (`index.next/`), then swapped in by two
    /// renames under the index lock. Opening finishes or discards a swap a crash interrupted, so the
    /// store always has one complete index, and searches in other processes carry on meanwhile.
    ///
    /// `defaultThreshold` is the automatic switch's item count when the store records none.
    @discardableResult
    public func conformIndex(defaultThreshold: Int = IndexOptions().autoThreshold) throws(CatalogueError) -> Bool {
        try requireWriter()
        return try exclusive { () throws(CatalogueError) in try conformIndexExclusively(defaultThreshold) }
    }

    private func conformIndexExclusively(_ defaultThreshold: Int) throws(CatalogueError) -> Bool {
        guard let current = vectors else { return false }
        let kind: IndexKind = current.index is HNSWIndex ? .hnsw : .flat
        let choice = try indexChoice(defaultThreshold: defaultThreshold)
        let wanted = choice.resolvedKind(count: current.index.count)
        guard wanted != kind else { return false }
        let next = indexDirectory + ".next"
        do throws(IndexError) {
            var options = choice.options
            options.kind = wanted
            let fresh = try options.makeIndex(dimension: current.index.dimension, expectedCount: current.index.count)
            var ids: [UInt64] = []
            var values: [Float] = []
            ids.reserveCapacity(current.index.count)
            values.reserveCapacity(current.index.count * current.index.dimension)
            current.index.forEachItem { id, vector in
                ids.append(id)
                values.append(contentsOf: vector)
            }
            if !ids.isEmpty { try fresh.add(ids: ids, vectors: values) }
            try? FileManager.default.removeItem(atPath: next)
            _ = try IndexStore.create(directory: next, index: fresh)
        } catch {
            throw .store(path: next, reason: "cannot build the \(wanted.rawValue) index: \(error.description)")
        }
        let path = indexDirectory
        let swapped = indexLock.withExclusive { () -> Result<IndexStore, IndexError> in
            let old = path + ".old"
            try? FileManager.default.removeItem(atPath: old)
            guard rename(path, old) == 0, rename(next, path) == 0 else {
                return .failure(.io(path: path, operation: "rename", errno: errno))
            }
            Self.syncDirectory(containing: path)
            try? FileManager.default.removeItem(atPath: old)
            do throws(IndexError) {
                return .success(try IndexStore.open(directory: path, verify: false))
            } catch {
                return .failure(error)
            }
        }
        switch swapped {
        case .success(let store): replaceVectors(store)
        case .failure(let error):
            throw .store(path: path, reason: "cannot switch to the new index: \(error.description)")
        }
        return true
    }

    /// Finishes or discards an index swap that a crash interrupted; returns the directory to open.
    ///
    /// `index.next/` is complete only once it has been renamed into place; so with `index/` present
    /// it is a leftover to remove, and with `index/` gone (a crash between the two renames) it is the
    /// index. A reader only looks, and opens whichever holds the index.
    static func settleIndexSwap(_ path: String, writable: Bool) -> String {
        let next = path + ".next"
        let fileManager = FileManager.default
        let hasCurrent = fileManager.fileExists(atPath: path + "/" + IndexStore.snapshotName)
        let hasNext = fileManager.fileExists(atPath: next + "/" + IndexStore.snapshotName)
        guard writable else { return !hasCurrent && hasNext ? next : path }
        if !hasCurrent, hasNext {
            try? fileManager.removeItem(atPath: path)
            if rename(next, path) == 0 { syncDirectory(containing: path) }
        } else if fileManager.fileExists(atPath: next) {
            try? fileManager.removeItem(atPath: next)
        }
        try? fileManager.removeItem(atPath: path + ".old")
        return path
    }

    /// Makes renames in the folder holding `path` durable.
    static func syncDirectory(containing path: String) {
        let parent = URL(fileURLWithPath: path).deletingLastPathComponent().path
        let fd = Glibc.open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        Glibc.close(fd)
    }
}
