import Foundation
import GRDB
import LocalFeatures
import VectorIndex

/// What an ingest writes for one item before its vector exists.
public struct StagedItem: Sendable {
    public var id: String
    public var title: String
    public var url: String
    public var attributes: String
    public var contentHash: String
    /// The photo's local features, kept beside the vector when the model verifies candidates by them
    /// (`DescriptorSpec.verify`); nil for none, and the item is then never raised by that check.
    public var localFeatures: LocalFeatures?

    public init(
        id: String, title: String, url: String, attributes: String, contentHash: String,
        localFeatures: LocalFeatures? = nil
    ) {
        self.id = id
        self.title = title
        self.url = url
        self.attributes = attributes
        self.contentHash = contentHash
        self.localFeatures = localFeatures
    }
}

extension CatalogueStore {
    /// Every item: numeric ids (the seed's line numbers) in numeric order first, then the rest by id,
    /// so that an export reads in the order of the catalogue rather than of ingestion.
    public func items() throws(CatalogueError) -> [CatalogueItem] {
        try read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT \(CatalogueItem.columns) FROM item ORDER BY \(StoreSchema.itemOrder)"
            ).map(CatalogueItem.init(row:))
        }
    }

    /// One page of ``items()``, in the same order: only its rows are read, through the
    /// `item_order` index.
    public func items(offset: Int, limit: Int) throws(CatalogueError) -> [CatalogueItem] {
        try read { db in
            try Row.fetchAll(
                db, sql: "SELECT \(CatalogueItem.columns) FROM item ORDER BY \(StoreSchema.itemOrder) LIMIT ? OFFSET ?",
                arguments: [max(0, limit), max(0, offset)]
            ).map(CatalogueItem.init(row:))
        }
    }

    /// The item with this id, if any.
    public func item(id: String) throws(CatalogueError) -> CatalogueItem? {
        try read { db in
            try Row.fetchOne(db, sql: "SELECT \(CatalogueItem.columns) FROM item WHERE id = ?", arguments: [id])
                .map(CatalogueItem.init(row:))
        }
    }

    /// The items filed under these keys.
    func items(keys: [Int64]) throws(CatalogueError) -> [Int64: CatalogueItem] {
        guard !keys.isEmpty else { return [:] }
        // A picture's windows mostly find the same few items: 48 windows × k hits are ~30 keys.
        let keys = Array(Set(keys))
        let marks = Array(repeating: "?", count: keys.count).joined(separator: ",")
        let rows = try read { db in
            try Row.fetchAll(
                db, sql: "SELECT \(CatalogueItem.columns) FROM item WHERE key IN (\(marks))",
                arguments: StatementArguments(keys)
            )
        }
        return Dictionary(rows.map(CatalogueItem.init(row:)).map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// How many items wait for a vector.
    public func pendingCount() throws(CatalogueError) -> Int {
        try read { db in try Int.fetchOne(db, sql: Self.pendingCountSQL) ?? 0 }
    }

    /// Every unfiltered search counts the pending items. `state != 'ready'` made SQLite read every entry of the
    /// state index (5 ms at 200,000 items); the two ranges around 'ready', the same rows, are two index lookups.
    static let pendingCountSQL = "SELECT count(*) FROM item WHERE state < 'ready' OR state > 'ready'"

    /// How many items the store holds.
    public func count() throws(CatalogueError) -> Int {
        try read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM item") ?? 0 }
    }

    /// Stores items with their vectors: rows written pending, vectors logged, rows marked ready.
    ///
    /// `vectors` is row-major, one vector of the store's dimension per item. An item whose id is
    /// already stored is replaced, unless `onlyNew`: then nothing is written and the call throws
    /// ``CatalogueError/exists(id:)``. The check and the write happen under one write gate, so of
    /// two tasks creating the same id at once exactly one succeeds.
    public func put(_ staged: [StagedItem], vectors: [Float], onlyNew: Bool = false) throws(CatalogueError) {
        guard !staged.isEmpty else { return }
        try requireWriter()
        try exclusive { () throws(CatalogueError) in
            if onlyNew, let taken = try storedIDs(among: staged.map(\.id)).first { throw .exists(id: taken) }
            try putExclusively(staged, vectors: vectors)
        }
    }

    /// The ids among `ids` that the store holds.
    private func storedIDs(among ids: [String]) throws(CatalogueError) -> [String] {
        try read { db in
            let marks = Array(repeating: "?", count: ids.count).joined(separator: ", ")
            return try String.fetchAll(
                db, sql: "SELECT id FROM item WHERE id IN (\(marks))", arguments: StatementArguments(ids))
        }
    }

    private func putExclusively(_ staged: [StagedItem], vectors: [Float]) throws(CatalogueError) {
        guard let model = try binding()?.model else {
            throw .store(path: directory, reason: "no model bound to the store")
        }
        let now = Date().timeIntervalSince1970
        let keys: [Int64] = try write { db in
            try staged.map { item in
                let key =
                    try Int64.fetchOne(
                        db,
                        sql: """
                            INSERT INTO item(id, title, url, attributes, contentHash, modelId, state, createdAt, updatedAt)
                            VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)
                            ON CONFLICT(id) DO UPDATE SET title = excluded.title, url = excluded.url,
                                attributes = excluded.attributes, contentHash = excluded.contentHash,
                                modelId = excluded.modelId, state = 'pending', updatedAt = excluded.updatedAt
                            RETURNING key
                            """,
                        arguments: [item.id, item.title, item.url, item.attributes, item.contentHash, model, now, now])
                    ?? 0
                // In the same transaction as its row: an item never has another photo's features.
                if let features = item.localFeatures {
                    try db.execute(
                        sql: "INSERT OR REPLACE INTO item_local_features(key, features) VALUES (?, ?)",
                        arguments: [key, Data(features.encoded)])
                } else {
                    try db.execute(sql: "DELETE FROM item_local_features WHERE key = ?", arguments: [key])
                }
                return key
            }
        }
        try withIndex { store throws(IndexError) in
            try store.add(ids: keys.map { UInt64(bitPattern: $0) }, vectors: vectors)
        }
        try write { db in
            for key in keys {
                try db.execute(sql: "UPDATE item SET state = 'ready' WHERE key = ?", arguments: [key])
            }
        }
    }

    /// Changes an item's title, URL or attributes without touching its vector.
    public func updateMetadata(id: String, title: String, url: String, attributes: String) throws(CatalogueError) {
        try exclusive { () throws(CatalogueError) in
            try write { db in
                try db.execute(
                    sql: "UPDATE item SET title = ?, url = ?, attributes = ?, updatedAt = ? WHERE id = ?",
                    arguments: [title, url, attributes, Date().timeIntervalSince1970, id])
            }
        }
    }

    /// Removes items and their vectors; returns the ids that were present.
    ///
    /// Rows go first: a crash before the vectors go leaves vectors without rows, which the next
    /// open drops.
    @discardableResult
    public func remove(ids: [String]) throws(CatalogueError) -> [String] {
        try requireWriter()
        return try exclusive { () throws(CatalogueError) in try removeExclusively(ids: ids) }
    }

    private func removeExclusively(ids: [String]) throws(CatalogueError) -> [String] {
        var removed: [(String, Int64)] = []
        try write { db in
            for id in ids {
                if let key = try Int64.fetchOne(db, sql: "SELECT key FROM item WHERE id = ?", arguments: [id]) {
                    try db.execute(sql: "DELETE FROM item WHERE key = ?", arguments: [key])
                    removed.append((id, key))
                }
            }
        }
        if index != nil {
            try withIndex { store throws(IndexError) in
                for (_, key) in removed { try store.remove(id: UInt64(bitPattern: key)) }
            }
        }
        return removed.map(\.0)
    }
}
