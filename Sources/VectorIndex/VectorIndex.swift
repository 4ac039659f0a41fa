/// A set of vectors with item ids that answers nearest-neighbour queries.
///
/// One abstraction with interchangeable implementations, in the manner of
/// FAISS: ``FlatIndex`` scans every vector exactly; ``HNSWIndex`` walks a
/// graph and is approximate. Both are safe to share between tasks: searches
/// run concurrently, mutations are serialised.
///
/// Vectors are `[Float]` of exactly ``dimension`` finite components;
/// anything else is rejected with an ``IndexError`` naming the problem.
/// Adding an id that is already present replaces its vector.
public protocol VectorIndex: AnyObject, Sendable {
    /// The length of every vector.
    var dimension: Int { get }
    var metric: Metric { get }
    /// How many items the index holds (removed items excluded).
    var count: Int { get }

    /// Adds `vectors` (row-major, `ids.count × dimension`), replacing items whose id is present.
    func add(ids: [UInt64], vectors: [Float]) throws(IndexError)
    /// Removes the item; returns whether it was there.
    @discardableResult func remove(id: UInt64) -> Bool
    /// Whether the index holds an item with this id.
    func contains(id: UInt64) -> Bool
    /// Up to `k` items closest to `query`, best first, among those `filter` allows.
    func search(_ query: [Float], k: Int, filter: SearchFilter?) throws(IndexError) -> [SearchHit]
    /// The same for `queries` (row-major, `n × dimension`), one result list per query.
    func search(batch queries: [Float], k: Int, filter: SearchFilter?) throws(IndexError) -> [[SearchHit]]
    /// The same for queries whose first `sharedPrefix` components are all multiples of one vector
    /// (a picture's windows, which share the whole picture's part of the blend recipe). The hits
    /// are those of ``search(batch:k:filter:)``; an index may score the shared part once per row
    /// instead of once per query. It checks the claim, and ignores it where it does not hold.
    func search(batch queries: [Float], k: Int, filter: SearchFilter?, sharedPrefix: Int) throws(IndexError)
        -> [[SearchHit]]
    /// The vector stored for `id` (normalised for cosine), or nil when the index has no such item:
    /// a lookup through the id map, like hnswlib's `get_items` or FAISS's `reconstruct`.
    func vector(id: UInt64) -> [Float]?
    /// The inner product of `query`'s first `length` components with each item's stored vector (normalised
    /// for cosine), or nil for an id the index does not hold: a blend's plain-half scores, which the check
    /// of a picture's candidates needs, read where the vectors are kept instead of copied out one by one.
    func prefixScores(ids: [UInt64], query: [Float], length: Int) -> [Float?]
    /// Every item as `(id, vector)`, for saving and rebuilding; vectors as stored (normalised for cosine).
    func forEachItem(_ body: (UInt64, UnsafeBufferPointer<Float>) throws -> Void) rethrows
}

extension VectorIndex {
    /// Adds or replaces one item.
    public func add(id: UInt64, vector: [Float]) throws(IndexError) {
        try add(ids: [id], vectors: vector)
    }

    /// Replaces an item's vector; the same as `add`, named for readability.
    public func update(id: UInt64, vector: [Float]) throws(IndexError) {
        try add(ids: [id], vectors: vector)
    }

    public func search(_ query: [Float], k: Int) throws(IndexError) -> [SearchHit] {
        try search(query, k: k, filter: nil)
    }

    public func search(batch queries: [Float], k: Int) throws(IndexError) -> [[SearchHit]] {
        try search(batch: queries, k: k, filter: nil)
    }

    public func prefixScores(ids: [UInt64], query: [Float], length: Int) -> [Float?] {
        let n = min(length, dimension, query.count)
        return ids.map { id in vector(id: id).map { vector in Kernels.dot(query, vector, n) } }
    }

    /// Graph indexes gain nothing from a shared prefix: each query walks its own path.
    public func search(batch queries: [Float], k: Int, filter: SearchFilter?, sharedPrefix: Int) throws(IndexError)
        -> [[SearchHit]]
    {
        try search(batch: queries, k: k, filter: filter)
    }
}

/// Checks shapes and values before anything is stored or searched.
enum VectorValidation {
    /// Checks that `values` holds whole rows of finite floats; returns the row count.
    static func rows(_ values: [Float], dimension: Int, context: String) throws(IndexError) -> Int {
        guard dimension > 0, values.count % dimension == 0 else {
            throw .wrongDimension(context: context, expected: dimension, got: values.count)
        }
        try finite(values, context: context, dimension: dimension)
        return values.count / dimension
    }

    static func finite(_ values: [Float], context: String, dimension: Int) throws(IndexError) {
        // One vectorised pass; the position is only looked for on failure.
        let allFinite = values.withUnsafeBufferPointer { buffer in
            buffer.isEmpty || Kernels.allFinite(buffer.baseAddress!, buffer.count)
        }
        if !allFinite, let position = values.firstIndex(where: { !$0.isFinite }) {
            let row = position / max(dimension, 1)
            let rowContext = values.count > dimension ? "\(context) row \(row)" : context
            throw .nonFinite(context: rowContext, position: position % max(dimension, 1))
        }
    }

    /// Validates query rows and, for cosine, returns them normalised.
    static func queries(_ values: [Float], dimension: Int, metric: Metric, context: String) throws(IndexError)
        -> [Float]
    {
        let n = try rows(values, dimension: dimension, context: context)
        guard metric == .cosine else { return values }
        var normalized = values
        normalized.withUnsafeMutableBufferPointer { buffer in
            for r in 0..<n { Kernels.normalize(buffer.baseAddress! + r * dimension, dimension) }
        }
        return normalized
    }

    /// Validates a batch to add (whole finite rows, one distinct id each) and returns
    /// its rows, normalised for cosine.
    static func additions(ids: [UInt64], values: [Float], dimension: Int, metric: Metric) throws(IndexError)
        -> [Float]
    {
        let rows = try queries(values, dimension: dimension, metric: metric, context: "add")
        let n = values.count / dimension
        guard n == ids.count else { throw .invalidArgument("add: \(ids.count) ids for \(n) vectors") }
        if Set(ids).count != ids.count {
            var seen = Set<UInt64>()
            for id in ids where !seen.insert(id).inserted { throw .duplicateID(id) }
        }
        return rows
    }

    static func k(_ k: Int) throws(IndexError) {
        guard k > 0 else { throw .invalidArgument("k must be at least 1, got \(k)") }
    }
}
