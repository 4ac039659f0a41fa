import Foundation
import GRDB
import LocalFeatures
import VSearchCore
import VectorIndex

/// One catalogue item found by a search.
public struct CatalogueMatch: Sendable, Equatable {
    public var id: String
    public var title: String
    public var url: String
    /// Inner product of the query and the item's vector (cosine similarity for normalised models).
    public var score: Float

    public init(id: String, title: String, url: String, score: Float) {
        self.id = id
        self.title = title
        self.url = url
        self.score = score
    }
}

/// What a search asks for besides the query.
public struct CatalogueQuery: Sendable {
    /// How many matches per query.
    public var k: Int
    /// Matches scoring below this are left out: below their vector score, or, when ``check`` ranks them,
    /// below their final score.
    public var minScore: Float?
    /// Attribute equalities (`key`, `value`) every match must satisfy; values compare as text.
    public var filters: [(key: String, value: String)]
    /// For a query of several vectors: subtracted from the scores of every vector but the first
    /// (a picture's windows, against the whole picture), as the model's descriptor says.
    public var windowPenalty: Float
    /// For a query of several vectors: how many leading components they share up to a scale (the
    /// blend recipe's plain part, `Featurizer.sharedPrefix`), or 0. An exact index scores that part
    /// once instead of once per vector; the index checks it, so a wrong value costs only speed.
    public var sharedPrefix: Int
    /// How a region search ranks each picture's best candidates when the model verifies them by local
    /// features (`DescriptorSpec.verify`), with the pictures' features; nil ranks by the vectors alone.
    public var check: CandidateCheck?

    public init(
        k: Int = 4, minScore: Float? = nil, filters: [(key: String, value: String)] = [], windowPenalty: Float = 0,
        sharedPrefix: Int = 0, check: CandidateCheck? = nil
    ) {
        self.k = k
        self.minScore = minScore
        self.filters = filters
        self.windowPenalty = windowPenalty
        self.sharedPrefix = sharedPrefix
        self.check = check
    }

    /// How many hits each vector of a region search asks the index for: `k`, or twice the candidates that
    /// ``check`` ranks. The fused score (G1) can order the pool differently from the vectors' own scores,
    /// so the pool is twice the candidates it is cut to: an item it ranks among them is then rarely missing.
    public var hitsPerVector: Int { check.map { max(k, 2 * $0.spec.candidates) } ?? k }

    /// The query without ``minScore``: a checked search compares it with the final scores, after the
    /// check, since those are the scores a caller sees (G1 plus the bonus, not the vector score).
    public var unbounded: CatalogueQuery {
        var query = self
        query.minScore = nil
        return query
    }

    /// Parses `key=value`.
    public static func filter(_ text: String) throws(CatalogueError) -> (key: String, value: String) {
        guard let equals = text.firstIndex(of: "="), equals != text.startIndex else {
            throw .query("filter '\(text)': expected key=value")
        }
        return (String(text[..<equals]), String(text[text.index(after: equals)...]))
    }
}

extension SearchHit {
    /// The catalogue's row key of the hit's item.
    var key: Int64 { Int64(bitPattern: id) }
}

extension CatalogueQuery {
    /// One picture's hits, each item once with its best score (``bestScores(_:key:score:)``), best first.
    func bestPerItem(_ lists: ArraySlice<[SearchHit]>) -> [SearchHit] {
        bestScores(lists, key: \.id, score: \.score).map { SearchHit(id: $0.key, score: $0.value.score) }
            .sorted { $0.score > $1.score }
    }
}

extension CatalogueStore {
    /// The best matches for each query vector, best first.
    ///
    /// `modelID` names the model the queries come from; a store of another model refuses,
    /// because scores between two models' vectors mean nothing.
    public func search(_ queries: [[Float]], modelID: String, query: CatalogueQuery) throws(CatalogueError)
        -> [[CatalogueMatch]]
    {
        guard let hitLists = try indexHits(batches: [queries], perVector: query.k, modelID: modelID, query: query)
        else {
            return queries.map { _ in [] }
        }
        let found = try items(keys: hitLists.flatMap { $0.map(\.key) })
        return hitLists.map { hits in
            hits.compactMap { hit -> CatalogueMatch? in
                if let minScore = query.minScore, hit.score < minScore { return nil }
                return Self.match(hit, found)
            }
        }
    }

