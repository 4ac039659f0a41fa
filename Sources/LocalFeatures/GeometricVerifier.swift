import CLocalFeatureKernels
import Foundation

/// Counts the local-feature matches between a query and a candidate that agree on one placement of the
/// candidate in the query: a shift, a turn and a change of size (a similarity transform).
///
/// A match is a query keypoint's nearest candidate descriptor by Hamming distance, kept when it is clearly
/// nearer than the next nearest (Lowe's ratio test). Matches of a wrong candidate scatter; matches of the
/// object itself land where one transform puts them. RANSAC finds that transform: it draws two matches,
/// which fix a similarity, counts the matches it carries to within `tolerance` pixels, and keeps the best.
/// The draws come from a fixed seed, so the same pair always gives the same count.
public struct GeometricVerifier: Sendable {
    public struct Configuration: Sendable, Equatable, Codable {
        /// A match is kept when its distance is below this fraction of the second nearest's.
        public var ratio: Float = 0.8
        /// How far, in the candidate's pixels, a match may land from where the transform puts it.
        public var tolerance: Float = 8
        /// The most RANSAC draws; fewer when the best count so far makes a better one unlikely.
        public var iterations: Int = 1_000

        public init() {}
    }

    public let configuration: Configuration

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// The matches of `query`'s keypoints to `candidate`'s that one similarity transform explains.
    public func consistentMatches(query: LocalFeatures, candidate: LocalFeatures) -> Int {
        let matches = self.matches(query: query, candidate: candidate)
        guard matches.count >= 4 else { return 0 }
        let source = matches.map { query.points[$0.query] }
        let target = matches.map { candidate.points[$0.candidate] }
        return largestConsensus(source: source, target: target)
    }

    /// Query keypoint → candidate keypoint pairs that pass the ratio test.
    func matches(query: LocalFeatures, candidate: LocalFeatures) -> [(query: Int, candidate: Int)] {
        guard query.count >= 2, candidate.count >= 2 else { return [] }
        var nearest = [Int32](repeating: 0, count: query.count)
        var first = [Int32](repeating: 0, count: query.count)
        var second = [Int32](repeating: 0, count: query.count)
        query.descriptors.withUnsafeBufferPointer { q in
            candidate.descriptors.withUnsafeBufferPointer { c in
                lfk_two_nearest(
                    q.baseAddress!, query.count, c.baseAddress!, candidate.count, &nearest, &first, &second)
            }
        }
        return (0..<query.count).compactMap { i in
            Float(first[i]) < configuration.ratio * Float(second[i]) ? (i, Int(nearest[i])) : nil
        }
    }

    /// The most pairs that one similarity transform carries from `source` to within `tolerance` of `target`.
    func largestConsensus(source: [SIMD2<Float>], target: [SIMD2<Float>]) -> Int {
        let count = source.count
        let tolerance = configuration.tolerance * configuration.tolerance
        var generator = PatternGenerator(state: 0x2A)
        var best = 0
        var needed = configuration.iterations
        var draw = 0
        while draw < needed {
            draw += 1
            let i = generator.below(count)
            var j = generator.below(count - 1)
            if j >= i { j += 1 }
            guard let transform = Similarity(from: (source[i], source[j]), to: (target[i], target[j])) else {
                continue
            }
            var inliers = 0
            for k in 0..<count {
                let error = transform.apply(source[k]) - target[k]
                if (error * error).sum() <= tolerance { inliers += 1 }
            }
            if inliers > best {
                best = inliers
                needed = min(configuration.iterations, Self.drawsNeeded(inlierShare: Double(best) / Double(count)))
            }
        }
        return best
    }

    /// Draws after which a sample of two inliers has been seen with 99 % confidence.
    static func drawsNeeded(inlierShare: Double) -> Int {
        let bothInliers = inlierShare * inlierShare
        guard bothInliers < 1 else { return 1 }
        guard bothInliers > 0 else { return Int.max }
        let draws = (Foundation.log(0.01) / Foundation.log(1 - bothInliers)).rounded(.up)
        return draws.isFinite ? Int(min(draws, 1e9)) : Int.max
    }
}

/// x ↦ [a −b; b a] x + t.
struct Similarity: Sendable, Equatable {
    var a: Float
    var b: Float
    var t: SIMD2<Float>

    /// The similarity that carries the two source points onto the two target points; nil when the source
    /// points coincide.
    init?(from source: (SIMD2<Float>, SIMD2<Float>), to target: (SIMD2<Float>, SIMD2<Float>)) {
        let s = source.1 - source.0
        let d = target.1 - target.0
        let norm = (s * s).sum()
        guard norm > 1e-6 else { return nil }
        // (a + ib) = d / s as complex numbers.
        a = (d.x * s.x + d.y * s.y) / norm
        b = (d.y * s.x - d.x * s.y) / norm
        t = .zero
        t = target.0 - apply(source.0)
    }

    func apply(_ p: SIMD2<Float>) -> SIMD2<Float> {
        SIMD2(a * p.x - b * p.y + t.x, b * p.x + a * p.y + t.y)
    }
}
