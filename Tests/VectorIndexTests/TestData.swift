import Foundation
import Testing
import VSearchCore

@testable import VectorIndex

enum TestData {
    /// A seeded generator, so every run sees the same data (offset from `seed` as these tests always were).
    static func generator(seed: UInt64) -> SeededGenerator { SeededGenerator(seed: seed &+ 0x9E37_79B9_7F4A_7C15) }

    /// Uniform values in [-1, 1).
    static func uniform(_ n: Int, _ d: Int, seed: UInt64) -> [Float] {
        var rng = TestData.generator(seed: seed)
        return (0..<(n * d)).map { _ in Float.random(in: -1..<1, using: &rng) }
    }

    /// Non-negative, L2-normalised vectors around a few centres, like CNN features.
    static func clustered(_ n: Int, _ d: Int, clusters: Int = 20, seed: UInt64) -> [Float] {
        var rng = TestData.generator(seed: seed)
        let centres = (0..<(clusters * d)).map { _ in Float.random(in: 0..<1, using: &rng) }
        var out = [Float](repeating: 0, count: n * d)
        for r in 0..<n {
            let c = Int.random(in: 0..<clusters, using: &rng)
            var norm: Float = 0
            for j in 0..<d {
                let v = max(0, centres[c * d + j] + Float.random(in: -0.3..<0.3, using: &rng))
                out[r * d + j] = v
                norm += v * v
            }
            let inverse = norm > 0 ? 1 / norm.squareRoot() : 0
            for j in 0..<d { out[r * d + j] *= inverse }
        }
        return out
    }

    /// The exact top-k ids by brute force, in double precision.
    static func exact(_ data: [Float], ids: [UInt64], _ query: ArraySlice<Float>, k: Int, metric: Metric) -> [UInt64] {
        let d = query.count
        let q = Array(query)
        var scored: [(Double, UInt64)] = []
        let qn = metric == .cosine ? q.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot() : 1
        for r in 0..<ids.count {
            var s = 0.0
            var rn = 0.0
            for j in 0..<d {
                let x = Double(data[r * d + j])
                let y = Double(q[j])
                if metric == .l2 { s -= (x - y) * (x - y) } else { s += x * y }
                rn += x * x
            }
            if metric == .cosine { s /= max(rn.squareRoot() * qn, 1e-30) }
            scored.append((s, ids[r]))
        }
        return scored.sorted { $0.0 > $1.0 }.prefix(k).map(\.1)
    }

    static func recall(_ found: [[SearchHit]], _ truth: [[UInt64]]) -> Double {
        var hits = 0
        var total = 0
        for (f, t) in zip(found, truth) {
            hits += Set(f.map(\.id)).intersection(t).count
            total += t.count
        }
        return Double(hits) / Double(max(total, 1))
    }

    /// A fresh empty directory under the system's temporary directory.
    static func temporaryDirectory(_ name: String) -> String {
        let path = NSTemporaryDirectory() + "vectorindex-tests-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try? FileManager.default.removeItem(atPath: path)
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Checks that each query's batched hits are its single-query hits: the same ids, and scores
    /// within `tolerance` (relative, at least 1 absolute).
    static func expectSameAsSingle(
        _ batched: [[SearchHit]], index: FlatIndex, queries: [Float], k: Int, tolerance: Float
    ) throws {
        let d = index.dimension
        #expect(batched.count == queries.count / d)
        for q in 0..<(queries.count / d) {
            let single = try index.search(Array(queries[(q * d)..<((q + 1) * d)]), k: k)
            #expect(batched[q].map(\.id) == single.map(\.id))
            for (a, b) in zip(batched[q], single) {
                #expect(abs(a.score - b.score) <= tolerance * max(1, abs(b.score)))
            }
        }
    }
}
