import Foundation
import ImageDecoding
import LocalFeatures
import VSearchCore

/// How `vsearch eval --verify` re-ranks each query's best candidates by local features (Round 4 of
/// `docs/retrieval.md`), before the store can.
///
/// A candidate's score becomes its fused score plus `weightPerMatch · min(matches, matchCap)`, where
/// `matches` counts the query's keypoint matches to the candidate's photo that one similarity transform
/// explains. With a blend recipe the fused score is the gated fusion G1 of its two cosines: their mean when
/// a second item also has a window above `gateThreshold` (the query is a clutter of catalogue photos),
/// else the better of the two; with any other recipe it is the recipe's own score.
public struct CandidateVerification: Sendable {
    /// The blend's layout: its plain prefix's length and weight (`Featurizer.sharedPrefix`).
    public struct Blend: Sendable, Equatable {
        public var prefix: Int
        public var plainWeight: Float

        public init(prefix: Int, plainWeight: Float) {
            self.prefix = prefix
            self.plainWeight = plainWeight
        }
    }

    public var extractor: LocalFeatureExtractor
    public var verifier = GeometricVerifier()
    /// Candidates checked per query.
    public var candidates = 20
    public var weightPerMatch: Float = 0.005
    public var matchCap = 100
    public var gateThreshold: Float = 0.60
    /// Nil for a recipe of one part.
    public var blend: Blend?

    /// Round 4's affordable settings: 500 keypoints at 480 pixels, the best 20 candidates checked (1,500
    /// keypoints find a little more at four times the cost).
    public init(blend: Blend?) {
        var configuration = LocalFeatureExtractor.Configuration()
        configuration.maximumKeypoints = 500
        configuration.longestSide = 480
        extractor = LocalFeatureExtractor(configuration: configuration)
        self.blend = blend
    }
}

/// The catalogue's local features, made once, and the re-ranking of one query against them.
struct VerifiedCatalogue: Sendable {
    let settings: CandidateVerification
    let items: [LocalFeatures]

    /// Describes every photo (an item with alpha only inside its outline), in parallel.
    init(settings: CandidateVerification, photos: PhotosInMemory) {
        self.settings = settings
        let described = Locked([LocalFeatures?](repeating: nil, count: photos.count))
        DispatchQueue.concurrentPerform(iterations: photos.count) { i in
            let features = settings.extractor.features(of: photos.images[i], alpha: photos.alpha(i))
            described.withLock { $0[i] = features }
        }
        items = described.withLock { $0 }.map { $0! }
    }

    /// Every item's score for one query (its vectors, the first carrying the blend's plain part) seen in
    /// `picture`: the fused scores, with the best candidates raised by their consistent matches.
    func scores(query: [[Float]], catalogue: [[Float]], windowPenalty: Float, picture: Image) -> [Float] {
        var scores = fused(query: query, catalogue: catalogue, windowPenalty: windowPenalty)
        let features = settings.extractor.features(of: picture)
        let best = scores.indices.sorted { (scores[$0], $1) > (scores[$1], $0) }.prefix(settings.candidates)
        for candidate in best {
            let matches = settings.verifier.consistentMatches(query: features, candidate: items[candidate])
            scores[candidate] += settings.weightPerMatch * Float(min(matches, settings.matchCap))
        }
        return scores
    }

    /// G1 for a blend, from the two parts' cosines; the recipe's own best score otherwise.
    func fused(query: [[Float]], catalogue: [[Float]], windowPenalty: Float) -> [Float] {
        guard let blend = settings.blend, let first = query.first else {
            return catalogue.map { row in
                query.enumerated().map { ExactRetrieval.dot(row, $1) - ($0 > 0 ? windowPenalty : 0) }.max()
                    ?? -.infinity
            }
        }
        // A query vector is [p·q ; (1 − p)·w] / √(p² + (1 − p)²) and an item [a ; s] / √2, all four unit vectors.
        let p = blend.plainWeight
        let scale = (p * p + (1 - p) * (1 - p)).squareRoot() * (2 as Float).squareRoot()
        var plain = [Float](repeating: 0, count: catalogue.count)
        var window = [Float](repeating: 0, count: catalogue.count)
        for (i, row) in catalogue.enumerated() {
            let split = min(blend.prefix, row.count)
            plain[i] = ExactRetrieval.dot(first, row, over: 0..<split) * scale / p
            window[i] =
                (query.map { ExactRetrieval.dot($0, row, over: split..<row.count) }.max() ?? -.infinity) * scale
                / (1 - p)
        }
        let secondWindow = window.sorted(by: >).dropFirst().first ?? -.infinity
        if secondWindow > settings.gateThreshold { return zip(plain, window).map { 0.5 * $0 + 0.5 * $1 } }
        return zip(plain, window).map { max($0, $1) }
    }
}
