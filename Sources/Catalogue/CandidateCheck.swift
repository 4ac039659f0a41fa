import Featurizer
import Foundation
import LocalFeatures
import VSearchCore

/// How a region search ranks each query picture's best candidates when the model verifies them by
/// local features (`DescriptorSpec.verify`, Round 4 of `docs/retrieval.md`).
///
/// Every backend follows this one rule on the hits its index found:
/// 1. with the blend recipe, an item's score becomes the gated fusion G1 of the blend's two cosines
///    (`VerificationSpec.fused(plain:window:)`), recovered from its best vector score and the score of
///    the query's plain half alone; with any other recipe it keeps its vector score;
/// 2. the best `spec.candidates` by that score gain `spec.bonus(matches:)` for their local-feature
///    matches with the picture that one placement explains (`GeometricVerifier`, in `LocalFeatures`).
public struct CandidateCheck: Sendable {
    public var spec: VerificationSpec
    /// The blend's plain weight (`DescriptorSpec.plainWeight`) when the vectors are blends; nil otherwise.
    public var plainWeight: Float?
    /// Each query picture's local features, in the order of the queries; a picture without them (nil,
    /// or past the end) is ranked by the fused score alone (a device that sends none, or a query vector).
    public var pictures: [LocalFeatures?]
    let verifier = GeometricVerifier()

    public init(spec: VerificationSpec, plainWeight: Float?, pictures: [LocalFeatures?] = []) {
        self.spec = spec
        self.plainWeight = plainWeight
        self.pictures = pictures
    }

    /// The local features of query picture `index`, if it has them.
    public func features(ofPicture index: Int) -> LocalFeatures? {
        index < pictures.count ? pictures[index] : nil
    }

    /// Whether candidates are fused by G1, which needs each hit's plain-half score.
    public var fusesBlend: Bool { plainWeight != nil }

    /// Step 1: one picture's hits ranked by their fused score, best first.
    ///
    /// `hits` are the picture's items with their best vector scores; `plainScores[i]`, for a blend, is the
    /// dot product of the query's plain half (``plainHalf(of:prefix:)``) with hit i's vector. Without
    /// them the hits keep their scores. Ties are broken by `ordered`, as the backend breaks them.
    public func fused<Hit>(
        _ hits: [Hit], score: WritableKeyPath<Hit, Float>, plainScores: [Float]?, ordered: (Hit, Hit) -> Bool
    ) -> [Hit] {
        var fused = hits
        if let plainWeight, let plainScores, plainScores.count == hits.count {
            // A window vector is [p·q ; (1 − p)·w] / √(p² + (1 − p)²) and an item's [a ; s] / √2, all four
            // unit vectors: the prefix's dot product is p·⟨q, a⟩ / scale, the rest's (1 − p)·⟨w, s⟩ / scale.
            let p = plainWeight
            let scale = (p * p + (1 - p) * (1 - p)).squareRoot() * (2 as Float).squareRoot()
            let plain = plainScores.map { $0 * scale / p }
            let window = zip(hits, plainScores).map { ($0[keyPath: score] - $1) * scale / (1 - p) }
            for (i, value) in spec.fused(plain: plain, window: window).enumerated() { fused[i][keyPath: score] = value }
        }
        return Self.sorted(fused, score, ordered)
    }

    /// How many of the fused hits step 2 checks: the backend reads their stored local features.
    public func checkedCount(of hits: Int) -> Int { min(hits, spec.candidates) }

