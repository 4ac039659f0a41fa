import VSearchCore

/// Exact search: every query is compared with every vector.
///
/// A single query splits the rows across ``threads`` threads and scans them
/// with SIMD kernels, so it runs at memory bandwidth. A batch of queries is
/// one matrix product per block of rows (oneDNN's `sgemm`) followed by a
/// top-k heap per query. With ``VectorStorage/f16`` or ``VectorStorage/i8``
/// storage the scan reads compact codes and the best candidates are
/// re-ranked with the exact float32 vectors. A picture's windows (a batch
/// sharing a prefix) are scanned with 8-bit products (at any size with AVX-512 VNNI, from 1,000 rows with AVX2)
/// and their best candidates ranked by exact scores in the same way
/// (``search(batch:k:filter:sharedPrefix:)``).
// @unchecked: owns raw row memory (RowStore, CompactCodes, RowCodes); `lock` (reader-writer) guards every field.
public final class FlatIndex: VectorIndex, @unchecked Sendable {
    public let dimension: Int
    public let metric: Metric
    public let storage: VectorStorage
    /// How many threads one search uses; all cores by default.
    public var threads: Int = WorkerThreads.coreCount
    /// With compact storage, how many candidates per requested result are re-ranked exactly.
    public var rerankFactor: Int = 8
    /// Scan a picture's windows (a batch with a shared prefix) with float products rather than 8-bit ones
    /// (``search(batch:k:filter:sharedPrefix:)``), to measure the two or compare their results.
    public var exactBatchProducts = false

    let lock = ReadWriteLock()
    // @exclusivity(unchecked): the scans read these once per row; `lock` already keeps a writer away from
    // readers, so Swift's run-time exclusivity check on each read is pure cost.
    @exclusivity(unchecked) var vectors: RowStore<Float>
    @exclusivity(unchecked) var ids: [UInt64] = []
    var rowOf: [UInt64: Int] = [:]
    /// ‖row‖², for L2 scores from inner products.
    @exclusivity(unchecked) var squaredNorms: [Float] = []
    @exclusivity(unchecked) var codes: CompactCodes?
    /// Where re-ranking reads exact rows while they are still only in the snapshot file.
    @exclusivity(unchecked) var rerankFile: RowFileReader?
    /// The rows' 8-bit codes for the windows' scan, once a search has needed them (``RowCodes``); searches
    /// make them under the read lock, so they have a lock of their own, and writes update them.
    let eightBitRows = Locked<RowCodes?>(nil)

    /// An empty index.
    public init(dimension: Int, metric: Metric = .innerProduct, storage: VectorStorage = .f32) throws(IndexError) {
        guard dimension > 0 else { throw .invalidArgument("dimension must be at least 1, got \(dimension)") }
        self.dimension = dimension
        self.metric = metric
        self.storage = storage
        self.vectors = RowStore(width: dimension)
        self.codes = storage == .f32 ? nil : CompactCodes(kind: storage, dimension: dimension)
    }

    init(
        dimension: Int, metric: Metric, storage: VectorStorage, vectors: RowStore<Float>, ids: [UInt64],
        squaredNorms: [Float], codes: CompactCodes?
    ) {
        self.dimension = dimension
        self.metric = metric
        self.storage = storage
        self.vectors = vectors
        self.ids = ids
        self.squaredNorms = squaredNorms
        self.codes = codes
        rowOf.reserveCapacity(ids.count)
        for (row, id) in ids.enumerated() { rowOf[id] = row }
    }

    public var count: Int { lock.read { ids.count } }

    public func contains(id: UInt64) -> Bool { lock.read { rowOf[id] != nil } }

    public func add(ids newIDs: [UInt64], vectors values: [Float]) throws(IndexError) {
        let rows = try VectorValidation.additions(ids: newIDs, values: values, dimension: dimension, metric: metric)
        let n = newIDs.count
        lock.write {
            vectors.reserve(vectors.count + n)
            rows.withUnsafeBufferPointer { buffer in
                let base = buffer.baseAddress!
                if let codes, !codes.isFitted { codes.fit(base, count: n) }
                for r in 0..<n {
                    let row = base + r * dimension
                    let norm = Kernels.dot(row, row, dimension)
                    if let existing = rowOf[newIDs[r]] {
                        vectors.set(existing, from: row)
                        squaredNorms[existing] = norm
                        codes?.set(existing, row)
                        eightBitRows.withLock { $0?.set(existing, row) }
                    } else {
                        rowOf[newIDs[r]] = vectors.append(row)
                        ids.append(newIDs[r])
                        squaredNorms.append(norm)
                        codes?.append(row)
                        eightBitRows.withLock { $0?.append(row) }
                    }
                }
            }
        }
    }

