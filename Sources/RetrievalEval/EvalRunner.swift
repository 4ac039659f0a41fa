import Featurizer
import Foundation
import ImageDecoding
import ImageOps
import VSearchCore

/// Turns decoded images into feature vectors; the seam between the benchmark and the network.
public protocol ImageEmbedder: Sendable {
    /// One catalogue vector per image, in order.
    func embed(_ images: [Image]) throws -> [[Float]]
    /// One or more query vectors per image, in order; an item scores its best score over them.
    func embedQueries(_ images: [Image]) throws -> [[[Float]]]
    /// Subtracted from the scores of a query's vectors after the first.
    var windowPenalty: Float { get }
}

extension ImageEmbedder {
    /// A query is the image's one catalogue vector.
    public func embedQueries(_ images: [Image]) throws -> [[[Float]]] { try embed(images).map { [$0] } }
    public var windowPenalty: Float { 0 }
}

extension Featurizer: ImageEmbedder {
    public func embed(_ images: [Image]) throws -> [[Float]] { try features(images) }
    public func embedQueries(_ images: [Image]) throws -> [[[Float]]] { try queryVectors(images) }
}

/// One generated query: which catalogue item it shows, and how it was distorted.
public struct EvalQuery: Sendable, Equatable {
    /// The index of the catalogue item the query was made from: the right answer.
    public var item: Int
    /// "all" for the full camera chain, or the one distortion kind applied.
    public var label: String
    public var distortion: QueryDistortion
}

/// An open retrieval benchmark: queries made from catalogue photos the way a camera sees a physical item,
/// searched against the catalogue, scored by where the photo they came from ranks.
public struct RetrievalEvaluation: Sendable {
    /// What to generate.
    public struct Options: Sendable {
        /// The seed every query's distortion follows from.
        public var seed: UInt64 = 1
        /// Queries through the full camera chain for each catalogue item.
        public var queriesPerItem = 3
        /// Also one query per item for each distortion kind alone, for a per-kind breakdown.
        public var perKind = true
        /// The ranges distortions are drawn from.
        public var settings = DistortionSettings()
        /// A folder to write every query image to (JPEG, quality 90), to see what the benchmark searches.
        public var queryFolder: String?
        /// Keeps every query's scores against every item (exact searches of in-memory photos only).
        public var scoreRecorder: EvalScoreRecorder?
        /// Re-ranks each query's best candidates by local features (exact searches of in-memory photos only).
        public var verification: CandidateVerification?
        /// Real scenes that are not catalogue items. When there are any, objects with alpha are pasted
        /// into these, as a camera sees a product in a room that is not itself in the catalogue;
        /// otherwise into the catalogue's own scene photos, which then compete with the object.
        public var heldOutScenes: [Image] = []

        public init() {}
    }

    /// The figures of one run.
    public struct Report: Sendable {
        /// Catalogue items.
        public var items: Int
        /// Full-chain queries.
        public var overall: RetrievalMetrics
        /// Queries with a single distortion kind, in `DistortionKind.allCases` order.
        public var byKind: [(kind: DistortionKind, metrics: RetrievalMetrics)]
        /// Every query with the rank its right answer reached (0: beyond the ranks searched), in order.
        public var ranks: [(query: EvalQuery, rank: Int)]
        /// Items left out because their photo could not be read, each with the reason.
        public var skipped: [String] = []
        /// Items whose photo has alpha: their cut-out queries paste the object into a real scene.
        public var objectItems: Set<Int> = []
        /// The pairs task (a different real photo of the same object as the query), when the catalogue has pairs.
        public var pairs: RetrievalMetrics?

        /// The rows to report, in order, each with queries: the full chain, each distortion alone, the
        /// cut-out row split into objects with alpha in real scenes and masked photos, and the pairs.
        public var rows: [(label: String, metrics: RetrievalMetrics)] {
            var rows = [("all", overall)] + byKind.map { ($0.kind.rawValue, $0.metrics) }
            let cutouts = ranks.filter { $0.query.label == DistortionKind.cutout.rawValue }
            if !objectItems.isEmpty, !cutouts.isEmpty {
                let (objects, masked) = (
                    cutouts.filter { objectItems.contains($0.query.item) },
                    cutouts.filter { !objectItems.contains($0.query.item) }
                )
                rows.append(("cutout/alpha", RetrievalMetrics(ranks: objects.map(\.rank))))
                rows.append(("cutout/mask", RetrievalMetrics(ranks: masked.map(\.rank))))
            }
            if let pairs { rows.append(("pairs", pairs)) }
            return rows.filter { $0.1.queries > 0 }
        }
    }

