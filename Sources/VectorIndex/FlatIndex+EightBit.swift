import CVectorKernels

extension FlatIndex {
    /// From how many rows a picture's windows take the 8-bit scan on this CPU's kernels, or nil for never.
    ///
    /// The scan has fixed costs (rounding the queries, ranking the candidates again by exact scores) that the
    /// float product does not. 17 windows (`vsearch-bench windows`, 2 cores, 8-bit against float): with VNNI 0.14
    /// against 0.15–0.16 ms at 423 rows, 0.19 against 0.28–0.31 at 1,000 and 2.1 against 8.5 at 19,000 (and in
    /// the server, at 448 items, a whole search 1.08 against 1.13 ms); with the AVX2 kernel (the windows split between
    /// the threads below 3,000 rows) 0.18 against 0.16 ms at 423 rows, 0.28 against 0.32 at 1,000, 0.66 against
    /// 0.78 at 2,000 and 5.1 against 8.5 at 19,000. The portable kernel multiplies codes no
    /// faster than floats.
    static let eightBitFromRows: Int? =
        switch KernelLevel.active {
        case .avx512VNNI: 0
        case .avx2: 1_000
        case .portable: nil
        }

    /// Whether a batch with a shared prefix (a picture's windows) takes the 8-bit scan here.
    func takesEightBitScan(_ prefix: SharedPrefix?, _ filter: SearchFilter?) -> Bool {
        guard let least = Self.eightBitFromRows else { return false }
        return prefix != nil && !exactBatchProducts && metric == .innerProduct && ids.count >= least
            && dimension < Self.eightBitDimensionLimit && allowedRows(filter) == nil
    }

    /// Vectors from this length take the float scan: the 8-bit products' 32-bit sums could overflow
    /// (`vsk_code_products`), which would rank the candidates wrongly rather than fail.
    static let eightBitDimensionLimit = 66_000

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
    /// 8-bit products: one product per block of rows, as in the float scan, on a quarter of the bytes,
    /// with the rows or (below ``rowSplitFrom``) the queries split across the threads.
    func eightBitBatchBest(
        queries: UnsafePointer<Float>, count nq: Int, k: Int, filter: SearchFilter?, prefix: SharedPrefix
    ) -> [TopK] {
        let codes = rowCodes()
        let skip = prefix.length
        let first = QueryCodes(queries, count: 1, start: 0, length: skip, stride: dimension)
        let rest = QueryCodes(queries, count: nq, start: skip, length: dimension - skip, stride: dimension)
        let wide = Self.candidates(k)
        let total = ids.count
        let exact = ExactRanking(index: self, queries: queries, prefix: prefix, k: k)
        // Few rows (their codes stay in cache): each thread takes a share of the queries over every row, and
        // ranks its own candidates, so nothing is merged. Many rows: each thread takes a share of the rows for
        // every query, so the rows are read from memory once, and the heaps are merged.
        if total < Self.rowSplitFrom {
            let parts = min(threads, nq)
            var perPart = [[TopK]](repeating: [], count: parts)
            perPart.withUnsafeMutableBufferPointer { results in
                let results = results
                Parallel.split(nq, parts: parts) { part, queryRange in
                    let candidates = scanCodes(
                        codes, first: first, rest: rest, queries: queryRange, prefix: prefix, rows: 0..<total,
                        k: wide, filter: filter)
                    results[part] = exact.rank(candidates, from: queryRange.lowerBound, threads: 1)
                }
            }
            return perPart.flatMap { $0 }
        }
        let parts = max(1, min(threads, total / 128))
        var perPart = [[TopK]](repeating: [], count: parts)
        perPart.withUnsafeMutableBufferPointer { results in
            let results = results
            Parallel.split(total, parts: parts) { part, rowRange in
                results[part] = scanCodes(
                    codes, first: first, rest: rest, queries: 0..<nq, prefix: prefix, rows: rowRange, k: wide,
                    filter: filter)
            }
        }
        let merged = (0..<nq).map { q in
            var merged = perPart[0][q]
            for part in perPart.dropFirst() { merged.merge(part[q]) }
            return merged
        }
        return exact.rank(merged, from: 0, threads: threads)
    }

    /// From how many rows the 8-bit scan splits the rows, not the queries, between threads. 17 windows
    /// (`vsearch-bench windows`, 2 cores), queries split against rows split: 0.14 against 0.19 ms at 423
    /// rows, 0.19 against 0.24 at 1,000, 0.33 against 0.37 at 2,000, even at 3,000 to 5,000, and 2.3–2.7
    /// against 2.0–2.1 ms at 19,000, where every thread reading every row costs memory bandwidth.
    static let rowSplitFrom = 3_000

