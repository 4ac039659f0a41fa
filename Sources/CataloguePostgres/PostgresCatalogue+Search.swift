import Catalogue
import Foundation
import LocalFeatures
import PostgresNIO

/// Searching in PostgreSQL: pgvector's `<#>` (negative inner product) ranks, the HNSW index answers
/// when there is one, and attribute filters are SQL conditions on the JSONB attributes.
///
/// pgvector 0.6 filters *after* the HNSW index: the index yields its `hnsw.ef_search` nearest
/// candidates, and the `WHERE` clause then drops those that do not match. With a selective filter
/// (1 % of the items, say) few or none of the candidates survive, and a plain query returns fewer
/// than `k` matches although `k` exist. vsearch therefore (1) raises `hnsw.ef_search` for filtered
/// searches (`efSearch(k:filtered:)`), and (2) when the index returned fewer than `k` rows,
/// searches again exactly over the rows that pass the filter: a materialised CTE keeps the
/// planner from using the index there. The exact pass costs a scan of the matching rows' vectors,
/// which is small exactly when the filter is selective, the case that needs it.
///
/// The planner takes part too: it estimates an attribute condition to keep 0.5 % of the rows, and
/// on a small table it finds a sequential scan and a sort cheaper than the index, which is exact.
/// On a large one it takes the index, and the second pass is what keeps `k` results.
extension PostgresCatalogue {
    /// The `hnsw.ef_search` of a search: pgvector's default of 40, at least `k`, and for a filtered
    /// search ten times `k` (at least 200), so that most filters leave `k` of the candidates. pgvector
    /// takes at most 1,000.
    static func efSearch(k: Int, filtered: Bool) -> Int {
        min(1000, filtered ? max(200, 10 * k) : max(40, k))
    }

    /// For tests: makes the first pass of a search take the HNSW index whatever the planner
    /// estimates, as it does on a large catalogue, so that a test on a small one reaches the exact pass.
    @TaskLocal static var forcesIndexScan = false

    /// For tests: false makes an unfiltered search of a model over 2,000 dimensions scan in SQL, as a
    /// filtered one does, instead of searching the ``VectorMirror``, so the two can be compared.
    @TaskLocal static var searchesMirror = true

    public func search(_ queries: [[Float]], modelID: String, query: CatalogueQuery) async throws(CatalogueError)
        -> [[CatalogueMatch]]
    {
        try await search(batches: [queries], modelID: modelID, query: query).lists
    }

    /// The best matches for each vector of each batch; a batch is one picture's vectors, which share
    /// ``CatalogueQuery/sharedPrefix`` components when the model's recipe makes them so. `mirrored` says
    /// that the ``VectorMirror`` answered, and is current for this search.
    private func search(batches: [[[Float]]], modelID: String, query: CatalogueQuery) async throws(CatalogueError)
        -> (lists: [[CatalogueMatch]], mirrored: Bool)
    {
        let queries = batches.flatMap { $0 }
        guard query.k > 0 else { throw .query("k must be at least 1, got \(query.k)") }
        guard let (model, dimension) = try await binding() else { return (queries.map { _ in [] }, false) }
        guard model == modelID else { throw .modelMismatch(store: model, model: modelID) }
        for vector in queries where vector.count != dimension {
            throw .query("a query vector has \(vector.count) values; the catalogue's vectors have \(dimension)")
        }
        let indexed = dimension <= Self.maximumIndexedDimension
        if !indexed, query.filters.isEmpty, Self.searchesMirror {
            try await vectorMirror.refresh(from: self, model: model, dimension: dimension)
            let hits = try vectorMirror.search(batches, k: query.k, sharedPrefix: query.sharedPrefix)
            guard let minScore = query.minScore else { return (hits, true) }
            return (hits.map { $0.filter { $0.score >= minScore } }, true)
        }
        let vectorType = vectorType
        let logger = logger
        let forceIndex = indexed && Self.forcesIndexScan
        let hits = try await withConnection("cannot search") { connection in
            if indexed {
                let ef = Self.efSearch(k: query.k, filtered: !query.filters.isEmpty)
                try await connection.query(PostgresQuery(unsafeSQL: "SET hnsw.ef_search = \(ef)"), logger: logger)
            }
            var lists: [[CatalogueMatch]] = []
            for vector in queries {
                let value = PostgresVector(vector[...], type: vectorType)
                if forceIndex { try await connection.query("SET enable_seqscan = off", logger: logger) }
                var found = try await Self.nearest(value, query: query, exact: false, on: connection, logger: logger)
                if forceIndex { try await connection.query("RESET enable_seqscan", logger: logger) }
                if indexed, found.count < query.k {
                    found = try await Self.nearest(value, query: query, exact: true, on: connection, logger: logger)
                }
                lists.append(found)
            }
            return lists
        }
        guard let minScore = query.minScore else { return (hits, false) }
        return (hits.map { $0.filter { $0.score >= minScore } }, false)
    }