    public let embedder: any ImageEmbedder
    public let options: Options

    public init(embedder: any ImageEmbedder, options: Options = Options()) {
        self.embedder = embedder
        self.options = options
    }

    /// The queries for catalogue item `item`: the same for the same seed, whatever the other items are.
    public func queries(for item: Int) -> [EvalQuery] {
        var generator = SeededGenerator(seed: options.seed, stream: UInt64(item))
        // Object scenes come from a stream of their own, so that the other parameters are drawn
        // exactly as before they existed.
        var objectGenerator = SeededGenerator(seed: options.seed ^ 0x6F62_6A65_6374_7321, stream: UInt64(item))
        func withObjectScene(_ distortion: QueryDistortion) -> QueryDistortion {
            var distortion = distortion
            let scene = ObjectScene.random(scales: options.settings.objectScale, using: &objectGenerator)
            if distortion.cutout != nil { distortion.objectScene = scene }
            return distortion
        }
        var queries = (0..<options.queriesPerItem).map { _ in
            EvalQuery(
                item: item, label: "all",
                distortion: withObjectScene(QueryDistortion.random(settings: options.settings, using: &generator)))
        }
        if options.perKind {
            for kind in DistortionKind.allCases {
                // The cut-out row shows every query in a scene; the full chain only a share of them.
                var settings = options.settings
                if kind == .cutout { settings.cutoutShare = 1 }
                let distortion = withObjectScene(
                    QueryDistortion.random(kinds: [kind], settings: settings, using: &generator))
                queries.append(EvalQuery(item: item, label: kind.rawValue, distortion: distortion))
            }
        }
        return queries
    }

    /// Runs the benchmark on the catalogue photos `images` (named by `names` in errors; `alphas`
    /// their outlines, nil for a photo without), searched exactly against the vectors of the same
    /// photos; photos under `pairs/GROUP/` also make the pairs task (see ``PairTask``).
    public func run(images: [Image], names: [String], alphas: [[UInt8]?] = [], progress: ProgressReporter? = nil)
        async throws -> Report
    {
        let catalogue = try embedder.embed(images).map(Self.normalised)
        let photos = PhotosInMemory(images: images, names: names, alphas: alphas)
        var report = try await run(
            photos: photos,
            target: ExactRetrieval(
                vectors: catalogue, windowPenalty: embedder.windowPenalty, recorder: options.scoreRecorder,
                verification: options.verification.map { VerifiedCatalogue(settings: $0, photos: photos) }),
            progress: progress)
        report.pairs = PairTask(names: names).metrics(vectors: catalogue)
        return report
    }

    /// Runs the benchmark: queries made from every photo of `photos`, ranked by `target`.
    public func run(photos: any EvalPhotos, target: any RetrievalTarget, progress: ProgressReporter? = nil)
        async throws -> Report
    {
        var ranks: [(query: EvalQuery, rank: Int)] = []
        var skipped: [String] = []
        let objectItems = Set((0..<photos.count).filter { photos.alpha($0) != nil })
        let scenes = (0..<photos.count).filter { !objectItems.contains($0) }
        for item in 0..<photos.count {
            defer { progress?.advance() }
            let queries = queries(for: item)
            let image: Image
            do {
                image = try photos.photo(item)
            } catch {
                skipped.append("\(photos.name(of: item)): \(error)")
                continue
            }
            let distorted = try Self.render(
                queries, from: image, name: photos.name(of: item), alpha: photos.alpha(item), scenes: scenes,
                heldOut: options.heldOutScenes, backgrounds: { try photos.photo($0) }, item: item, count: photos.count)
            if let folder = options.queryFolder { try Self.save(distorted, of: queries, item: item, in: folder) }
            let vectors = try embedder.embedQueries(distorted).map { $0.map(Self.normalised) }
            let found = try await target.ranks(of: item, queries: vectors, pictures: distorted)
            for (query, rank) in zip(queries, found) {
                ranks.append((query, rank))
            }
        }
        progress?.finish()
        let overall = RetrievalMetrics(ranks: ranks.filter { $0.query.label == "all" }.map(\.rank))
        let byKind =
            options.perKind
            ? DistortionKind.allCases.map { kind in
                (kind, RetrievalMetrics(ranks: ranks.filter { $0.query.label == kind.rawValue }.map(\.rank)))
            } : []
        return Report(
            items: photos.count - skipped.count, overall: overall, byKind: byKind, ranks: ranks, skipped: skipped,
            objectItems: objectItems)
    }