    /// How many rows per query the 8-bit scan keeps for the exact ranking. Rounding moves a blend's
    /// score by about 5e-4 (a value's error is at most half a step of 1/127 of its vector's largest);
    /// 16 more rows than asked leave a margin of tens of such errors at a catalogue's density of scores.
    static func candidates(_ k: Int) -> Int { k + 16 }

    /// The best `k` rows of `rows` by 8-bit score for each query of `queries`.
    private func scanCodes(
        _ codes: RowCodes, first: QueryCodes, rest: QueryCodes, queries: Range<Int>, prefix: SharedPrefix,
        rows: Range<Int>, k: Int, filter: SearchFilter?
    ) -> [TopK] {
        // Small blocks keep the products in cache (and below the size at which an allocation maps fresh pages).
        let rowBlock = 256
        let nq = queries.count
        let q0 = queries.lowerBound
        let skip = prefix.length
        var best = [TopK](repeating: TopK(k: k), count: nq)
        let products = UnsafeMutablePointer<Int32>.allocate(capacity: nq * rowBlock)
        let prefixProducts = UnsafeMutablePointer<Int32>.allocate(capacity: rowBlock)
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: nq * rowBlock)
        let above = UnsafeMutablePointer<Int32>.allocate(capacity: rowBlock)
        defer {
            above.deallocate()
            products.deallocate()
            prefixProducts.deallocate()
            scores.deallocate()
        }
        // Query q's prefix is prefix.scales[q] times query 0's, whose codes are `first`'s.
        let prefixScales = prefix.scales[queries].map { $0 * first.scales[0] }
        let restScales = Array(rest.scales[queries])
        first.codes.withUnsafeBufferPointer { firstCodes in
            rest.codes.withUnsafeBufferPointer { restCodes in
                codes.scales.withUnsafeBufferPointer { rowScales in
                    for r0 in stride(from: rows.lowerBound, to: rows.upperBound, by: rowBlock) {
                        let rn = min(rowBlock, rows.upperBound - r0)
                        Kernels.codeProducts(
                            queries: firstCodes.baseAddress!, count: 1, queryStride: first.length,
                            rows: codes.codes.row(r0), count: rn, rowStride: dimension, length: first.length,
                            into: prefixProducts, outStride: rn)
                        Kernels.codeProducts(
                            queries: restCodes.baseAddress! + q0 * rest.length, count: nq, queryStride: rest.length,
                            rows: codes.codes.row(r0) + skip, count: rn, rowStride: dimension,
                            length: rest.length, into: products, outStride: rn)
                        vsk_code_scores(
                            products, prefixProducts, nq, rn, rowScales.baseAddress! + r0, restScales,
                            prefixScales, scores)
                        for q in 0..<nq {
                            let row = scores + q * rn
                            let count = vsk_indices_above(row, rn, best[q].threshold, above)
                            for i in 0..<count {
                                let j = Int(above[i])
                                if let filter, !filter.isAllowed(ids[r0 + j]) { continue }
                                best[q].push(row[j], r0 + j)
                            }
                        }
                    }
                }
            }
        }
        return best
    }
}

/// Ranks a picture's windows' 8-bit candidates by their exact float scores.
struct ExactRanking {
    let index: FlatIndex
    let queries: UnsafePointer<Float>
    let prefix: SharedPrefix
    let k: Int

    /// Each query's best `k` of its candidates by exact score; `candidates[i]` are query `first + i`'s.
    ///
    /// The pairs are scored in row order, so that a row kept by several queries is read from memory once
    /// and its shared prefix scored once; a pair is one integer, row then query, so the sort compares integers.
    func rank(_ candidates: [TopK], from first: Int, threads: Int) -> [TopK] {
        let dimension = index.dimension
        let skip = prefix.length
        var keys: [UInt64] = []
        keys.reserveCapacity(candidates.reduce(0) { $0 + $1.entries.count })
        for (i, top) in candidates.enumerated() {
            for entry in top.entries { keys.append(UInt64(entry.row) << 32 | UInt64(i)) }
        }
        keys.sort()
        var exact = [Float](repeating: 0, count: keys.count)
        exact.withUnsafeMutableBufferPointer { out in
            let out = out
            Parallel.split(keys.count, parts: keys.count < 256 ? 1 : threads) { _, range in
                var row = -1
                var shared: Float = 0
                for i in range {
                    let next = Int(keys[i] >> 32)
                    if next != row {
                        row = next
                        shared = Kernels.dot(queries, index.vectors.row(row), skip)
                    }
                    let q = first + Int(keys[i] & 0xffff_ffff)
                    let rest = Kernels.dot(
                        queries + q * dimension + skip, index.vectors.row(row) + skip, dimension - skip)
                    out[i] = prefix.scales[q] * shared + rest
                }
            }
        }
        var tops = [TopK](repeating: TopK(k: k), count: candidates.count)
        for (key, score) in zip(keys, exact) { tops[Int(key & 0xffff_ffff)].push(score, Int(key >> 32)) }
        return tops
    }
}
