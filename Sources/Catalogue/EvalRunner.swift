import Featurizer
import Foundation
import ImageDecoding
import VSearchCore

/// Turns decoded images into feature vectors; the seam between the benchmark and the network.
public protocol ImageEmbedder: Sendable {
    /// One feature vector per image, in order.
    func embed(_ images: [Image]) throws -> [[Float]]
}

extension Featurizer: ImageEmbedder {
    public func embed(_ images: [Image]) throws -> [[Float]] { try features(images) }
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
        /// Every query with the rank its right answer reached, in order.
        public var ranks: [(query: EvalQuery, rank: Int)]
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
        var queries = (0..<options.queriesPerItem).map { _ in
            EvalQuery(
                item: item, label: "all",
                distortion: QueryDistortion.random(settings: options.settings, using: &generator))
        }
        if options.perKind {
            for kind in DistortionKind.allCases {
                let distortion = QueryDistortion.random(kinds: [kind], settings: options.settings, using: &generator)
                queries.append(EvalQuery(item: item, label: kind.rawValue, distortion: distortion))
            }
        }
        return queries
    }

    /// Runs the benchmark on the catalogue photos `images` (named by `names` in errors).
    public func run(images: [Image], names: [String], progress: ProgressReporter? = nil) throws -> Report {
        let catalogue = try embedder.embed(images).map(Self.normalised)
        var ranks: [(query: EvalQuery, rank: Int)] = []
        for (item, image) in images.enumerated() {
            let queries = queries(for: item)
            let name = item < names.count ? names[item] : "item \(item)"
            let distorted = try Self.render(queries, from: image, name: name)
            let vectors = try embedder.embed(distorted).map(Self.normalised)
            for (query, vector) in zip(queries, vectors) {
                let scores = catalogue.map { Self.dot($0, vector) }
                ranks.append((query, RetrievalMetrics.rank(of: item, scores: scores)))
            }
            progress?.advance()
        }
        progress?.finish()
        let overall = RetrievalMetrics(ranks: ranks.filter { $0.query.label == "all" }.map(\.rank))
        let byKind =
            options.perKind
            ? DistortionKind.allCases.map { kind in
                (kind, RetrievalMetrics(ranks: ranks.filter { $0.query.label == kind.rawValue }.map(\.rank)))
            } : []
        return Report(items: images.count, overall: overall, byKind: byKind, ranks: ranks)
    }

    /// The distorted images, rendered in parallel (each query is independent).
    static func render(_ queries: [EvalQuery], from image: Image, name: String) throws(CatalogueError) -> [Image] {
        let results = LockedResults<Result<Image, CatalogueError>>(count: queries.count)
        DispatchQueue.concurrentPerform(iterations: queries.count) { index in
            let result = Result { () throws(CatalogueError) -> Image in
                try queries[index].distortion.apply(to: image, name: name)
            }
            results.set(index, result)
        }
        var images: [Image] = []
        for result in results.values {
            switch result {
            case .success(let image)?: images.append(image)
            case .failure(let error)?: throw error
            case nil: throw .content(url: name, reason: "a query was not rendered")
            }
        }
        return images
    }

    private static func normalised(_ vector: [Float]) -> [Float] {
        let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return norm > 0 ? vector.map { $0 / norm } : vector
    }

    private static func dot(_ a: [Float], _ b: [Float]) -> Float {
        var sum: Float = 0
        for i in 0..<min(a.count, b.count) { sum += a[i] * b[i] }
        return sum
    }
}

/// Results written by parallel workers into their own slots.
private final class LockedResults<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [Value?]

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ value: Value) {
        lock.lock()
        slots[index] = value
        lock.unlock()
    }

    var values: [Value?] {
        lock.lock()
        defer { lock.unlock() }
        return slots
    }
}