    /// The distorted images, rendered in parallel (each query is independent); `backgrounds` loads
    /// the catalogue photos cut-out scenes are made of. With `alpha` (the photo's outline), a cut-out
    /// pastes the object into one of the real `scenes` (items without alpha) instead.
    static func render(
        _ queries: [EvalQuery], from image: Image, name: String, alpha: [UInt8]? = nil, scenes: [Int] = [],
        heldOut: [Image] = [],
        backgrounds: (Int) throws -> Image = { _ in
            throw EvalError.set("no background photos")
        }, item: Int = 0, count: Int = 1
    ) throws -> [Image] {
        let plans = try queries.map { query -> (images: [Image], alpha: [UInt8]?) in
            guard let cutout = query.distortion.cutout, count > 1 else { return ([], nil) }
            if let alpha, let objectScene = query.distortion.objectScene {
                if !heldOut.isEmpty {
                    return ([heldOut[min(heldOut.count - 1, Int(objectScene.pick * Double(heldOut.count)))]], alpha)
                }
                if let scene = objectScene.backgroundItem(item: item, scenes: scenes) {
                    return ([try backgrounds(scene)], alpha)
                }
            }
            return (try cutout.backgroundItems(item: item, count: count).map(backgrounds), nil)
        }
        let sceneImages = plans.map(\.images)
        let results = Locked([Result<Image, EvalError>?](repeating: nil, count: queries.count))
        WorkerThreads.forEach(queries.count) { index in
            let result = Result { () throws(EvalError) -> Image in
                try queries[index].distortion.apply(
                    to: image, name: name, backgrounds: sceneImages[index], alpha: plans[index].alpha)
            }
            results.withLock { $0[index] = result }
        }
        var images: [Image] = []
        for result in results.withLock({ $0 }) {
            switch result {
            case .success(let image)?: images.append(image)
            case .failure(let error)?: throw error
            case nil: throw EvalError.query(name: name, reason: "a query was not rendered")
            }
        }
        return images
    }

    /// Writes query images as `<item>-<label>-<n>.jpg`.
    static func save(_ images: [Image], of queries: [EvalQuery], item: Int, in folder: String) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for (n, (image, query)) in zip(images, queries).enumerated() {
            let path = folder + "/" + String(format: "%05d-%@-%d.jpg", item, query.label, n)
            let bytes = try JPEGEncoder.encode(image, quality: 90, name: path)
            guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
                throw EvalError.write(path: path, reason: "cannot write the query image")
            }
        }
    }

    static func normalised(_ vector: [Float]) -> [Float] {
        let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return norm > 0 ? vector.map { $0 / norm } : vector
    }
}

/// The catalogue photos an evaluation makes its queries from.
public protocol EvalPhotos: Sendable {
    /// How many items the catalogue has; items are numbered from 0.
    var count: Int { get }
    /// The item's name, for errors.
    func name(of item: Int) -> String
    /// The item's photo, decoded at the size queries are made at.
    func photo(_ item: Int) throws -> Image
    /// The outline of an item whose photo is a cut-out (one opacity byte per pixel of ``photo(_:)``),
    /// or nil for a photo without alpha.
    func alpha(_ item: Int) -> [UInt8]?
}

extension EvalPhotos {
    /// Without alpha: every item's cut-out query uses ``CutoutScene``'s mask.
    public func alpha(_ item: Int) -> [UInt8]? { nil }
}

/// Photos already decoded.
public struct PhotosInMemory: EvalPhotos {
    public let images: [Image]
    public let names: [String]
    /// Outlines of cut-out photos by item (see ``ObjectScene/outline(_:)``); missing entries are nil.
    public let alphas: [[UInt8]?]

