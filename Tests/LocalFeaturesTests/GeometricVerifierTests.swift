import Foundation
import Testing
import VSearchTesting

@testable import LocalFeatures

@Suite(.offThePool) struct GeometricVerifierTests {
    /// A turn of 30°, a scale of 1.7 and a shift, as [a −b; b a] x + t.
    static let truth = (a: Float(1.7 * 0.866_025), b: Float(1.7 * 0.5), t: SIMD2<Float>(40, -25))

    static func carried(_ p: SIMD2<Float>) -> SIMD2<Float> {
        SIMD2(truth.a * p.x - truth.b * p.y + truth.t.x, truth.b * p.x + truth.a * p.y + truth.t.y)
    }

    @Test func twoPointsFixTheSimilarity() throws {
        let (p, q) = (SIMD2<Float>(10, 20), SIMD2<Float>(-35, 7))
        let similarity = try #require(Similarity(from: (p, q), to: (Self.carried(p), Self.carried(q))))
        #expect(abs(similarity.a - Self.truth.a) < 1e-4 && abs(similarity.b - Self.truth.b) < 1e-4)
        let probe = SIMD2<Float>(123, -45)
        let error = similarity.apply(probe) - Self.carried(probe)
        #expect((error * error).sum() < 1e-4)
        #expect(Similarity(from: (p, p), to: (q, q)) == nil)
    }

    @Test func countsExactlyThePairsOneTransformCarries() {
        var generator = PatternGenerator(state: 7)
        var source: [SIMD2<Float>] = []
        var target: [SIMD2<Float>] = []
        for _ in 0..<60 {  // inliers, with up to 3 pixels of noise
            let p = SIMD2(Float(generator.uniform() * 300), Float(generator.uniform() * 300))
            let noise = SIMD2(Float(generator.uniform() * 4 - 2), Float(generator.uniform() * 4 - 2))
            source.append(p)
            target.append(Self.carried(p) + noise)
        }
        for _ in 0..<90 {  // outliers: at least 40 pixels from where the transform puts them
            let p = SIMD2(Float(generator.uniform() * 300), Float(generator.uniform() * 300))
            let angle = Float(generator.uniform() * 6.28)
            source.append(p)
            target.append(Self.carried(p) + SIMD2(cos(angle), sin(angle)) * Float(40 + generator.uniform() * 200))
        }
        let verifier = GeometricVerifier()
        // 60 of 150 pairs are inliers: RANSAC with 1,000 draws finds the transform almost surely; the fixed
        // seed makes the answer the same on every run.
        #expect(verifier.largestConsensus(source: source, target: target) == 60)
        #expect(verifier.largestConsensus(source: source, target: target) == 60)
        // Scattered pairs alone: no transform carries many of them.
        let scattered = verifier.largestConsensus(source: Array(source[60...]), target: Array(target[60...]))
        #expect(scattered < 10)
    }

    @Test func tooFewKeypointsMeanNoMatches() {
        let one = LocalFeatures(points: [SIMD2(5, 5)], angles: [0], descriptors: [1, 2, 3, 4])
        let none = LocalFeatures(points: [], angles: [], descriptors: [])
        let verifier = GeometricVerifier()
        #expect(verifier.consistentMatches(query: one, candidate: one) == 0)
        #expect(verifier.consistentMatches(query: none, candidate: one) == 0)
        #expect(verifier.consistentMatches(query: one, candidate: none) == 0)
    }
}
