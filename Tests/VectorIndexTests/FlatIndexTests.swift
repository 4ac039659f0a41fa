import Testing
import VSearchTesting

@testable import VectorIndex

@Suite(.offThePool) struct FlatIndexTests {
    let d = 40
    let n = 3000

    @Test(arguments: Metric.allCases)
    func exactMatchesBruteForce(metric: Metric) throws {
        let data = TestData.uniform(n, d, seed: 1)
        let ids = (0..<n).map { UInt64($0 * 7 + 3) }
        let index = try FlatIndex(dimension: d, metric: metric)
        try index.add(ids: ids, vectors: data)
        #expect(index.count == n)
        let queries = TestData.uniform(20, d, seed: 2)
        for q in 0..<20 {
            let query = Array(queries[(q * d)..<((q + 1) * d)])
            let hits = try index.search(query, k: 5)
            let truth = TestData.exact(data, ids: ids, queries[(q * d)..<((q + 1) * d)], k: 5, metric: metric)
            #expect(hits.map(\.id) == truth)
            // Best first, in the metric's direction.
            let scores = hits.map(\.score)
            #expect(scores == scores.sorted(by: metric.higherIsBetter ? (>) : (<)))
        }
    }

    /// Rows, queries: 3,000 rows, and 400 rows with 300 queries, are split between the threads;
    /// 200 rows with 600 queries split the queries instead (many windows against a tiny catalogue).
    @Test(arguments: Metric.allCases, [(3000, 37), (400, 300), (200, 600)])
    func batchedSearchEqualsSingle(metric: Metric, shape: (rows: Int, queries: Int)) throws {
        let data = TestData.uniform(shape.rows, d, seed: 3)
        let index = try FlatIndex(dimension: d, metric: metric)
        index.threads = 2
        try index.add(ids: (0..<shape.rows).map { UInt64($0) }, vectors: data)
        let queries = TestData.uniform(shape.queries, d, seed: 4)
        let batched = try index.search(batch: queries, k: 10)
        try TestData.expectSameAsSingle(batched, index: index, queries: queries, k: 10, tolerance: 1e-3)
    }

    @Test func l2ReportsSquaredDistance() throws {
        let index = try FlatIndex(dimension: 2, metric: .l2)
        try index.add(ids: [1, 2], vectors: [0, 0, 3, 4])
        let hits = try index.search([0, 0], k: 2)
        #expect(hits == [SearchHit(id: 1, score: 0), SearchHit(id: 2, score: 25)])
        let batched = try index.search(batch: [0, 0, 3, 4], k: 1)
        #expect(batched[0] == [SearchHit(id: 1, score: 0)])
        #expect(batched[1] == [SearchHit(id: 2, score: 0)])
    }