    /// The best matches for each query, best first, where a query is one or more vectors (a
    /// picture's whole view and its regions) and an item scores its best score over them.
    ///
    /// Each vector is searched for `k` hits and the lists are merged keeping each item's best
    /// score, as ``CatalogueQuery/mergeRegions(_:sizes:)`` does. The merge runs on the index's
    /// hits, so only the items that can still be among the best `k` are read: a picture's 48
    /// windows find a few dozen items, of which a search reports 5.
    public func search(regions queries: [[[Float]]], modelID: String, query: CatalogueQuery) throws(CatalogueError)
        -> [[CatalogueMatch]]
    {
        // A prefix is shared only within one picture's vectors, so then each picture is one batch.
        let batches = query.sharedPrefix > 0 ? queries : [queries.flatMap { $0 }]
        guard
            let hitLists = try indexHits(
                batches: batches, perVector: query.hitsPerVector, modelID: modelID, query: query)
        else {
            return queries.map { _ in [] }
        }
        var ranked: [[SearchHit]] = []
        // Items a check read while it ran, so that they need not be read after it.
        var found: [Int64: CatalogueItem] = [:]
        var next = 0
        for (p, picture) in queries.enumerated() {
            guard let check = query.check else {
                ranked.append(query.bestPerItem(hitLists[next..<(next + picture.count)]))
                next += picture.count
                continue
            }
            var hits = query.unbounded.bestPerItem(hitLists[next..<(next + picture.count)])
            if !hits.isEmpty {
                let read: [Int64: CatalogueItem]
                (hits, read) = try checked(
                    hits, vectors: picture, check: check, features: check.features(ofPicture: p),
                    prefix: query.sharedPrefix, k: query.k)
                found.merge(read) { old, _ in old }
            }
            if let minScore = query.minScore { hits.removeAll { $0.score < minScore } }
            ranked.append(hits)
            next += picture.count
        }
        var cutoffs = ranked.map { Self.cutoff($0, from: 0, needed: query.k) }
        let unread = zip(ranked, cutoffs).flatMap { hits, end in hits[..<end].map(\.key) }.filter { found[$0] == nil }
        found.merge(try items(keys: unread)) { old, _ in old }
        return try ranked.indices.map { (p) throws(CatalogueError) -> [CatalogueMatch] in
            var matches = ranked[p][..<cutoffs[p]].compactMap { Self.match($0, found) }
            // Items that were not ready left gaps: read further down this picture's list.
            while matches.count < query.k, cutoffs[p] < ranked[p].count {
                let start = cutoffs[p]
                cutoffs[p] = Self.cutoff(ranked[p], from: start, needed: query.k - matches.count)
                let more = ranked[p][start..<cutoffs[p]]
                found.merge(try items(keys: more.map(\.key))) { old, _ in old }
                matches += more.compactMap { Self.match($0, found) }
            }
            matches.sort { $0.score != $1.score ? $0.score > $1.score : $0.id < $1.id }
            return Array(matches.prefix(query.k))
        }
    }

    /// One picture's hits ranked by ``CandidateCheck``: for a blend, each hit's plain-half score comes
    /// from its vector in the index; without the picture's `features`, nothing is raised.
    ///
    /// Also returns the items of the hits the best `k` will come from (the checked ones, or the first `k`),
    /// read on a core beside the check: about 0.3 ms that no longer follow it.
    private func checked(
        _ hits: [SearchHit], vectors: [[Float]], check: CandidateCheck, features: LocalFeatures?, prefix: Int, k: Int
    ) throws(CatalogueError) -> (hits: [SearchHit], items: [Int64: CatalogueItem]) {
        var plainScores: [Float]?
        if check.fusesBlend, prefix > 0, let first = vectors.first, let index {
            plainScores = index.prefixScores(ids: hits.map(\.id), query: first, length: prefix).map { $0 ?? 0 }
        }
        let fused = check.fused(hits, score: \.score, plainScores: plainScores, ordered: { $0.id < $1.id })
        guard let features else { return (fused, [:]) }
        let count = check.checkedCount(of: fused.count)
        let stored = try localFeatures(keys: fused.prefix(count).map(\.key))
        // A raised score only grows, so the best `k` after the check are among these.
        let keys = fused.prefix(max(count, k)).map(\.key)
        let read = Locked<Result<[Int64: CatalogueItem], CatalogueError>>(.success([:]))
        let raised = check.raised(
            fused, score: \.score, picture: features, stored: { stored[$0.key] }, ordered: { $0.id < $1.id },
            alongside: { read.withLock { $0 = Result { () throws(CatalogueError) in try self.items(keys: keys) } } })
        return (raised, try read.withLock { $0 }.get())
    }