    /// The `k` nearest ready items that pass the filters, best first. `exact` searches the filtered
    /// rows without the index; without it, the planner uses the HNSW index if there is one (and
    /// otherwise scans every row, exactly, keeping the `k` best as it goes).
    private static func nearest(
        _ vector: PostgresVector, query: CatalogueQuery, exact: Bool, on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [CatalogueMatch] {
        if query.filters.isEmpty, !exact {
            var matches: [CatalogueMatch] = []
            for try await match in try await connection.execute(
                NearestItems(vector: vector, k: query.k), logger: logger)
            {
                matches.append(match)
            }
            return matches
        }
        var bindings = PostgresBindings(capacity: 2 + 2 * query.filters.count)
        bindings.append(vector)
        bindings.append(query.k)
        var conditions = "state = 'ready'"
        for filter in query.filters {
            bindings.append(filter.key)
            bindings.append(filter.value)
            conditions += " AND attributes->>$\(bindings.count - 1) = $\(bindings.count)"
        }
        let sql =
            exact
            ? """
            WITH candidates AS MATERIALIZED (SELECT id, title, url, vector FROM vsearch_items WHERE \(conditions))
            SELECT id, title, url, (vector <#> $1)::float8 FROM candidates ORDER BY vector <#> $1 LIMIT $2
            """
            : """
            SELECT id, title, url, (vector <#> $1)::float8 FROM vsearch_items WHERE \(conditions)
            ORDER BY vector <#> $1 LIMIT $2
            """
        var matches: [CatalogueMatch] = []
        let rows = try await connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger)
        for try await row in rows {
            let (id, title, url, distance) = try row.decodingItem {
                try $0.decode((String, String, String, Double).self)
            }
            matches.append(CatalogueMatch(id: id, title: title, url: url, score: Float(-distance)))
        }
        return matches
    }

    public func search(regions queries: [[[Float]]], modelID: String, query: CatalogueQuery)
        async throws(CatalogueError) -> [[CatalogueMatch]]
    {
        var unfiltered = query
        unfiltered.minScore = nil
        unfiltered.k = query.hitsPerVector
        let (lists, mirrored) = try await search(batches: queries, modelID: modelID, query: unfiltered)
        guard let check = query.check else { return query.mergeRegions(lists, sizes: queries.map(\.count)) }
        // Every merged hit is a candidate of the check; the best `k` of those with a final score of at
        // least `minScore` are kept after it.
        var everyHit = query.unbounded
        everyHit.k = Int.max
        let merged = everyHit.mergeRegions(lists, sizes: queries.map(\.count))
        var results: [[CatalogueMatch]] = []
        for (p, hits) in merged.enumerated() {
            var ranked = try await checked(
                hits, vectors: queries[p], check: check, features: check.features(ofPicture: p),
                prefix: query.sharedPrefix, mirrored: mirrored)
            if let minScore = query.minScore { ranked.removeAll { $0.score < minScore } }
            results.append(Array(ranked.prefix(query.k)))
        }
        return results
    }

    /// One picture's hits ranked by ``CandidateCheck``: for a blend, each hit's plain-half score comes
    /// from the ``VectorMirror`` when it answered the search (`mirrored`), else from PostgreSQL, and the
    /// candidates' local features that the mirror's cache does not hold are read in one query; without
    /// the picture's `features`, nothing is raised.
    private func checked(
        _ hits: [CatalogueMatch], vectors: [[Float]], check: CandidateCheck, features: LocalFeatures?, prefix: Int,
        mirrored: Bool
    ) async throws(CatalogueError) -> [CatalogueMatch] {
        guard !hits.isEmpty else { return hits }
        var plainScores: [Float]?
        if check.fusesBlend, prefix > 0, let first = vectors.first {
            plainScores = try await self.plainScores(
                of: hits.map(\.id), query: first, prefix: prefix, mirrored: mirrored)
        }
        let fused = check.fused(hits, score: \.score, plainScores: plainScores, ordered: { $0.id < $1.id })
        guard let features else { return fused }
        let candidates = fused.prefix(check.checkedCount(of: fused.count)).map(\.id)
        let stored = try await storedFeatures(of: candidates, cached: mirrored)
        return check.raised(
            fused, score: \.score, picture: features, stored: { stored[$0.id] }, ordered: { $0.id < $1.id })
    }

