import Foundation
import GRDB
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
    /// Matches scoring below this are left out.
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

    public init(
        k: Int = 4, minScore: Float? = nil, filters: [(key: String, value: String)] = [], windowPenalty: Float = 0,
        sharedPrefix: Int = 0
    ) {
        self.k = k
        self.minScore = minScore
        self.filters = filters
        self.windowPenalty = windowPenalty
        self.sharedPrefix = sharedPrefix
    }

    /// Parses `key=value`.
    public static func filter(_ text: String) throws(CatalogueError) -> (key: String, value: String) {
        guard let equals = text.firstIndex(of: "="), equals != text.startIndex else {
            throw .query("filter '\(text)': expected key=value")
        }
        return (String(text[..<equals]), String(text[text.index(after: equals)...]))
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
        try search(batches: [queries], modelID: modelID, query: query)
    }

    /// The best matches for each query, best first, where a query is one or more vectors (a
    /// picture's whole view and its regions) and an item scores its best score over them.
    ///
    /// Each vector is searched for `k` hits and the lists are merged keeping each item's best
    /// score (``CatalogueQuery/mergeRegions(_:sizes:)``).
    public func search(regions queries: [[[Float]]], modelID: String, query: CatalogueQuery) throws(CatalogueError)
        -> [[CatalogueMatch]]
    {
        var unfiltered = query
        unfiltered.minScore = nil
        // A prefix is shared only within one picture's vectors, so then each picture is one batch.
        let batches = query.sharedPrefix > 0 ? queries : [queries.flatMap { $0 }]
        let lists = try search(batches: batches, modelID: modelID, query: unfiltered)
        return query.mergeRegions(lists, sizes: queries.map(\.count))
    }

    /// The matches for every vector of every batch, in order: one index search per batch, with
    /// the filter and the item rows read once for all of them.
    private func search(batches: [[[Float]]], modelID: String, query: CatalogueQuery) throws(CatalogueError)
        -> [[CatalogueMatch]]
    {
        guard query.k > 0 else { throw .query("k must be at least 1, got \(query.k)") }
        guard let storeModel = self.modelID, let index else { return batches.flatMap { $0 }.map { _ in [] } }
        guard storeModel == modelID else { throw .modelMismatch(store: storeModel, model: modelID) }
        let filter = try allowedKeys(query.filters).map { keys in SearchFilter.allowing(Set(keys)) }
        var hitLists: [[SearchHit]] = []
        for batch in batches {
            var flat: [Float] = []
            flat.reserveCapacity(batch.count * index.dimension)
            for vector in batch { flat += vector }
            do {
                hitLists += try index.search(batch: flat, k: query.k, filter: filter, sharedPrefix: query.sharedPrefix)
            } catch {
                throw .query(error.description)
            }
        }
        let found = try items(keys: hitLists.flatMap { $0.map { Int64(bitPattern: $0.id) } })
        return hitLists.map { hits in
            hits.compactMap { hit -> CatalogueMatch? in
                guard let item = found[Int64(bitPattern: hit.id)], item.state == .ready else { return nil }
                if let minScore = query.minScore, hit.score < minScore { return nil }
                return CatalogueMatch(id: item.id, title: item.title, url: item.url, score: hit.score)
            }
        }
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
