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
        consensus(self.matches(query: query, candidate: candidate), query: query, candidate: candidate)
    }

    /// The same count for `query.picture`, or nil when its sample's consistent matches are fewer than
    /// `minimum` (the candidate is then not checked in full). A full check matches only the keypoints the
    /// sample left out and takes the sample's nearest neighbours as they were: each keypoint's are its own.
    public func consistentMatches(query: ScreenedQuery, candidate: LocalFeatures, minimum: Int) -> Int? {
        let sample = query.sample
        let sampled = guarded(sample, candidate) { nearestTwo(sample.descriptors, candidate) }
        guard consensus(passing(sampled), query: sample, candidate: candidate) >= minimum else { return nil }
        let rest = guarded(query.picture, candidate) { nearestTwo(query.rest, candidate) }
        // Too few keypoints on either side to split (or a minimum of 0 that let an empty sample through).
        guard sampled.count == sample.count, rest.count == query.restCount else {
            return consistentMatches(query: query.picture, candidate: candidate)
        }
        let all = (0..<query.picture.count).map { i in
            let (inSample, index) = query.position(of: i)
            return inSample ? sampled[index] : rest[index]
        }
        return consensus(passing(all), query: query.picture, candidate: candidate)
    }

    /// Query keypoint → candidate keypoint pairs that pass the ratio test.
    func matches(query: LocalFeatures, candidate: LocalFeatures) -> [(query: Int, candidate: Int)] {
        passing(guarded(query, candidate) { nearestTwo(query.descriptors, candidate) })
    }

    /// Each query descriptor's nearest candidate keypoint and the distances of its two nearest.
    typealias Neighbours = (nearest: Int32, first: Int32, second: Int32)

    /// `body`'s neighbours, or none when either picture has too few keypoints to match at all.
    private func guarded(_ query: LocalFeatures, _ candidate: LocalFeatures, _ body: () -> [Neighbours])
        -> [Neighbours]
    {
        query.count >= 2 && candidate.count >= 2 ? body() : []
    }

    private func nearestTwo(_ descriptors: [UInt64], _ candidate: LocalFeatures) -> [Neighbours] {
        let count = descriptors.count / 4
        guard count > 0 else { return [] }
        var nearest = [Int32](repeating: 0, count: count)
        var first = [Int32](repeating: 0, count: count)
        var second = [Int32](repeating: 0, count: count)
        descriptors.withUnsafeBufferPointer { q in
            candidate.descriptors.withUnsafeBufferPointer { c in
                lfk_two_nearest(q.baseAddress!, count, c.baseAddress!, candidate.count, &nearest, &first, &second)
            }
        }
        return (0..<count).map { (nearest[$0], first[$0], second[$0]) }
    }

    private func passing(_ neighbours: [Neighbours]) -> [(query: Int, candidate: Int)] {
        neighbours.indices.compactMap { i in
            let n = neighbours[i]
            return Float(n.first) < configuration.ratio * Float(n.second) ? (i, Int(n.nearest)) : nil
        }
    }

    private func consensus(_ matches: [(query: Int, candidate: Int)], query: LocalFeatures, candidate: LocalFeatures)
        -> Int
    {
        guard matches.count >= 4 else { return 0 }
        let source = matches.map { query.points[$0.query] }
        let target = matches.map { candidate.points[$0.candidate] }
        return largestConsensus(source: source, target: target)
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
