/// How images become the vectors that are stored and searched, when that is more than one
/// network output: the `descriptor` section of `model.json`.
///
/// A catalogue item is one vector: its whole photo, resized (not cropped) to `item`, run through
/// the network, and its feature map `map` pooled. A query is several vectors from one network
/// run on the whole picture at the larger `query` size: the whole map pooled, and every window
/// of `regions` cells pooled. A query's score for an item is its best vector's score, so an
/// object seen small somewhere in a cluttered scene is matched by the window that frames it.
///
/// ```json
/// "descriptor": {
///   "map": "head", "pooling": "gem", "power": 3,
///   "item": { "longSide": 224, "shortSide": 224 },
///   "query": { "longSide": 384, "shortSide": 288 },
///   "regions": [3, 5], "overlap": 0.5
/// }
/// ```
///
/// Everything here changes the vectors, so it is part of the model's identity: a model
/// directory that changes it must change its `id` too, and a store refuses queries and
/// ingests from another id until `vsearch reindex`.
public struct DescriptorSpec: Codable, Sendable, Equatable {
    /// The feature-map tensor (N × C × H × W) the vectors are pooled from: a graph output or
    /// any internal tensor's name. Its channel count is `feature.dimension`.
    public var map: String
    public var pooling: Pooling
    /// The exponent of generalised-mean pooling; 1 is the average, and larger values lean
    /// towards the maximum, so a few strongly activated cells (the object) outweigh the rest.
    public var power: Float
    /// The network input for a catalogue item's photo.
    public var item: ViewSize
    /// The network input for a query picture: larger, so a small object still covers cells.
    public var query: ViewSize
    /// Window sides, in feature-map cells, of the query's region vectors; empty for one
    /// whole-picture vector per query.
    public var regions: [Int]
    /// How much neighbouring windows of one size overlap, from 0 (side by side) to below 1.
    public var overlap: Float
    /// Keep only this many windows, those whose pooled activations are strongest (where an
    /// object most likely is), so a query costs this many searches plus one; nil keeps all.
    public var keep: Int?
    /// Subtracted from a window's score before it competes with the whole picture's, so a window
    /// wins only with clearly better evidence: a crop of the background that happens to look like
    /// another item loses to the picture as a whole. 0 when nil.
    public var windowPenalty: Float?
    /// Compute the query's whole-picture vector exactly as an item's (at `item`'s size), so a photo
    /// of a whole item is compared like for like, and only the windows come from the larger view.
    public var wholeAsItem: Bool?
    /// Further item sizes: the whole photo is also pooled at each, and the unit vectors of every
    /// size are summed, so an item matches a window that sees the object at any of those scales.
    public var extraItemSizes: [ViewSize]?
    /// Blends the model's plain vector into every stored and searched vector; nil for none.
    ///
    /// The plain vector is the model's `feature` output on its own input (the centre crop that
    /// `input` describes), the one a model without a descriptor stores. An item's vector becomes
    /// [plain ; pooled photo] / √2 and each query window's [weight · plain ; (1 − weight) · window],
    /// normalised, so one dot product scores weight · ⟨plain, plain⟩ + (1 − weight) · ⟨window,
    /// photo⟩, up to a factor that is the same for every item and window. The window term finds an
    /// object seen small in a scene; the plain term, which favours what fills the middle of the
    /// picture, keeps a photo pasted on another catalogue photo from matching that photo instead.
    /// The vectors have twice the network's channels, and a query's whole-picture vector is not
    /// used: its windows are its vectors.
    public var plainWeight: Float?
    /// Re-ranks a query's best candidates by local features; nil for none.
    public var verify: VerificationSpec?
    /// A file in the model's directory (`.npy`) holding a whitening learned without labels, which
    /// each half of a blended vector (the plain vector, the pooled photo or window) goes through
    /// before the halves are put together; nil for none. It needs `plainWeight`.
    ///
    /// The file is float32 of shape 2 × (1 + k) × (C + 1), one map per half, plain first: row 0
    /// holds the mean to subtract, each further row a unit direction and, last, what a vector's
    /// component along it is multiplied by, less one. The result is normalised. Whitening with the
    /// learning photos' first k principal directions scaled down finds small objects better,
    /// because what every photo shares stops dominating the cosine (Round 9 of docs/retrieval.md).
    public var whitening: String?