    public init(images: [Image], names: [String], alphas: [[UInt8]?] = []) {
        self.images = images
        self.names = names
        self.alphas = alphas.map(ObjectScene.outline)
    }

    public var count: Int { images.count }
    public func name(of item: Int) -> String { item < names.count ? names[item] : "item \(item)" }
    public func photo(_ item: Int) throws -> Image { images[item] }
    public func alpha(_ item: Int) -> [UInt8]? { item < alphas.count ? alphas[item] : nil }
}

/// Where an evaluation's queries are searched.
///
/// `async`, because a catalogue in a database answers through a client that must not hold a
/// thread while it waits; searches in memory satisfy it synchronously.
public protocol RetrievalTarget: Sendable {
    /// For each query (one or more vectors) of catalogue item `item`, the rank (1 = first) the item
    /// reached; 0 when it is beyond the ranks the target looks at. An item scoring the same as the
    /// right one ranks ahead of it.
    func ranks(of item: Int, queries: [[[Float]]]) async throws -> [Int]

    /// The same, for a target that also looks at the query pictures themselves (one per query).
    func ranks(of item: Int, queries: [[[Float]]], pictures: [Image]) async throws -> [Int]
}

extension RetrievalTarget {
    /// Most targets rank by the vectors alone.
    public func ranks(of item: Int, queries: [[[Float]]], pictures: [Image]) async throws -> [Int] {
        try await ranks(of: item, queries: queries)
    }
}

/// Exact search over the catalogue's vectors (unit length), every rank counted.
public struct ExactRetrieval: RetrievalTarget {
    public let vectors: [[Float]]
    /// Subtracted from the scores of a query's window vectors (all but the first).
    public let windowPenalty: Float

    /// Keeps every query's scores, when given.
    public let recorder: EvalScoreRecorder?
    /// Re-ranks each query's best candidates by local features, when given.
    let verification: VerifiedCatalogue?

    public init(vectors: [[Float]], windowPenalty: Float = 0, recorder: EvalScoreRecorder? = nil) {
        self.init(vectors: vectors, windowPenalty: windowPenalty, recorder: recorder, verification: nil)
    }

    init(vectors: [[Float]], windowPenalty: Float, recorder: EvalScoreRecorder?, verification: VerifiedCatalogue?) {
        self.vectors = vectors
        self.windowPenalty = windowPenalty
        self.recorder = recorder
        self.verification = verification
    }

    public func ranks(of item: Int, queries: [[[Float]]], pictures: [Image]) throws -> [Int] {
        guard let verification else { return try ranks(of: item, queries: queries) }
        recorder?.record(item: item, queries: queries, catalogue: vectors)
        return zip(queries, pictures).map { query, picture in
            let scores = verification.scores(
                query: query, catalogue: vectors, windowPenalty: windowPenalty, picture: picture)
            return RetrievalMetrics.rank(of: item, scores: scores)
        }
    }

    public func ranks(of item: Int, queries: [[[Float]]]) throws -> [Int] {
        recorder?.record(item: item, queries: queries, catalogue: vectors)
        return queries.map { query in
            RetrievalMetrics.rank(
                of: item, scores: Self.scores(of: query, catalogue: vectors, windowPenalty: windowPenalty))
        }
    }

    /// Every catalogue vector's score for one query: its best over the query's vectors, each but the
    /// first less `windowPenalty`, as a store's region search scores it.
    static func scores(of query: [[Float]], catalogue: [[Float]], windowPenalty: Float) -> [Float] {
        catalogue.map { vector in
            query.enumerated().map { dot(vector, $1) - ($0 > 0 ? windowPenalty : 0) }.max() ?? -.infinity
        }
    }

    static func dot(_ a: [Float], _ b: [Float]) -> Float { dot(a, b, over: 0..<min(a.count, b.count)) }

    /// The dot product over the positions in `range` (a blend's plain prefix, or the rest).
    static func dot(_ a: [Float], _ b: [Float], over range: Range<Int>) -> Float {
        let upper = min(range.upperBound, a.count, b.count)
        guard range.lowerBound < upper else { return 0 }
        return a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                var sum: Float = 0
                for i in range.lowerBound..<upper { sum += a[i] * b[i] }
                return sum
            }
        }
    }
}
