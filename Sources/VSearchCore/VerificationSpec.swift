/// How a search re-ranks its best candidates by local features: the `verify` section of a model's
/// `descriptor` in `model.json`.
///
/// Every catalogue item keeps the local features of its photo (corners with binary descriptors). A
/// query's best `candidates` by vector score are checked against the query picture's own local
/// features, and each gains `weightPerMatch` for every match that one placement of the item in the
/// picture explains, up to `matchCap` matches. A small object in a cluttered scene keeps tens of
/// such matches with its own item and a handful with any other, so the check lifts the right item
/// where the vectors alone rank it second or fifth.
///
/// With the blend recipe (`DescriptorSpec.plainWeight`) the candidates are first ranked by the gated
/// fusion of the blend's two cosines (``fused(plain:window:)``), which finds an object in a scene more
/// often than the blend's fixed weights, and the check then raises them.
///
/// ```json
/// "verify": { "keypoints": 500, "longestSide": 480, "candidates": 20, "weightPerMatch": 0.005, "matchCap": 100,
///             "gate": 0.6 }
/// ```
///
/// It changes what a store keeps and how it ranks, so it is part of the model's identity: a model
/// that adds or changes it must change its `id`, and a store made without it is refused until
/// `vsearch reindex`.
public struct VerificationSpec: Codable, Sendable, Equatable {
    /// The most keypoints described per picture, item or query.
    public var keypoints: Int
    /// Pictures are shrunk so that their longest side is at most this before they are described.
    public var longestSide: Int
    /// How many of a query's best candidates are checked.
    public var candidates: Int
    /// What each consistent match adds to a candidate's score.
    public var weightPerMatch: Float
    /// Matches beyond this add nothing, so one richly textured item cannot outweigh every score.
    public var matchCap: Int
    /// For the blend recipe: the window cosine that, reached by a second item too, says the picture is a
    /// clutter of catalogue photos (see ``fused(plain:window:)``). Whitened cosines
    /// (``DescriptorSpec/whitening``) run lower, so the default model's whitened recipe uses 0.4.
    public var gate: Float
    /// A cheaper first look at each candidate, or nil to check every candidate in full.
    public var screen: Screen?

    /// A first look at each candidate with a sample of the query's keypoints: a candidate is checked in
    /// full only when the sample already finds `minimum` consistent matches, and otherwise gains nothing.
    ///
    /// Most candidates are not the object and share only chance matches with the picture, so most stop at
    /// the sample: the default model's screen checks about one candidate in six in full, and its check costs
    /// about a third of checking them all (Round 16 of `docs/retrieval.md`). A small object whose sample
    /// misses its matches loses its bonus.
    ///
    /// ```json
    /// "screen": { "every": 8, "minimum": 3 }
    /// ```
    public struct Screen: Codable, Sendable, Equatable {
        /// The sample is every `every`-th keypoint of the query picture.
        public var every: Int
        /// The consistent matches the sample must find for the candidate to be checked in full.
        public var minimum: Int

        public init(every: Int = 8, minimum: Int = 3) {
            self.every = every
            self.minimum = minimum
        }
    }

    /// Round 4's affordable setting (`docs/retrieval.md`).
    public init(
        keypoints: Int = 500, longestSide: Int = 480, candidates: Int = 20, weightPerMatch: Float = 0.005,
        matchCap: Int = 100, gate: Float = 0.6, screen: Screen? = nil
    ) {
        self.keypoints = keypoints
        self.longestSide = longestSide
        self.candidates = candidates
        self.weightPerMatch = weightPerMatch
        self.matchCap = matchCap
        self.gate = gate
        self.screen = screen
    }

    /// What a candidate with `matches` consistent matches gains.
    public func bonus(matches: Int) -> Float { weightPerMatch * Float(min(max(matches, 0), matchCap)) }

    /// The gated fusion G1 of the blend's two cosines, for items whose plain cosine is `plain[i]` and
    /// best window cosine `window[i]`.
    ///
    /// When a second item also has a window above ``gate``, the picture shows several catalogue photos
    /// (a photo pasted on another), and the plain half, which favours what fills the middle, must
    /// count: the two cosines are averaged. Otherwise an item scores the better of the two, so an
    /// object small in a scene is found by its window and a whole photo by its plain vector.
    public func fused(plain: [Float], window: [Float]) -> [Float] {
        precondition(plain.count == window.count, "one window cosine per plain cosine")
        var best = -Float.infinity
        var second = -Float.infinity
        for value in window {
            if value > best {
                second = best
                best = value
            } else if value > second {
                second = value
            }
        }
        if second > gate { return zip(plain, window).map { 0.5 * $0 + 0.5 * $1 } }
        return zip(plain, window).map { max($0, $1) }
    }

    /// Reads a `verify` section; a key left out takes Round 4's value.
    public init(from decoder: any Decoder) throws {
        let values = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = VerificationSpec()
        keypoints = try values.decodeIfPresent(Int.self, forKey: .keypoints) ?? defaults.keypoints
        longestSide = try values.decodeIfPresent(Int.self, forKey: .longestSide) ?? defaults.longestSide
        candidates = try values.decodeIfPresent(Int.self, forKey: .candidates) ?? defaults.candidates
        weightPerMatch = try values.decodeIfPresent(Float.self, forKey: .weightPerMatch) ?? defaults.weightPerMatch
        matchCap = try values.decodeIfPresent(Int.self, forKey: .matchCap) ?? defaults.matchCap
        gate = try values.decodeIfPresent(Float.self, forKey: .gate) ?? defaults.gate
        screen = try values.decodeIfPresent(Screen.self, forKey: .screen)
    }

    /// The first problem with this spec, if any.
    public var problem: String? {
        guard (8...20_000).contains(keypoints) else { return "descriptor.verify.keypoints must be from 8 to 20000" }
        guard (32...4_096).contains(longestSide) else {
            return "descriptor.verify.longestSide must be from 32 to 4096"
        }
        guard (1...1_000).contains(candidates) else { return "descriptor.verify.candidates must be from 1 to 1000" }
        guard weightPerMatch.isFinite, weightPerMatch > 0, weightPerMatch <= 1 else {
            return "descriptor.verify.weightPerMatch must be above 0 and at most 1"
        }
        guard matchCap >= 1 else { return "descriptor.verify.matchCap must be at least 1" }
        guard gate.isFinite, (-1...1).contains(gate) else { return "descriptor.verify.gate must be from -1 to 1" }
        if let screen {
            guard (2...64).contains(screen.every) else { return "descriptor.verify.screen.every must be from 2 to 64" }
            guard (1...keypoints).contains(screen.minimum) else {
                return "descriptor.verify.screen.minimum must be from 1 to the keypoints"
            }
        }
        return nil
    }
}
