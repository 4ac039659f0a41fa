import Testing
import VSearchTesting

@testable import VectorIndex

@Suite(.offThePool) struct HNSWIndexTests {
    let d = 24
    let n = 2000
    let parameters = HNSWParameters(m: 12, efConstruction: 80, efSearch: 64)

    private func recall(_ index: HNSWIndex, data: [Float], ids: [UInt64], queries: [Float], metric: Metric) throws
        -> Double
    {
        let nq = queries.count / d
        let found = try index.search(batch: queries, k: 10)
        let truth = (0..<nq).map {
            TestData.exact(data, ids: ids, queries[($0 * d)..<(($0 + 1) * d)], k: 10, metric: metric)
        }
        return TestData.recall(found, truth)
    }

    @Test(arguments: Metric.allCases)
    func recallOnRandomData(metric: Metric) throws {
        let data = TestData.uniform(n, d, seed: 11)
        let ids = (0..<n).map { UInt64($0) }
        let index = try HNSWIndex(dimension: d, metric: metric, parameters: parameters)
        try index.add(ids: ids, vectors: data)
        #expect(index.count == n)
        let r = try recall(index, data: data, ids: ids, queries: TestData.uniform(50, d, seed: 12), metric: metric)
        #expect(r >= 0.9, "recall@10 \(r)")
    }

    @Test func recallOnClusteredDataAndIncrementalInserts() throws {
        let data = TestData.clustered(n, d, seed: 13)
        let ids = (0..<n).map { UInt64($0) }
        let index = try HNSWIndex(dimension: d, metric: .innerProduct, parameters: parameters)
        // Half in one parallel batch, the rest one at a time.
        let half = n / 2
        try index.add(ids: Array(ids[0..<half]), vectors: Array(data[0..<(half * d)]))
        for r in half..<n { try index.add(id: ids[r], vector: Array(data[(r * d)..<((r + 1) * d)])) }
        let r = try recall(
            index, data: data, ids: ids, queries: TestData.clustered(50, d, seed: 14), metric: .innerProduct)
        #expect(r >= 0.9, "recall@10 \(r)")
    }

    @Test func deletesAndUpdates() throws {
        let data = TestData.uniform(n, d, seed: 15)
        var ids = (0..<n).map { UInt64($0) }
        let index = try HNSWIndex(dimension: d, metric: .l2, parameters: parameters)
        try index.add(ids: ids, vectors: data)
        // Remove every third item: never returned again.
        for id in ids where id % 3 == 0 { #expect(index.remove(id: id)) }
        #expect(index.count == n - (n + 2) / 3)
        #expect(!index.contains(id: 0))
        let query = Array(data[0..<d])
        let hits = try index.search(query, k: 10)
        #expect(hits.count == 10)
        #expect(hits.allSatisfy { $0.id % 3 != 0 })
        // Updating moves an item: searching for its new vector finds it first.
        let moved = [Float](repeating: 5, count: d)
        try index.update(id: 1, vector: moved)
        #expect(try index.search(moved, k: 1).first?.id == 1)
        #expect(index.count == n - (n + 2) / 3)
        // Recall over the live items stays high.
        var liveData: [Float] = []
        ids = []
        index.forEachItem { id, vector in
            ids.append(id)
            liveData += vector
        }
        let r = try recall(index, data: liveData, ids: ids, queries: TestData.uniform(30, d, seed: 16), metric: .l2)
        #expect(r >= 0.9, "recall@10 after deletes \(r)")
    }

    @Test func compactionDropsTombstones() throws {
        let data = TestData.uniform(500, d, seed: 17)
        let index = try HNSWIndex(dimension: d, metric: .innerProduct, parameters: parameters)
        try index.add(ids: (0..<500).map { UInt64($0) }, vectors: data)
        for id in 0..<300 { index.remove(id: UInt64(id)) }
        // More tombstones than live items triggered a rebuild part way; an explicit one drops the rest.
        #expect(index.nodeCount < 300)
        #expect(index.count == 200)
        index.compact()
        #expect(index.nodeCount == 200)
        #expect(index.count == 200)
        let hits = try index.search(Array(data[(400 * d)..<(401 * d)]), k: 5)
        #expect(hits.first?.id == 400 || hits.contains { $0.id == 400 })
        #expect(hits.allSatisfy { $0.id >= 300 })
    }

    @Test(arguments: [0.01, 0.05, 0.5])
    func filteredSearchReturnsK(fraction: Double) throws {
        let data = TestData.clustered(n, d, seed: 18)
        let ids = (0..<n).map { UInt64($0) }
        let index = try HNSWIndex(dimension: d, metric: .innerProduct, parameters: parameters)
        try index.add(ids: ids, vectors: data)
        let modulus = UInt64((1 / fraction).rounded())
        let allowed = Set(ids.filter { $0 % modulus == 7 % modulus })
        let query = Array(data[(5 * d)..<(6 * d)])
        let truth = TestData.exact(data, ids: ids, data[(5 * d)..<(6 * d)], k: n, metric: .innerProduct).filter {
            allowed.contains($0)
        }
        for filter in [SearchFilter.allowing(allowed), SearchFilter { allowed.contains($0) }] {
            let hits = try index.search(query, k: 10, filter: filter)
            #expect(hits.count == 10)
            #expect(hits.allSatisfy { allowed.contains($0.id) })
            let overlap = Set(hits.map(\.id)).intersection(truth.prefix(10)).count
            #expect(overlap >= 9)
        }
    }

    @Test func rejectsBadInput() throws {
        let index = try HNSWIndex(dimension: 3)
        #expect(throws: IndexError.wrongDimension(context: "add", expected: 3, got: 4)) {
            try index.add(id: 1, vector: [1, 2, 3, 4])
        }
        #expect(throws: IndexError.nonFinite(context: "query", position: 0)) {
            _ = try index.search([.nan, 1, 1], k: 1)
        }
        #expect(throws: IndexError.self) { _ = try HNSWIndex(dimension: 3, parameters: HNSWParameters(m: 1)) }
        #expect(try index.search([1, 2, 3], k: 3).isEmpty)
    }

    @Test func autoChoosesBySize() throws {
        let options = IndexOptions(kind: .auto)
        #expect(options.resolvedKind(count: 1000) == .flat)
        #expect(options.resolvedKind(count: 100_000) == .hnsw)
        #expect(IndexOptions(kind: .auto, storage: .i8).resolvedKind(count: 100_000) == .flat)
        #expect(try options.makeIndex(dimension: 8, expectedCount: 10) is FlatIndex)
        #expect(try IndexOptions(kind: .hnsw).makeIndex(dimension: 8, expectedCount: 10) is HNSWIndex)
        #expect(throws: IndexError.self) {
            _ = try IndexOptions(kind: .hnsw, storage: .f16).makeIndex(dimension: 8, expectedCount: 10)
        }
    }
}