    @Test func rejectsBadVectors() throws {
        let index = try FlatIndex(dimension: 4)
        #expect(throws: IndexError.wrongDimension(context: "add", expected: 4, got: 3)) {
            try index.add(id: 1, vector: [1, 2, 3])
        }
        #expect(throws: IndexError.nonFinite(context: "add", position: 2)) {
            try index.add(id: 1, vector: [1, 2, .nan, 3])
        }
        #expect(throws: IndexError.nonFinite(context: "add row 1", position: 0)) {
            try index.add(ids: [1, 2], vectors: [1, 2, 3, 4, .infinity, 0, 0, 0])
        }
        #expect(throws: IndexError.wrongDimension(context: "query", expected: 4, got: 5)) {
            _ = try index.search([1, 2, 3, 4, 5], k: 1)
        }
        #expect(throws: IndexError.nonFinite(context: "query", position: 3)) {
            _ = try index.search([1, 2, 3, -.infinity], k: 1)
        }
        #expect(throws: IndexError.duplicateID(7)) {
            try index.add(ids: [7, 7], vectors: [Float](repeating: 1, count: 8))
        }
        #expect(throws: IndexError.self) { _ = try index.search([1, 2, 3, 4], k: 0) }
        #expect(index.count == 0)
        #expect(IndexError.nonFinite(context: "query", position: 3).description.contains("NaN or infinite"))
    }

    @Test func removeAndUpdate() throws {
        let index = try FlatIndex(dimension: 3)
        try index.add(ids: [10, 20, 30], vectors: [1, 0, 0, 0, 1, 0, 0, 0, 1])
        #expect(try index.search([1, 0, 0], k: 1).first?.id == 10)
        #expect(index.remove(id: 10))
        #expect(!index.remove(id: 10))
        #expect(index.count == 2)
        #expect(try index.search([1, 0, 0], k: 3).map(\.id).contains(10) == false)
        try index.update(id: 30, vector: [2, 0, 0])
        #expect(try index.search([1, 0, 0], k: 1) == [SearchHit(id: 30, score: 2)])
        #expect(index.count == 2)
        #expect(try index.search([0, 1, 0], k: 1).first?.id == 20)
    }

    @Test(arguments: [0.01, 0.3])
    func filteredSearchReturnsK(fraction: Double) throws {
        let data = TestData.clustered(n, d, seed: 5)
        let ids = (0..<n).map { UInt64($0) }
        let index = try FlatIndex(dimension: d)
        try index.add(ids: ids, vectors: data)
        let modulus = UInt64((1 / fraction).rounded())
        let allowed = Set(ids.filter { $0 % modulus == 0 })
        let query = Array(data[0..<d])
        let truth = Array(
            TestData.exact(data, ids: ids, data[0..<d], k: n, metric: .innerProduct).filter { allowed.contains($0) }
                .prefix(10))
        for filter in [SearchFilter.allowing(allowed), SearchFilter { $0 % modulus == 0 }] {
            let hits = try index.search(query, k: 10, filter: filter)
            #expect(hits.count == 10)
            #expect(hits.map(\.id) == truth)
            let batched = try index.search(batch: query + query, k: 10, filter: filter)
            #expect(batched[1].map(\.id) == truth)
        }
    }

    @Test(arguments: [VectorStorage.f16, .i8])
    func compactStorageRecall(storage: VectorStorage) throws {
        let data = TestData.clustered(n, 64, seed: 6)
        let ids = (0..<n).map { UInt64($0) }
        let index = try FlatIndex(dimension: 64, metric: .innerProduct, storage: storage)
        try index.add(ids: ids, vectors: data)
        let queries = TestData.clustered(30, 64, seed: 7)
        let found = try index.search(batch: queries, k: 10)
        let truth = (0..<30).map {
            TestData.exact(data, ids: ids, queries[($0 * 64)..<(($0 + 1) * 64)], k: 10, metric: .innerProduct)
        }
        #expect(TestData.recall(found, truth) >= 0.99)
        // Re-ranked scores are exact.
        let exactIndex = try FlatIndex(dimension: 64)
        try exactIndex.add(ids: ids, vectors: data)
        let exact = try exactIndex.search(Array(queries[0..<64]), k: 1)
        #expect(found[0].first?.id == exact.first?.id)
        #expect(found[0].first?.score == exact.first?.score)
    }

    /// Indexes grow one committed batch at a time and reserve that batch each time; the rows must
    /// grow geometrically, or every batch copies every row (quadratic ingest).
    @Test func rowsGrowGeometricallyWhenReservedABatchAtATime() {
        let rows = RowStore<Float>(width: 4)
        var moves = 0
        var base = rows.base
        let batch = [Float](repeating: 1, count: 4)
        for _ in 0..<1000 {
            rows.reserve(rows.count + 64)
            for _ in 0..<64 { batch.withUnsafeBufferPointer { _ = rows.append($0.baseAddress!) } }
            if rows.base != base { moves += 1 }
            base = rows.base
        }
        #expect(rows.count == 64_000)
        #expect(moves < 30, "the rows moved \(moves) times for 1,000 batches")
        #expect(rows.capacity < 64_000 * 2)
    }
}
