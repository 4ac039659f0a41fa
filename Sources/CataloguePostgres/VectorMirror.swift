import Catalogue
import Logging
import PostgresNIO
import VSearchCore
import VectorIndex

/// This process's copy of the catalogue's ready vectors, searched in memory, for a model whose
/// vectors pgvector cannot index (more than ``PostgresCatalogue/maximumIndexedDimension``, as the
/// default blend model's 2,560).
///
/// Without an index, pgvector scans every row once per query vector, one distance at a time: a
/// picture's 49 vectors over 448 items took about 80 ms, where the embedded store's flat index,
/// which scores a picture's shared plain half once and its windows as one matrix product, takes
/// about 1 ms. The mirror is such a flat index, and it gives the same hits as the scan.
///
/// It follows the catalogue through the change token, which every committed write advances: a
/// search that finds the token moved lists every ready row's key and `updated_at` (no vectors),
/// reads the vectors of the rows that are new or changed since the mirror last looked, and drops
/// the rows that are gone. A write by any process is therefore seen by the next search of every
/// other, as without the mirror; the first search of a process reads every vector once.
///
/// It holds each vector in memory (4 bytes per dimension per item, 10 kB for the blend model). Because it
/// knows when any row changes, it also keeps the decoded local features of recently checked items
/// (``features``, emptied whenever a row changed or went), as the embedded store does.
final class VectorMirror: Sendable {
    /// What a hit needs besides its score, and the row's version when it was read.
    private struct Row: Sendable {
        var id: String
        var title: String
        var url: String
        var version: Int64
    }

    private struct State {
        var model: String
        var dimension: Int
        /// The change token the mirror is current with; nil until the first refresh completes.
        var token: String?
        var rows: [Int64: Row]
        /// Each row's key by item id.
        var keys: [String: Int64]
        var index: FlatIndex
    }

    private let state = Locked<State?>(nil)
    /// One refresh at a time, so that an older listing never undoes a newer one.
    private let refreshing = AsyncSemaphore(permits: 1)
    /// Vectors read per statement.
    private static let chunk = 500
    /// The decoded local features of the items checked most recently, by row key.
    let features = LocalFeaturesCache(capacity: 64 << 20)

    /// Brings the mirror up to date with `catalogue`, whose binding is `model` and `dimension`.
    func refresh(from catalogue: PostgresCatalogue, model: String, dimension: Int) async throws(CatalogueError) {
        let token = try await catalogue.changeToken()
        if isCurrent(token: token, model: model, dimension: dimension) { return }
        await refreshing.acquire()
        defer { refreshing.release() }
        // Another task may have brought it up to date meanwhile; read the token again, before the listing,
        // so that a write after this point moves the token past what the mirror records.
        let latest = try await catalogue.changeToken()
        if isCurrent(token: latest, model: model, dimension: dimension) { return }
        let (rows, index) = try state.withLock { (state) throws(CatalogueError) -> ([Int64: Row], FlatIndex) in
            if let current = state, current.model == model, current.dimension == dimension {
                return (current.rows, current.index)
            }
            do {
                let index = try FlatIndex(dimension: dimension, metric: .innerProduct)
                state = State(model: model, dimension: dimension, token: nil, rows: [:], keys: [:], index: index)
                return ([:], index)
            } catch {
                throw .store(path: catalogue.location, reason: "cannot mirror the vectors: \(error)")
            }
        }

        let listed = try await catalogue.rows(
            "cannot list the catalogue's vectors",
            """
            SELECT key, id, title, url, (extract(epoch FROM updated_at) * 1000000)::int8
            FROM vsearch_items WHERE state = 'ready'
            """)
        var current: [Int64: Row] = [:]
        current.reserveCapacity(listed.count)
        for row in listed {
            let (key, id, title, url, version) = try catalogue.decoded("cannot list the catalogue's vectors") {
                try row.decodingItem { try $0.decode((Int64, String, String, String, Int64).self) }
            }
            current[key] = Row(id: id, title: title, url: url, version: version)
        }
        let changed = current.filter { rows[$0.key]?.version != $0.value.version }.map(\.key)
        let gone = rows.keys.filter { current[$0] == nil }
        // Before any vector changes, so that no search pairs a new vector with old features.
        if !changed.isEmpty || !gone.isEmpty { features.removeAll() }
        for key in gone { index.remove(id: UInt64(bitPattern: key)) }
        var unreadable: Set<Int64> = []
        for start in stride(from: 0, to: changed.count, by: Self.chunk) {
            let keys = Array(changed[start..<min(changed.count, start + Self.chunk)])
            let read = try await catalogue.rows(
                "cannot read the catalogue's vectors",
                "SELECT key, id, vector FROM vsearch_items WHERE key = ANY(\(keys)) AND state = 'ready'")
            var found: Set<Int64> = []
            for row in read {
                let (key, _, vector) = try catalogue.decoded("cannot read the catalogue's vectors") {
                    try row.decodingItem { try $0.decode((Int64, String, PostgresVector).self) }
                }
                found.insert(key)
                do {
                    try index.add(ids: [UInt64(bitPattern: key)], vectors: Array(vector.values))
                } catch {
                    // Only a vector that the catalogue itself would refuse (wrong length, not finite) gets here.
                    catalogue.logger.warning(
                        "\(catalogue.location): item '\(current[key]?.id ?? String(key))' is left out of searches: \(error.description)"
                    )
                    unreadable.insert(key)
                }
            }
            // Removed between the listing and this read: gone from the mirror too.
            for key in keys where !found.contains(key) { unreadable.insert(key) }
        }
        for key in unreadable {
            index.remove(id: UInt64(bitPattern: key))
            current[key] = nil
        }
        var keys: [String: Int64] = [:]
        keys.reserveCapacity(current.count)
        for (key, row) in current { keys[row.id] = key }
        state.withLock { state in
            state?.rows = current
            state?.keys = keys
            state?.token = latest
        }
    }

