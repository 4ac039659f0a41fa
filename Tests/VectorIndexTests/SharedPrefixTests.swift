import Testing
import VSearchTesting

@testable import VectorIndex

/// A picture's window queries repeat one prefix at different scales; the flat index scores that
/// prefix once per row. The hits must be those of scoring every query in full.
@Suite(.offThePool) struct SharedPrefixTests {
    let d = 48
    let shared = 20

    /// `count` queries `[scale_q · p ; tail_q]` for one random `p`.
    func windows(_ count: Int, seed: UInt64) -> [Float] {
        let p = TestData.uniform(1, shared, seed: seed)
        let tails = TestData.uniform(count, d - shared, seed: seed + 1)
        var queries: [Float] = []
        for q in 0..<count {
            let scale = 0.3 + Float(q % 7) / 10
            queries += p.map { $0 * scale } + tails[(q * (d - shared))..<((q + 1) * (d - shared))]
        }
        return queries
    }

    /// Rows, queries: the rows split between threads, and the queries split between threads.
    @Test(arguments: Metric.allCases, [(3000, 24), (400, 300)])
    func sharedPrefixSearchEqualsFullScoring(metric: Metric, shape: (rows: Int, queries: Int)) throws {
        let index = try FlatIndex(dimension: d, metric: metric)
        index.threads = 2
        try index.add(ids: (0..<shape.rows).map { UInt64($0) }, vectors: TestData.uniform(shape.rows, d, seed: 5))
        let queries = windows(shape.queries, seed: 6)
        let found = try index.search(batch: queries, k: 10, filter: nil, sharedPrefix: shared)
        try TestData.expectSameAsSingle(found, index: index, queries: queries, k: 10, tolerance: 1e-4)
    }

    /// With the inner product, the windows are scanned with 8-bit products (with AVX-512 VNNI or AVX2) and
    /// their best candidates ranked by exact scores; the hits must be the float scan's, and stay so as rows
    /// are added, replaced and removed after the codes were made. 400 rows split the queries between the
    /// threads, 3,000 the rows.
    @Test(arguments: [400, 3000])
    func theEightBitScanFindsTheFloatScansHitsAndFollowsEveryWrite(rows: Int) throws {
        let index = try FlatIndex(dimension: d, metric: .innerProduct)
        index.threads = 2
        try index.add(ids: (0..<rows).map { UInt64($0) }, vectors: TestData.uniform(rows, d, seed: 11))
        let queries = windows(24, seed: 12)
        let prefix = queries.withUnsafeBufferPointer {
            SharedPrefix($0.baseAddress!, count: 24, dimension: d, length: shared)
        }
        #expect(index.takesEightBitScan(prefix, nil) == FlatIndex.eightBitFromRows.map { rows >= $0 } ?? false)
        func expectFloatHits() throws {
            let found = try index.search(batch: queries, k: 10, filter: nil, sharedPrefix: shared)
            index.exactBatchProducts = true
            defer { index.exactBatchProducts = false }
            let exact = try index.search(batch: queries, k: 10, filter: nil, sharedPrefix: shared)
            #expect(found.map { $0.map(\.id) } == exact.map { $0.map(\.id) })
            for (a, b) in zip(found.joined(), exact.joined()) { #expect(abs(a.score - b.score) <= 1e-4) }
        }
        try expectFloatHits()
        // Each query's best row is replaced by one far better for a later query; rows are added and removed.
        let best = try index.search(batch: queries, k: 1, filter: nil, sharedPrefix: shared).map { $0[0].id }
        try index.add(ids: [best[0]], vectors: Array(queries[(23 * d)..<(24 * d)]).map { $0 * 3 })
        try index.add(
            ids: (rows..<(rows + 100)).map { UInt64($0) }, vectors: TestData.uniform(100, d, seed: 13))
        // The replaced row stays, even where it was also another window's best.
        for id in best.dropFirst() where id != best[0] { index.remove(id: id) }
        if best[0] != UInt64(rows - 1) { index.remove(id: UInt64(rows - 1)) }
        try expectFloatHits()
        let after = try index.search(batch: queries, k: 1, filter: nil, sharedPrefix: shared)
        #expect(after[23].first?.id == best[0], "the replaced row should now lead the last window")
    }

    /// Vectors so long that the 8-bit products' 32-bit sums could overflow are scanned with float products,
    /// and still find the float scan's hits.
    @Test func vectorsTooLongForEightBitSumsTakeTheFloatScan() throws {
        let long = FlatIndex.eightBitDimensionLimit
        let index = try FlatIndex(dimension: long, metric: .innerProduct)
        try index.add(ids: (0..<8).map { UInt64($0) }, vectors: TestData.uniform(8, long, seed: 14))
        let p = TestData.uniform(1, long / 2, seed: 15)
        let tails = TestData.uniform(3, long - long / 2, seed: 16)
        var queries: [Float] = []
        for q in 0..<3 {
            queries += p.map { $0 * Float(q + 1) } + tails[(q * (long - long / 2))..<((q + 1) * (long - long / 2))]
        }
        let prefix = queries.withUnsafeBufferPointer {
            SharedPrefix($0.baseAddress!, count: 3, dimension: long, length: long / 2)
        }
        #expect(prefix != nil)
        #expect(!index.takesEightBitScan(prefix, nil))
        let found = try index.search(batch: queries, k: 3, filter: nil, sharedPrefix: long / 2)
        try TestData.expectSameAsSingle(found, index: index, queries: queries, k: 3, tolerance: 1e-2)
    }

    @Test func queriesThatDoNotShareTheirPrefixAreScoredInFull() throws {
        var queries = windows(8, seed: 7)
        queries[3 * d + 2] += 0.5
        let prefix = queries.withUnsafeBufferPointer {
            SharedPrefix($0.baseAddress!, count: 8, dimension: d, length: shared)
        }
        #expect(prefix == nil)
        let index = try FlatIndex(dimension: d, metric: .innerProduct)
        try index.add(ids: (0..<500).map { UInt64($0) }, vectors: TestData.uniform(500, d, seed: 8))
        let found = try index.search(batch: queries, k: 5, filter: nil, sharedPrefix: shared)
        try TestData.expectSameAsSingle(found, index: index, queries: queries, k: 5, tolerance: 1e-4)
    }

    @Test func theScalesAreFoundAndALengthThatIsNotAPrefixIsRefused() {
        let queries = windows(4, seed: 9)
        queries.withUnsafeBufferPointer { buffer in
            let prefix = SharedPrefix(buffer.baseAddress!, count: 4, dimension: d, length: shared)
            let expected: [Float] = [1, 4 / 3, 5 / 3, 2]
            let scales = prefix?.scales ?? []
            #expect(scales.count == 4)
            for (scale, wanted) in zip(scales, expected) { #expect(abs(scale - wanted) < 1e-5) }
            #expect(SharedPrefix(buffer.baseAddress!, count: 4, dimension: d, length: d) == nil)
            #expect(SharedPrefix(buffer.baseAddress!, count: 4, dimension: d, length: 0) == nil)
        }
    }
}