    /// The local features stored with an item; nil when it has none or they do not decode (a row that does
    /// not decode is reported once to the store's logger, as a search reports it).
    public func localFeatures(ofItem id: String) throws(CatalogueError) -> LocalFeatures? {
        let key = try read { db in try Int64.fetchOne(db, sql: "SELECT key FROM item WHERE id = ?", arguments: [id]) }
        guard let key else { return nil }
        return try localFeatures(keys: [key])[key]
    }

    /// The stored local features of the items with these keys, from ``featuresCache`` when it holds them;
    /// a row that does not decode is left out, and reported once to the store's logger.
    func localFeatures(keys: [Int64]) throws(CatalogueError) -> [Int64: LocalFeatures] {
        guard !keys.isEmpty else { return [:] }
        let generation = featuresCache.generation
        var (found, missing) = featuresCache.lookUp(keys)
        guard !missing.isEmpty else { return found }
        let (read, damaged) = try read { db in
            let marks = Array(repeating: "?", count: missing.count).joined(separator: ", ")
            let rows = try Row.fetchCursor(
                db,
                sql:
                    "SELECT key, features, item.id FROM item_local_features JOIN item USING (key) WHERE key IN (\(marks))",
                arguments: StatementArguments(missing))
            var read: [Int64: LocalFeatures] = [:]
            var damaged: [(id: String, reason: String)] = []
            // Each blob is decoded where SQLite holds it, not copied into a `Data` and an array first.
            while let row = try rows.next() {
                let key: Int64 = row[0]
                let decoded = try row.withUnsafeData(atIndex: 1) { data in
                    data.map { $0.withUnsafeBytes(LocalFeatures.decoding) }
                }
                switch decoded {
                case .success(let features): read[key] = features
                case .failure(let error): damaged.append((row[2], error.description))
                case nil: break
                }
            }
            return (read, damaged)
        }
        for (id, reason) in damaged { damagedFeatures.report(item: id, reason: reason, to: logger) }
        featuresCache.insert(read, generation: generation)
        found.merge(read) { cached, _ in cached }
        return found
    }

    /// The end of the hits to read from `start` for `needed` more matches: those, and every hit
    /// tied with the last of them, since ties are broken by the item's id.
    private static func cutoff(_ hits: [SearchHit], from start: Int, needed: Int) -> Int {
        var end = min(hits.count, start + needed)
        while end > start, end < hits.count, hits[end].score == hits[end - 1].score { end += 1 }
        return end
    }

    private static func match(_ hit: SearchHit, _ found: [Int64: CatalogueItem]) -> CatalogueMatch? {
        guard let item = found[hit.key], item.state == .ready else { return nil }
        return CatalogueMatch(id: item.id, title: item.title, url: item.url, score: hit.score)
    }

    /// The index's hits for every vector of every batch, in order, or nil when the store has no
    /// vectors yet.
    private func indexHits(batches: [[[Float]]], perVector: Int, modelID: String, query: CatalogueQuery)
        throws(CatalogueError)
        -> [[SearchHit]]?
    {
        guard query.k > 0 else { throw .query("k must be at least 1, got \(query.k)") }
        guard let storeModel = self.modelID else { return nil }
        // Before the index is looked at: a store of another model refuses even while it holds no vectors.
        guard storeModel == modelID else { throw .modelMismatch(store: storeModel, model: modelID) }
        guard let index else { return nil }
        let filter = try allowedKeys(query.filters).map { keys in SearchFilter.allowing(Set(keys)) }
        var hitLists: [[SearchHit]] = []
        for batch in batches {
            var flat: [Float] = []
            flat.reserveCapacity(batch.count * index.dimension)
            for vector in batch { flat += vector }
            do {
                hitLists += try index.search(
                    batch: flat, k: perVector, filter: filter, sharedPrefix: query.sharedPrefix)
            } catch {
                throw .query(error.description)
            }
        }
        return hitLists
    }

    /// The keys a search may return, or nil when every indexed item may be returned.
    ///
    /// Without filters the index is searched as it is unless some items are pending, whose
    /// vectors (if any) are stale.
    private func allowedKeys(_ filters: [(key: String, value: String)]) throws(CatalogueError) -> [UInt64]? {
        if filters.isEmpty, try pendingCount() == 0 { return nil }
        var sql = "SELECT key FROM item WHERE state = 'ready'"
        var arguments: [any DatabaseValueConvertible] = []
        for filter in filters {
            sql += " AND CAST(json_extract(attributes, ?) AS TEXT) = ?"
            let quoted = filter.key.replacingOccurrences(of: "\"", with: "\\\"")
            arguments += ["$.\"\(quoted)\"", filter.value]
        }
        let keys = try read { db in try Int64.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)) }
        return keys.map { UInt64(bitPattern: $0) }
    }
}
