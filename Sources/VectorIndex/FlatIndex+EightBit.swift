import CVectorKernels

extension FlatIndex {
    /// Whether this CPU takes the 8-bit scan: oneDNN's 8-bit product only sums without saturating
    /// where the CPU has VNNI instructions.
    static let eightBitProducts = vsk_has_vnni() != 0

    /// From how many rows the 8-bit scan is worth its fixed costs (rounding the queries, ranking the
    /// candidates again): a picture's 49 windows took 1.58 ms against the float scan's 1.47 at 423 rows,
    /// 1.43 against 1.44 at 1,000, 2.22 against 2.81 at 2,000, 3.57 against 6.16 at 5,000 and 8.62 against
    /// 21.8 at 19,000 (`vsearch-bench windows`, 2 cores).
    static let eightBitFromRows = 2_048

    /// Whether a batch with a shared prefix (a picture's windows) takes the 8-bit scan here.
    func takesEightBitScan(_ prefix: SharedPrefix?, _ filter: SearchFilter?) -> Bool {
        prefix != nil && !exactBatchProducts && metric == .innerProduct && Self.eightBitProducts
            && ids.count >= Self.eightBitFromRows && allowedRows(filter) == nil
    }

    /// The rows' 8-bit codes, made by the first search that needs them; the writes keep them
    /// up to date after that. Called with the read lock held.
    private func rowCodes() -> RowCodes {
        eightBitRows.withLock { codes in
            if let codes { return codes }
            let made = RowCodes(rows: vectors, count: ids.count, dimension: dimension)
            codes = made
            return made
        }
    }

    /// Each query's best `k` rows by exact score, found among its best `candidates(k)` rows by the
    /// 8-bit products: the same scan as the float one (rows split across the threads, one product
    /// per block), on a quarter of the bytes and about a quarter of the time.
    func eightBitBatchBest(
        queries: UnsafePointer<Float>, count nq: Int, k: Int, filter: SearchFilter?, prefix: SharedPrefix
    ) -> [TopK] {
        let codes = rowCodes()
        let skip = prefix.length
        let first = QueryCodes(queries, count: 1, start: 0, length: skip, stride: dimension)
        let rest = QueryCodes(queries, count: nq, start: skip, length: dimension - skip, stride: dimension)
        let wide = Self.candidates(k)
        let total = ids.count
        let parts = max(1, min(threads, total / 128))
        var perPart = [[TopK]](repeating: [], count: parts)
        perPart.withUnsafeMutableBufferPointer { results in
            let results = results
            Parallel.split(total, parts: parts) { part, rowRange in
                results[part] = scanCodes(
                    codes, first: first, rest: rest, prefix: prefix, rows: rowRange, k: wide, filter: filter)
            }
        }
        // Ranked again by their exact scores, in row order, so that a row kept by several queries is read
        // from memory once and its shared prefix scored once.
        var kept: [(row: Int, query: Int)] = []
        kept.reserveCapacity(nq * wide)
        for q in 0..<nq {
            var merged = TopK(k: wide)
            for part in perPart { merged.merge(part[q]) }
            for row in merged.rows { kept.append((row, q)) }
        }
        let pairs = kept.sorted { $0.row < $1.row }
        var exact = [Float](repeating: 0, count: pairs.count)
        exact.withUnsafeMutableBufferPointer { out in
            let out = out
            Parallel.split(pairs.count, parts: pairs.count < 256 ? 1 : threads) { _, range in
                var row = -1
                var shared: Float = 0
                for i in range {
                    if pairs[i].row != row {
                        row = pairs[i].row
                        shared = Kernels.dot(queries, vectors.row(row), skip)
                    }
                    let q = pairs[i].query
                    let rest = Kernels.dot(queries + q * dimension + skip, vectors.row(row) + skip, dimension - skip)
                    out[i] = prefix.scales[q] * shared + rest
                }
            }
        }
        var tops = [TopK](repeating: TopK(k: k), count: nq)
        for (pair, score) in zip(pairs, exact) { tops[pair.query].push(score, pair.row) }
        return tops
    }

    /// How many rows per query the 8-bit scan keeps for the exact ranking. Rounding moves a blend's
    /// score by about 5e-4 (a value's error is at most half a step of 1/127 of its vector's largest);
    /// 16 more rows than asked leave a margin of tens of such errors at a catalogue's density of scores.
    static func candidates(_ k: Int) -> Int { k + 16 }

    private func scanCodes(
        _ codes: RowCodes, first: QueryCodes, rest: QueryCodes, prefix: SharedPrefix, rows: Range<Int>, k: Int,
        filter: SearchFilter?
    ) -> [TopK] {
        GEMM.limitThreads(1)
        // Small blocks keep the products in cache (and below the size at which an allocation maps fresh pages).
        let rowBlock = 256
        let nq = rest.scales.count
        let skip = prefix.length
        var heaps = [TopK](repeating: TopK(k: k), count: nq)
        let products = UnsafeMutablePointer<Int32>.allocate(capacity: nq * rowBlock)
        let prefixProducts = UnsafeMutablePointer<Int32>.allocate(capacity: rowBlock)
        defer {
            products.deallocate()
            prefixProducts.deallocate()
        }
        first.codes.withUnsafeBufferPointer { firstCodes in
            rest.codes.withUnsafeBufferPointer { restCodes in
                for r0 in stride(from: rows.lowerBound, to: rows.upperBound, by: rowBlock) {
                    let rn = min(rowBlock, rows.upperBound - r0)
                    GEMM.codeProducts(
                        queries: firstCodes.baseAddress!, nq: 1, queryStride: first.length, rows: codes.codes.row(r0),
                        nr: rn, rowStride: dimension, length: first.length, out: prefixProducts)
                    GEMM.codeProducts(
                        queries: restCodes.baseAddress!, nq: nq, queryStride: rest.length,
                        rows: codes.codes.row(r0) + skip, nr: rn, rowStride: dimension, length: rest.length,
                        out: products)
                    for q in 0..<nq {
                        let restScale = rest.scales[q]
                        let prefixScale = prefix.scales[q] * first.scales[0]
                        var threshold = heaps[q].threshold
                        let row = products + q * rn
                        for j in 0..<rn {
                            let sum = restScale * Float(row[j]) + prefixScale * Float(prefixProducts[j])
                            let s = codes.scales[r0 + j] * sum
                            guard s > threshold else { continue }
                            if let filter, !filter.isAllowed(ids[r0 + j]) { continue }
                            heaps[q].push(s, r0 + j)
                            threshold = heaps[q].threshold
                        }
                    }
                }
            }
        }
        return heaps
    }
}
