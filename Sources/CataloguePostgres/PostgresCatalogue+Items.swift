import Catalogue
import Foundation
import PostgresNIO

extension PostgresCatalogue {
    /// The columns ``item(from:)`` reads, in its order.
    static let itemColumns = """
        key, id, title, url, attributes::text, content_hash, model_id, state, created_at, updated_at
        """

    func item(from row: PostgresRow) throws -> CatalogueItem {
        let (key, id, title, url, attributes, hash, model, state, created, updated) = try row.decodingItem {
            try $0.decode((Int64, String, String, String, String, String?, String?, String, Date, Date).self)
        }
        return CatalogueItem(
            key: key, id: id, title: title, url: url, attributes: attributes, contentHash: hash, modelID: model,
            state: ItemState(rawValue: state) ?? .pending, createdAt: created, updatedAt: updated)
    }

    func items(from rows: [PostgresRow], _ doing: String) throws(CatalogueError) -> [CatalogueItem] {
        do {
            return try rows.map(item(from:))
        } catch {
            throw PostgresFailure.error(error, at: location, doing)
        }
    }

    public func item(id: String) async throws(CatalogueError) -> CatalogueItem? {
        let doing = "cannot read item '\(id)'"
        let rows = try await rows(
            doing, "SELECT \(unescaped: Self.itemColumns) FROM vsearch_items WHERE id = \(id)")
        return try items(from: rows, "cannot read its row").first
    }

    public func items() async throws(CatalogueError) -> [CatalogueItem] {
        let rows = try await rows(
            "cannot list the items",
            "SELECT \(unescaped: Self.itemColumns) FROM vsearch_items ORDER BY \(unescaped: PostgresSchema.itemOrder)")
        return try items(from: rows, "cannot list the items")
    }

    public func items(offset: Int, limit: Int) async throws(CatalogueError) -> [CatalogueItem] {
        let rows = try await rows(
            "cannot list the items",
            """
            SELECT \(unescaped: Self.itemColumns) FROM vsearch_items ORDER BY \(unescaped: PostgresSchema.itemOrder)
            LIMIT \(max(0, limit)) OFFSET \(max(0, offset))
            """)
        return try items(from: rows, "cannot list the items")
    }

    public func count() async throws(CatalogueError) -> Int {
        try await number("cannot count the items", "SELECT count(*) FROM vsearch_items")
    }

    public func pendingCount() async throws(CatalogueError) -> Int {
        try await number("cannot count the pending items", "SELECT count(*) FROM vsearch_items WHERE state <> 'ready'")
    }

    /// The one integer a statement returns.
    func number(_ doing: String, _ query: PostgresQuery) async throws(CatalogueError) -> Int {
        let rows = try await rows(doing, query)
        guard let row = rows.first, let value = try? row.decode(Int64.self) else {
            throw .store(path: location, reason: doing + ": no answer")
        }
        return Int(value)
    }

    /// Writes rows and vectors in one transaction: either the whole batch is stored, ready to be
    /// found, or nothing is.
    ///
    /// The settings rows are read `FOR SHARE`, so a model switch waits for the batch and a batch
    /// waits for a switch: a batch's vectors are always of the model the catalogue has when it commits.
    public func put(_ staged: [StagedItem], vectors: [Float], onlyNew: Bool) async throws(CatalogueError) {
        guard !staged.isEmpty else { return }
        try await transaction(Self.storing(staged)) { connection in
            try await write(staged, vectors: vectors, onlyNew: onlyNew, on: connection)
        }
        await noteChange()
    }

    /// What a failed write of `staged` was doing, for its one-line error.
    static func storing(_ staged: [StagedItem]) -> String {
        staged.count == 1 ? "cannot store item '\(staged[0].id)'" : "cannot store \(staged.count) items"
    }

    /// The rows and vectors of ``put(_:vectors:onlyNew:)``, inside a transaction the caller runs
    /// (an ingest worker settles its claims in the same one).
    func write(_ staged: [StagedItem], vectors: [Float], onlyNew: Bool, on connection: PostgresConnection)
        async throws
    {
        let rows = try await connection.query(
            "SELECT name, value FROM vsearch_settings WHERE name IN ('model', 'dimension') FOR SHARE",
            logger: logger
        ).collect()
        guard let (model, dimension) = try binding(from: rows) else {
            throw CatalogueError.store(path: location, reason: "no model bound to the catalogue")
        }
        guard vectors.count == staged.count * dimension else {
            throw CatalogueError.query(
                "\(staged.count) items need \(staged.count * dimension) vector values "
                    + "(\(dimension) each), got \(vectors.count)")
        }
        for (offset, item) in staged.enumerated() {
            let vector = PostgresVector(vectors[(offset * dimension)..<((offset + 1) * dimension)], type: vectorType)
            let statement = UpsertItem(item: item, model: model, vector: vector, onlyNew: onlyNew)
            var stored = false
            for try await _ in try await connection.execute(statement, logger: logger) { stored = true }
            if !stored { throw CatalogueError.exists(id: item.id) }
        }
    }

    public func updateMetadata(id: String, title: String, url: String, attributes: String)
        async throws(CatalogueError)
    {
        _ = try await rows(
            "cannot update item '\(id)'",
            """
            UPDATE vsearch_items SET title = \(title), url = \(url), attributes = \(attributes)::jsonb, updated_at = now()
            WHERE id = \(id)
            """)
        await noteChange()
    }

    public func remove(ids: [String]) async throws(CatalogueError) -> [String] {
        guard !ids.isEmpty else { return [] }
        let rows = try await rows(
            "cannot remove \(ids.count == 1 ? "item '\(ids[0])'" : "\(ids.count) items")",
            "DELETE FROM vsearch_items WHERE id = ANY(\(ids)) RETURNING id")
        let removed = Set(try decoded("cannot list the items removed") { try rows.map { try $0.decode(String.self) } })
        if !removed.isEmpty { await noteChange() }
        var seen = Set<String>()
        return ids.filter { removed.contains($0) && seen.insert($0).inserted }
    }
}

/// Inserts or replaces one item with its vector: the statement ingest runs for every item, so it is
/// prepared once per connection.
///
/// With `onlyNew` a conflicting id inserts nothing and returns no row; otherwise the row is
/// replaced and its `key` kept, as the embedded store keeps it.
struct UpsertItem: PostgresPreparedStatement {
    static let sql = """
        INSERT INTO vsearch_items AS old (id, title, url, attributes, content_hash, model_id, vector, state, local_features)
        VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, 'ready', $9)
        ON CONFLICT (id) DO UPDATE SET title = excluded.title, url = excluded.url, attributes = excluded.attributes,
            content_hash = excluded.content_hash, model_id = excluded.model_id, vector = excluded.vector,
            state = 'ready', local_features = excluded.local_features, updated_at = now()
        WHERE NOT $8
        RETURNING key
        """
    typealias Row = Int64

    var item: StagedItem
    var model: String
    var vector: PostgresVector
    var onlyNew: Bool

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 9)
        bindings.append(item.id)
        bindings.append(item.title)
        bindings.append(item.url)
        bindings.append(item.attributes)
        bindings.append(item.contentHash)
        bindings.append(model)
        bindings.append(vector)
        bindings.append(onlyNew)
        if let features = item.localFeatures {
            bindings.append(ByteBuffer(bytes: features.encoded))
        } else {
            bindings.appendNull()
        }
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Int64 { try row.decode(Int64.self) }
}