    /// The `k` best rows for each vector of each batch, best first; the vectors of a batch are searched
    /// together, sharing their first `sharedPrefix` components when they do (one picture's vectors).
    func search(_ batches: [[[Float]]], k: Int, sharedPrefix: Int) throws(CatalogueError) -> [[CatalogueMatch]] {
        guard let (rows, index) = state.withLock({ state in state.map { ($0.rows, $0.index) } }) else {
            return batches.flatMap { $0.map { _ in [] } }
        }
        var lists: [[CatalogueMatch]] = []
        for batch in batches where !batch.isEmpty {
            let hits: [[SearchHit]]
            do {
                hits = try index.search(batch: batch.flatMap { $0 }, k: k, filter: nil, sharedPrefix: sharedPrefix)
            } catch {
                throw .query(error.description)
            }
            lists += hits.map { hits in
                // A row read after `rows` was taken is not among them: a write that finished after this search began.
                hits.compactMap { hit in
                    rows[Int64(bitPattern: hit.id)].map {
                        CatalogueMatch(id: $0.id, title: $0.title, url: $0.url, score: hit.score)
                    }
                }
            }
        }
        return lists
    }

    /// The row keys of these items, for those the mirror holds.
    func keys(of ids: [String]) -> [String: Int64] {
        state.withLock { state in
            guard let state else { return [:] }
            var found: [String: Int64] = [:]
            for id in ids { if let key = state.keys[id] { found[id] = key } }
            return found
        }
    }

    /// The inner product of `query`'s first `prefix` components with each item's, from the mirrored vectors;
    /// nil for an item the mirror does not hold.
    func prefixScores(of ids: [String], query: [Float], prefix: Int) -> [Float?] {
        guard let index = state.withLock({ $0?.index }) else { return ids.map { _ in nil } }
        let keys = keys(of: ids)
        let held = ids.compactMap { keys[$0] }
        var scores = index.prefixScores(ids: held.map { UInt64(bitPattern: $0) }, query: query, length: prefix)
            .makeIterator()
        return ids.map { id in keys[id] == nil ? nil : scores.next() ?? nil }
    }

    private func isCurrent(token: String, model: String, dimension: Int) -> Bool {
        state.withLock { state in
            state?.token == token && state?.model == model && state?.dimension == dimension
        }
    }
}