    @discardableResult
    public func remove(id: UInt64) -> Bool {
        lock.write {
            guard let row = rowOf.removeValue(forKey: id) else { return false }
            let last = ids.count - 1
            if row != last { rowOf[ids[last]] = row }
            ids[row] = ids[last]
            ids.removeLast()
            squaredNorms[row] = squaredNorms[last]
            squaredNorms.removeLast()
            vectors.removeSwappingLast(row)
            codes?.removeSwappingLast(row)
            eightBitRows.withLock { $0?.removeSwappingLast(row) }
            return true
        }
    }

    public func vector(id: UInt64) -> [Float]? {
        lock.read {
            guard let row = rowOf[id] else { return nil }
            return Array(UnsafeBufferPointer(start: vectors.row(row), count: dimension))
        }
    }

    public func prefixScores(ids: [UInt64], query: [Float], length: Int) -> [Float?] {
        let n = min(length, dimension, query.count)
        return lock.read {
            ids.map { id in rowOf[id].map { row in Kernels.dot(query, vectors.row(row), n) } }
        }
    }

    public func forEachItem(_ body: (UInt64, UnsafeBufferPointer<Float>) throws -> Void) rethrows {
        try lock.read {
            for (row, id) in ids.enumerated() {
                try body(id, UnsafeBufferPointer(start: vectors.row(row), count: dimension))
            }
        }
    }

    // MARK: Search

    public func search(_ query: [Float], k: Int, filter: SearchFilter?) throws(IndexError) -> [SearchHit] {
        try VectorValidation.k(k)
        guard query.count == dimension else {
            throw .wrongDimension(context: "query", expected: dimension, got: query.count)
        }
        let q = try VectorValidation.queries(query, dimension: dimension, metric: metric, context: "query")
        return lock.read {
            q.withUnsafeBufferPointer { hits(for: best(query: $0.baseAddress!, k: k, filter: filter)) }
        }
    }

    public func search(batch queries: [Float], k: Int, filter: SearchFilter?) throws(IndexError) -> [[SearchHit]] {
        try search(batch: queries, k: k, filter: filter, sharedPrefix: 0)
    }

    /// Scores the shared prefix once per row and only the rest once per query: half the work for
    /// the blend recipe's windows, whose first half is the whole picture's plain vector.
    ///
    /// Such a batch (inner product, on x86-64 with AVX2 or AVX-512 VNNI, over enough rows) is scanned
    /// with 8-bit products, 1.6 (AVX2) to 4 (VNNI) times as fast at 19,000 rows, and each query's best
    /// candidates are then ranked by their exact float scores
    /// (`RowCodes`), so the hits and their scores are the float scan's unless rounding (about 1e-3
    /// of a score) moves a row across the candidates' cut. ``exactBatchProducts`` turns it off.
    public func search(batch queries: [Float], k: Int, filter: SearchFilter?, sharedPrefix: Int) throws(IndexError)
        -> [[SearchHit]]
    {
        try VectorValidation.k(k)
        let q = try VectorValidation.queries(queries, dimension: dimension, metric: metric, context: "queries")
        let nq = q.count / dimension
        return lock.read {
            q.withUnsafeBufferPointer { buffer in
                let queries = buffer.baseAddress!
                if codes != nil || nq < 2 || ids.isEmpty {
                    return (0..<nq).map { i in hits(for: best(query: queries + i * dimension, k: k, filter: filter)) }
                }
                let prefix = SharedPrefix(queries, count: nq, dimension: dimension, length: sharedPrefix)
                if let prefix, takesEightBitScan(prefix, filter) {
                    return eightBitBatchBest(queries: queries, count: nq, k: k, filter: filter, prefix: prefix).map {
                        hits(for: $0)
                    }
                }
                return batchBest(queries: queries, count: nq, k: k, filter: filter, prefix: prefix).map {
                    hits(for: $0)
                }
            }
        }
    }

    func hits(for top: TopK) -> [SearchHit] {
        top.sorted().map { SearchHit(id: ids[$0.row], score: metric.reported($0.score)) }
    }

