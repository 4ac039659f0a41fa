import Foundation
import GRDB

/// One catalogue item as the store keeps it.
public struct CatalogueItem: Sendable, Equatable {
    /// The store's own number for the item; the item's vector is filed under it in the index.
    public var key: Int64
    /// The catalogue's id for the item, unique in the store.
    public var id: String
    public var title: String
    /// Where the image came from: an http(s) or file URL, or an absolute path.
    public var url: String
    /// Free attributes as a JSON object, usable as search filters.
    public var attributes: String
    /// SHA-256 of the image bytes the vector was computed from.
    public var contentHash: String?
    /// The model whose vector the item has (or will have, while pending).
    public var modelID: String?
    public var state: ItemState
    public var createdAt: Date
    public var updatedAt: Date

    /// An item as another backend (PostgreSQL) reads it.
    public init(
        key: Int64, id: String, title: String, url: String, attributes: String, contentHash: String?,
        modelID: String?, state: ItemState, createdAt: Date, updatedAt: Date
    ) {
        self.key = key
        self.id = id
        self.title = title
        self.url = url
        self.attributes = attributes
        self.contentHash = contentHash
        self.modelID = modelID
        self.state = state
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// The columns ``init(row:)`` reads, in its order: by position, since looking each up by name cost a
    /// search more than reading them.
    static let columns = "key, id, title, url, attributes, contentHash, modelId, state, createdAt, updatedAt"

    /// An item from a row that selects ``columns``.
    init(row: Row) {
        key = row[0]
        id = row[1]
        title = row[2]
        url = row[3]
        attributes = row[4]
        contentHash = row[5]
        modelID = row[6]
        state = ItemState(rawValue: row[7] ?? "") ?? .pending
        createdAt = Date(timeIntervalSince1970: row[8])
        updatedAt = Date(timeIntervalSince1970: row[9])
    }
}

/// Whether an item's vector is in the index.
public enum ItemState: String, Sendable {
    /// The metadata is written; the vector is not (yet) in the index for the store's model.
    case pending
    /// The index holds exactly one vector for the item, computed by the store's model.
    case ready
}

/// The SQLite schema, created and upgraded by migrations.
enum StoreSchema {
    static let migrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            // AUTOINCREMENT: a removed item's key is never reused, so a stale vector can never
            // be mistaken for a new item's.
            try db.execute(
                sql: """
                    CREATE TABLE item (
                        key INTEGER PRIMARY KEY AUTOINCREMENT,
                        id TEXT NOT NULL UNIQUE,
                        title TEXT NOT NULL,
                        url TEXT NOT NULL,
                        attributes TEXT NOT NULL DEFAULT '{}',
                        contentHash TEXT,
                        modelId TEXT,
                        state TEXT NOT NULL,
                        createdAt DOUBLE NOT NULL,
                        updatedAt DOUBLE NOT NULL
                    );
                    CREATE INDEX item_state ON item(state);
                    CREATE TABLE setting (name TEXT PRIMARY KEY, value TEXT NOT NULL);
                    """)
        }
        // The server's recent match events, so the live page survives a restart.
        migrator.registerMigration("v2-match-events") { db in
            try db.execute(
                sql: """
                    CREATE TABLE match_event (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT,
                        eventId TEXT NOT NULL UNIQUE,
                        json TEXT NOT NULL,
                        queryJpeg BLOB,
                        createdAt DOUBLE NOT NULL
                    );
                    """)
        }
        // The catalogue order (numeric ids numerically, then the rest by id) as an index, so a
        // page of the item list walks the index instead of sorting every row.
        migrator.registerMigration("v3-item-order") { db in
            try db.execute(sql: "CREATE INDEX item_order ON item(\(itemOrder))")
        }
        // Each item's local features, for the models that verify a search's best candidates by them.
        // A row goes with its item; an item without one is simply never raised by the check.
        migrator.registerMigration("v4-local-features") { db in
            try db.execute(
                sql: """
                    CREATE TABLE item_local_features (
                        key INTEGER PRIMARY KEY REFERENCES item(key) ON DELETE CASCADE,
                        features BLOB NOT NULL
                    );
                    """)
        }
        return migrator
    }()

    /// The items' catalogue order; `ORDER BY` must spell it exactly so for SQLite to use `item_order`.
    static let itemOrder = """
        (id GLOB '[0-9]*' AND id NOT GLOB '*[^0-9]*') DESC, \
        CASE WHEN id NOT GLOB '*[^0-9]*' THEN CAST(id AS INTEGER) END, id
        """
}