    /// Each item's plain-half score: from the mirrored vectors when the mirror answered the search, else
    /// computed by PostgreSQL for these ids.
    private func plainScores(of ids: [String], query first: [Float], prefix: Int, mirrored: Bool)
        async throws(CatalogueError) -> [Float]
    {
        if mirrored { return vectorMirror.prefixScores(of: ids, query: first, prefix: prefix).map { $0 ?? 0 } }
        let half = PostgresVector(CandidateCheck.plainHalf(of: first, prefix: prefix)[...], type: vectorType)
        let rows = try await rows(
            "cannot score the candidates' plain halves",
            "SELECT id, (vector <#> \(half))::float8 FROM vsearch_items WHERE id = ANY(\(ids))")
        var scores: [String: Float] = [:]
        for row in rows {
            let (id, distance) = try decoded("cannot score the candidates' plain halves") {
                try row.decodingItem { try $0.decode((String, Double).self) }
            }
            scores[id] = Float(-distance)
        }
        return ids.map { scores[$0] ?? 0 }
    }

    /// The stored local features of these items, from the mirror's cache when `cached` allows it (the mirror
    /// answered this search, so the cache holds no features older than the vectors it ranked) and it holds
    /// them; a row that does not decode is left out, and reported once to the log.
    private func storedFeatures(of ids: [String], cached: Bool) async throws(CatalogueError) -> [String: LocalFeatures]
    {
        var stored: [String: LocalFeatures] = [:]
        var missing = ids
        let cache = vectorMirror.features
        let generation = cache.generation
        var keys: [String: Int64] = [:]
        if cached {
            keys = vectorMirror.keys(of: ids)
            let (found, _) = cache.lookUp(ids.compactMap { keys[$0] })
            for id in ids { if let key = keys[id], let features = found[key] { stored[id] = features } }
            missing = ids.filter { stored[$0] == nil }
        }
        guard !missing.isEmpty else { return stored }
        let rows = try await rows(
            "cannot read the candidates' local features",
            "SELECT id, local_features FROM vsearch_items WHERE id = ANY(\(missing)) AND local_features IS NOT NULL")
        var read: [Int64: LocalFeatures] = [:]
        for row in rows {
            let (id, bytes) = try decoded("cannot read the candidates' local features") {
                try row.decodingItem { try $0.decode((String, ByteBuffer).self) }
            }
            // Features that do not decode leave their item unchecked; it keeps its score, and the log says so.
            switch Self.decodeLocalFeatures(bytes) {
            case .success(let features):
                stored[id] = features
                if let key = keys[id] { read[key] = features }
            case .failure(let error): damagedFeatures.report(item: id, reason: error.description, to: logger)
            }
        }
        if cached { cache.insert(read, generation: generation) }
        return stored
    }

    public func localFeatures(ofItem id: String) async throws(CatalogueError) -> LocalFeatures? {
        let rows = try await rows(
            "cannot read the local features of item '\(id)'",
            "SELECT local_features FROM vsearch_items WHERE id = \(id) AND local_features IS NOT NULL")
        guard let row = rows.first else { return nil }
        let bytes = try decoded("cannot read the local features of item '\(id)'") { try row.decode(ByteBuffer.self) }
        switch Self.decodeLocalFeatures(bytes) {
        case .success(let features): return features
        case .failure(let error):
            damagedFeatures.report(item: id, reason: error.description, to: logger)
            return nil
        }
    }

    /// A `bytea`'s local features, read where the buffer holds them.
    static func decodeLocalFeatures(_ bytes: ByteBuffer) -> Result<LocalFeatures, LocalFeaturesEncodingError> {
        bytes.withUnsafeReadableBytes(LocalFeatures.decoding)
    }

    public func vector(ofItem id: String) async throws(CatalogueError) -> [Float]? {
        let rows = try await rows(
            "cannot read the vector of item '\(id)'",
            "SELECT vector FROM vsearch_items WHERE id = \(id) AND state = 'ready'")
        guard let row = rows.first else { return nil }
        do {
            return Array(try row.decode(PostgresVector.self).values)
        } catch {
            throw PostgresFailure.error(error, at: location, "cannot read the vector of item '\(id)'")
        }
    }
}

/// The `k` nearest ready items, best first: the statement of every unfiltered search, prepared
/// once per connection. Filtered searches vary in their number of conditions and are sent as
/// parameterised queries.
struct NearestItems: PostgresPreparedStatement {
    static let sql = """
        SELECT id, title, url, (vector <#> $1)::float8 FROM vsearch_items WHERE state = 'ready'
        ORDER BY vector <#> $1 LIMIT $2
        """
    typealias Row = CatalogueMatch

    var vector: PostgresVector
    var k: Int

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 2)
        bindings.append(vector)
        bindings.append(k)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> CatalogueMatch {
        let (id, title, url, distance) = try row.decodingItem { try $0.decode((String, String, String, Double).self) }
        return CatalogueMatch(id: id, title: title, url: url, score: Float(-distance))
    }
}