    /// Rows a narrow filter allows, when the filter lists them and they are few.
    func allowedRows(_ filter: SearchFilter?) -> [Int]? {
        guard let allowed = filter?.allowedIDs, allowed.count < ids.count / 4 else { return nil }
        return allowed.compactMap { rowOf[$0] }.sorted()
    }

    /// The exact best `k` rows for one prepared query.
    func best(query: UnsafePointer<Float>, k: Int, filter: SearchFilter?) -> TopK {
        if let rows = allowedRows(filter) {
            var top = TopK(k: k)
            for row in rows { top.push(exactScore(query, row), row) }
            return top
        }
        guard let codes else { return scan(k: k) { top, range in scanExact(query, range, filter, &top) } }
        let (weights, offset) = codes.prepare(query)
        let candidates = scan(k: max(k * rerankFactor, k + 16)) { top, range in
            weights.withUnsafeBufferPointer { w in
                for row in range {
                    if let filter, !filter.isAllowed(ids[row]) { continue }
                    top.push(codes.score(metric, w.baseAddress!, offset, row), row)
                }
            }
        }
        var top = TopK(k: k)
        if let rerankFile, vectors.isBorrowed {
            var buffer = [Float](repeating: 0, count: dimension)
            buffer.withUnsafeMutableBufferPointer { row in
                for candidate in candidates.entries.lazy.map(\.row) {
                    let exact =
                        rerankFile.read(candidate, into: row.baseAddress!)
                        ? Kernels.score(metric, query, row.baseAddress!, dimension) : exactScore(query, candidate)
                    top.push(exact, candidate)
                }
            }
            return top
        }
        for entry in candidates.entries { top.push(exactScore(query, entry.row), entry.row) }
        return top
    }

    @inline(__always) func exactScore(_ query: UnsafePointer<Float>, _ row: Int) -> Float {
        Kernels.score(metric, query, vectors.row(row), dimension)
    }

    private func scanExact(
        _ query: UnsafePointer<Float>, _ range: Range<Int>, _ filter: SearchFilter?, _ top: inout TopK
    ) {
        let d = dimension
        if metric == .l2 {
            for row in range {
                if let filter, !filter.isAllowed(ids[row]) { continue }
                let s = -Kernels.l2Squared(query, vectors.row(row), d)
                if s > top.threshold { top.push(s, row) }
            }
        } else {
            for row in range {
                if let filter, !filter.isAllowed(ids[row]) { continue }
                let s = Kernels.dot(query, vectors.row(row), d)
                if s > top.threshold { top.push(s, row) }
            }
        }
    }

    /// Splits the rows across threads, each keeping its own heap, and merges the heaps.
    private func scan(k: Int, _ body: (inout TopK, Range<Int>) -> Void) -> TopK {
        let total = ids.count
        // Small scans are not worth waking threads for.
        let parts = total * dimension < 1 << 16 ? 1 : threads
        var partial = [TopK](repeating: TopK(k: k), count: max(1, min(parts, total)))
        partial.withUnsafeMutableBufferPointer { heaps in
            let heaps = heaps
            Parallel.split(total, parts: parts) { part, range in
                body(&heaps[part], range)
            }
        }
        var merged = TopK(k: k)
        for heap in partial { merged.merge(heap) }
        return merged
    }