    public init(
        map: String, pooling: Pooling = .gem, power: Float = 3, item: ViewSize, query: ViewSize,
        regions: [Int] = [], overlap: Float = 0.5, keep: Int? = nil, windowPenalty: Float? = nil,
        wholeAsItem: Bool? = nil, extraItemSizes: [ViewSize]? = nil, plainWeight: Float? = nil,
        verify: VerificationSpec? = nil, whitening: String? = nil
    ) {
        self.map = map
        self.pooling = pooling
        self.power = power
        self.item = item
        self.query = query
        self.regions = regions
        self.overlap = overlap
        self.keep = keep
        self.windowPenalty = windowPenalty
        self.wholeAsItem = wholeAsItem
        self.extraItemSizes = extraItemSizes
        self.plainWeight = plainWeight
        self.verify = verify
        self.whitening = whitening
    }

    /// Every size an item's photo is pooled at: `item`, then `extraItemSizes`.
    public var itemSizes: [ViewSize] { [item] + (extraItemSizes ?? []) }

    /// How many numbers each stored and searched vector has, for a network map of `channels`.
    public func vectorDimension(channels: Int) -> Int { plainWeight == nil ? channels : 2 * channels }

    public enum Pooling: String, Codable, Sendable {
        /// The mean of each channel over the cells.
        case average
        /// The generalised mean, `(mean of x^power)^(1/power)`.
        case gem
    }

    /// A network input size for a picture of either orientation: a landscape picture is resized
    /// to `longSide` × `shortSide`, a portrait one to `shortSide` × `longSide` (the whole picture,
    /// its aspect ratio changed a little, never cropped, so an object near an edge stays in).
    public struct ViewSize: Codable, Sendable, Equatable {
        public var longSide: Int
        public var shortSide: Int

        public init(longSide: Int, shortSide: Int) {
            self.longSide = longSide
            self.shortSide = shortSide
        }

        /// Width and height for a picture of `width` × `height`.
        public func size(width: Int, height: Int) -> (width: Int, height: Int) {
            width >= height ? (longSide, shortSide) : (shortSide, longSide)
        }
    }

    /// The first problem with this spec, if any.
    public var problem: String? {
        let views = [("item", item), ("query", query)] + (extraItemSizes ?? []).map { ("extraItemSizes", $0) }
        for (name, view) in views {
            guard view.longSide > 0, view.shortSide > 0, view.shortSide <= view.longSide else {
                return "descriptor.\(name): longSide and shortSide must be positive, shortSide ≤ longSide"
            }
        }
        guard power.isFinite, power >= 1, power <= 16 else { return "descriptor.power must be from 1 to 16" }
        guard regions.allSatisfy({ $0 >= 1 }) else { return "descriptor.regions must be positive cell counts" }
        guard overlap >= 0, overlap < 1 else { return "descriptor.overlap must be from 0 to below 1" }
        if let keep, keep < 1 { return "descriptor.keep must be at least 1" }
        if let windowPenalty, !(0...1).contains(windowPenalty) { return "descriptor.windowPenalty must be from 0 to 1" }
        if let plainWeight, !(plainWeight > 0 && plainWeight < 1) {
            return "descriptor.plainWeight must be above 0 and below 1"
        }
        if let whitening {
            guard plainWeight != nil else { return "descriptor.whitening needs descriptor.plainWeight" }
            guard !whitening.isEmpty, !whitening.contains("/"), !whitening.hasPrefix(".") else {
                return "descriptor.whitening must name a file in the model's directory"
            }
        }
        return verify?.problem
    }
}
