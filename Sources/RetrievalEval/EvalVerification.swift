import Catalogue
import Foundation
import ImageDecoding
import LocalFeatures
import VSearchCore

/// How `vsearch eval --verify` re-ranks each query's best candidates by local features: the rule a store's
/// search follows for a model with `DescriptorSpec.verify` (`CandidateCheck` in `Catalogue`), applied to every item.
///
/// With a blend recipe the candidates are ranked by the gated fusion G1 of its two cosines, and the best
/// `spec.candidates` gain `spec.bonus(matches:)` for their keypoint matches to the query picture that one
/// similarity transform explains (Round 4 of `docs/retrieval.md`).
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
    public var check: CandidateCheck
    /// Nil for a recipe of one part.
    public var blend: Blend?

    /// `spec` defaults to Round 4's affordable setting: 500 keypoints at 480 pixels, the best 20
    /// candidates checked.
    public init(spec: VerificationSpec = VerificationSpec(), blend: Blend?) {
        var configuration = LocalFeatureExtractor.Configuration()
        configuration.maximumKeypoints = spec.keypoints
        configuration.longestSide = spec.longestSide
        extractor = LocalFeatureExtractor(configuration: configuration)
        check = CandidateCheck(spec: spec, plainWeight: blend?.plainWeight)
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
        WorkerThreads.forEach(photos.count) { i in
            let features = settings.extractor.features(of: photos.images[i], alpha: photos.alpha(i))
            described.withLock { $0[i] = features }
        }
        items = described.withLock { $0 }.map { $0! }
    }

    /// One item's score for a query.
    struct Scored {
        var item: Int
        var score: Float
    }

    /// Every item's score for one query (its vectors, the first carrying the blend's plain part) seen in
    /// `picture`: the fused scores, with the best candidates raised by their consistent matches.
    func scores(query: [[Float]], catalogue: [[Float]], windowPenalty: Float, picture: Image) -> [Float] {
        let features = settings.extractor.features(of: picture)
        let raised = settings.check.raised(
            fusedHits(query: query, catalogue: catalogue, windowPenalty: windowPenalty), score: \.score,
            picture: features, stored: { items[$0.item] }, ordered: { $0.item < $1.item })
        return Self.byItem(raised, count: catalogue.count)
    }

    /// Every item's fused score (G1 for a blend, the recipe's own score otherwise), by item.
    func fused(query: [[Float]], catalogue: [[Float]], windowPenalty: Float) -> [Float] {
        Self.byItem(fusedHits(query: query, catalogue: catalogue, windowPenalty: windowPenalty), count: catalogue.count)
    }

    private func fusedHits(query: [[Float]], catalogue: [[Float]], windowPenalty: Float) -> [Scored] {
        let best = ExactRetrieval.scores(of: query, catalogue: catalogue, windowPenalty: windowPenalty)
        let hits = best.enumerated().map { Scored(item: $0, score: $1) }
        let plainScores = settings.blend.flatMap { blend in
            query.first.map { first in catalogue.map { ExactRetrieval.dot(first, $0, over: 0..<blend.prefix) } }
        }
        return settings.check.fused(hits, score: \.score, plainScores: plainScores, ordered: { $0.item < $1.item })
    }

    private static func byItem(_ hits: [Scored], count: Int) -> [Float] {
        var scores = [Float](repeating: -.infinity, count: count)
        for hit in hits { scores[hit.item] = hit.score }
        return scores
    }
}