    /// Scores blocks of rows against all queries with one matrix product each.
    private func batchBest(
        queries: UnsafePointer<Float>, count nq: Int, k: Int, filter: SearchFilter?, prefix: SharedPrefix?
    ) -> [TopK] {
        if let rows = allowedRows(filter) {
            return (0..<nq).map { q in
                var top = TopK(k: k)
                for row in rows { top.push(exactScore(queries + q * dimension, row), row) }
                return top
            }
        }
        let total = ids.count
        // Each thread scans a slice of the rows for every query, and the heaps are merged, so the
        // rows are read from memory once in all: a picture's 48 windows against 448 rows of 2,560
        // floats ran 0.77 ms per thread when each thread took half the windows and read every row,
        // 0.56 ms with half the rows (server, 2-core VM). Only rows too few to share (under 128 a
        // thread) with many queries split the queries instead, so one search still uses every core.
        let rowParts = max(1, min(threads, total / 128))
        let queryParts = rowParts == 1 && nq * total * dimension >= 1 << 22 ? min(threads, nq) : 1
        var perPart = [[TopK]](repeating: [], count: max(rowParts, queryParts))
        perPart.withUnsafeMutableBufferPointer { results in
            let results = results
            if queryParts > 1 {
                Parallel.split(nq, parts: queryParts) { part, queryRange in
                    results[part] = scanBlocks(
                        queries: queries, queryRange, rows: 0..<total, k: k, filter: filter, prefix: prefix)
                }
            } else {
                Parallel.split(total, parts: rowParts) { part, rowRange in
                    results[part] = scanBlocks(
                        queries: queries, 0..<nq, rows: rowRange, k: k, filter: filter, prefix: prefix)
                }
            }
        }
        if queryParts > 1 {
            return perPart.flatMap { $0 }.enumerated().map { q, top in fixL2(top, queries + q * dimension) }
        }
        return (0..<nq).map { q in
            var merged = TopK(k: k)
            for part in perPart where q < part.count { merged.merge(part[q]) }
            return fixL2(merged, queries + q * dimension)
        }
    }

    /// The best `k` rows of `rows` for each query of `queryRange`, one matrix product per block.
    ///
    /// With a shared prefix, a block costs one product of the first query's prefix with the rows'
    /// prefixes and one of every query's remainder with the rows' remainders.
    private func scanBlocks(
        queries: UnsafePointer<Float>, _ queryRange: Range<Int>, rows: Range<Int>, k: Int, filter: SearchFilter?,
        prefix: SharedPrefix?
    ) -> [TopK] {
        GEMM.limitThreads(1)
        let rowBlock = 2048
        let queryBlock = 256
        let skip = prefix?.length ?? 0
        var heaps = [TopK](repeating: TopK(k: k), count: queryRange.count)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: min(queryBlock, queryRange.count) * rowBlock)
        let prefixProducts = UnsafeMutablePointer<Float>.allocate(capacity: prefix == nil ? 0 : rowBlock)
        defer {
            scratch.deallocate()
            prefixProducts.deallocate()
        }
        for q0 in stride(from: queryRange.lowerBound, to: queryRange.upperBound, by: queryBlock) {
            let qn = min(queryBlock, queryRange.upperBound - q0)
            for r0 in stride(from: rows.lowerBound, to: rows.upperBound, by: rowBlock) {
                let rn = min(rowBlock, rows.upperBound - r0)
                if skip > 0 {
                    GEMM.innerProducts(
                        queries: queries, nq: 1, rows: vectors.row(r0), nr: rn, length: skip, stride: dimension,
                        out: prefixProducts)
                }
                GEMM.innerProducts(
                    queries: queries + q0 * dimension + skip, nq: qn, rows: vectors.row(r0) + skip, nr: rn,
                    length: dimension - skip, stride: dimension, out: scratch)
                for q in 0..<qn {
                    let products = scratch + q * rn
                    let heap = q0 - queryRange.lowerBound + q
                    let scale = prefix?.scales[q0 + q] ?? 0
                    // The heap is taken out of the array while it fills: pushed in place, each push paid for
                    // the array's uniqueness check.
                    var top = TopK(k: 0)
                    swap(&top, &heaps[heap])
                    var threshold = top.threshold
                    for j in 0..<rn {
                        var s = skip > 0 ? products[j] + scale * prefixProducts[j] : products[j]
                        if metric == .l2 { s = 2 * s - squaredNorms[r0 + j] }
                        guard s > threshold else { continue }
                        if let filter, !filter.isAllowed(ids[r0 + j]) { continue }
                        top.push(s, r0 + j)
                        threshold = top.threshold
                    }
                    swap(&top, &heaps[heap])
                }
            }
        }
        return heaps
    }

    /// With the L2 metric the products gave 2q·x − ‖x‖²; this reports −‖q − x‖² exactly.
    private func fixL2(_ top: TopK, _ query: UnsafePointer<Float>) -> TopK {
        guard metric == .l2 else { return top }
        let qq = Kernels.dot(query, query, dimension)
        var fixed = TopK(k: top.k)
        for entry in top.entries { fixed.push(entry.score - qq, entry.row) }
        return fixed
    }

    /// Bytes held in memory per vector for the scan (codes, or float32 rows).
    public var bytesPerVector: Int { codes?.bytesPerVector ?? dimension * 4 }
}