    /// Step 2: the first ``checkedCount(of:)`` of the fused hits raised by their consistent matches with
    /// `picture`, best first again; with a screen (`VerificationSpec.screen`), a candidate whose sample
    /// finds too few gains nothing. `stored` gives a hit's stored local features, nil when it has none
    /// (it then keeps its score). `alongside`, if given, runs on one of the cores the check shares, beside
    /// the candidates: a backend reads the matches' items there instead of after the check.
    public func raised<Hit>(
        _ fused: [Hit], score: WritableKeyPath<Hit, Float>, picture: LocalFeatures, stored: (Hit) -> LocalFeatures?,
        ordered: (Hit, Hit) -> Bool, alongside: (@Sendable () -> Void)? = nil
    ) -> [Hit] {
        var hits = fused
        let count = checkedCount(of: hits.count)
        let candidates = (0..<count).map { stored(hits[$0]) }
        let query = self.query(picture)
        // The candidates are independent: the cores share them (about 0.2 ms each at 500 keypoints, a small
        // part of that for a screened one that stops at its sample). The work beside them is the first iteration,
        // so it starts at once and the candidates fill the other cores.
        let first = alongside == nil ? 0 : 1
        let matches = Locked([Int](repeating: 0, count: count))
        HelperThreads.shared.forEach(count + first) { iteration in
            guard iteration >= first else {
                alongside?()
                return
            }
            let i = iteration - first
            guard let candidate = candidates[i] else { return }
            let found = self.matches(query, candidate: candidate).matches
            matches.withLock { $0[i] = found }
        }
        for (i, found) in matches.withLock({ $0 }).enumerated() {
            hits[i][keyPath: score] += spec.bonus(matches: found)
        }
        // A raised score only grows, so the candidates stay ahead of every hit after them.
        hits.replaceSubrange(0..<count, with: Self.sorted(Array(hits[0..<count]), score, ordered))
        return hits
    }

    /// A query picture as the check matches it: split into its sample and the rest when the model screens.
    public struct Query: Sendable {
        let picture: LocalFeatures
        let screened: ScreenedQuery?
    }

    /// `picture` prepared once for all the candidates it is checked against.
    public func query(_ picture: LocalFeatures) -> Query {
        Query(picture: picture, screened: spec.screen.map { ScreenedQuery(picture, every: $0.every) })
    }

    /// One candidate's consistent matches with the query, and whether it was checked in full: with a screen,
    /// a candidate whose sample finds fewer than the screen's minimum has none.
    public func matches(_ query: Query, candidate: LocalFeatures) -> (matches: Int, inFull: Bool) {
        guard let screened = query.screened, let screen = spec.screen else {
            return (verifier.consistentMatches(query: query.picture, candidate: candidate), true)
        }
        let found = verifier.consistentMatches(query: screened, candidate: candidate, minimum: screen.minimum)
        return (found ?? 0, found != nil)
    }

    /// `hits` best first, ties broken by `ordered`. The scores are read once: a key path read in every
    /// comparison cost more than the rest of the fusion.
    private static func sorted<Hit>(_ hits: [Hit], _ score: WritableKeyPath<Hit, Float>, _ ordered: (Hit, Hit) -> Bool)
        -> [Hit]
    {
        let scores = hits.map { $0[keyPath: score] }
        let order = hits.indices.sorted { a, b in
            scores[a] != scores[b] ? scores[a] > scores[b] : ordered(hits[a], hits[b])
        }
        return order.map { hits[$0] }
    }

    /// The query's plain half alone: its first vector with everything after the blend's `prefix` zeroed,
    /// whose dot product with an item's vector is the plain-half score ``fused(_:score:plainScores:ordered:)``
    /// needs.
    public static func plainHalf(of vector: [Float], prefix: Int) -> [Float] {
        var half = vector
        for i in min(prefix, half.count)..<half.count { half[i] = 0 }
        return half
    }
}

extension CandidateCheck {
    /// The check `featurizer`'s model asks for (`DescriptorSpec.verify`), for pictures with these local
    /// features; nil when the model verifies nothing.
    public init?(model featurizer: Featurizer, pictures: [LocalFeatures?] = []) {
        guard let spec = featurizer.descriptor.descriptor?.verify else { return nil }
        self.init(spec: spec, plainWeight: featurizer.descriptor.descriptor?.plainWeight, pictures: pictures)
    }
}
