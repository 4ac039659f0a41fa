import Testing
import VSearchTesting

@testable import VectorIndex

/// The check of a blend's candidates reads each one's plain-half score where the index keeps its vector.
@Suite(.offThePool) struct PrefixScoreTests {
    @Test(arguments: [false, true])
    func prefixScoresAreTheStoredVectorsPrefixProductsAndNilForAnUnknownID(hnsw: Bool) throws {
        let d = 24
        let index: any VectorIndex =
            hnsw ? try HNSWIndex(dimension: d, metric: .cosine) : try FlatIndex(dimension: d, metric: .cosine)
        try index.add(ids: (0..<50).map { UInt64($0) }, vectors: TestData.uniform(50, d, seed: 21))
        index.remove(id: 7)
        let query = TestData.uniform(1, d, seed: 22)
        let ids: [UInt64] = [3, 7, 49, 1000, 0]
        let scores = index.prefixScores(ids: ids, query: query, length: 10)
        #expect(scores.count == ids.count)
        for (id, score) in zip(ids, scores) {
            guard let stored = index.vector(id: id) else {
                #expect(score == nil, "id \(id) is not in the index")
                continue
            }
            let expected = zip(query.prefix(10), stored.prefix(10)).map { $0 * $1 }.reduce(0, +)
            #expect(abs((score ?? .nan) - expected) <= 1e-5, "id \(id)")
        }
        #expect(scores[1] == nil && scores[3] == nil && scores[0] != nil)
        // A length past the vector's is its whole dot product.
        let whole = index.prefixScores(ids: [3], query: query, length: d + 5)[0] ?? .nan
        let stored = try #require(index.vector(id: 3))
        #expect(abs(whole - zip(query, stored).map { $0 * $1 }.reduce(0, +)) <= 1e-5)
    }
}
