import CNNRuntime
import Foundation
import ImageDecoding
import ImageTensor
import LocalFeatures
import VSearchCore

/// Turns images into feature vectors with one model, loaded once.
///
/// A catalogue item's photo becomes one vector (``features(_:)``); a query picture becomes one or
/// more (``queryVectors(_:)``), as the model's `DescriptorSpec` says: with regions,
/// the whole picture's vector and one per window, and a query matches an item by its best one.
///
/// A featurizer is safe to share between tasks: the runtime gives each call
/// its own scratch memory, and decoding and preprocessing keep no state.
/// Batches amortise the network's per-call cost, so callers with many
/// images should hand them over together.
///
/// ```swift
/// let featurizer = try Featurizer(model: ModelDirectory(path: nil))
/// for (path, result) in zip(paths, await featurizer.embed(files: paths)) {
///     print(path, try result.get().count)
/// }
/// ```
public final class Featurizer: Sendable {
    /// How the featurizer runs.
    public struct Options: Sendable {
        /// Threads the network may use; nil lets the runtime choose (all cores).
        public var threads: Int?
        /// The largest batch handed to the network at once.
        public var maxBatch: Int
        /// Limits and switches for decoding.
        public var decoding: ImageDecodingOptions
        /// What happens when a batch fails in the network: by default each image is run again
        /// alone, so one bad image fails alone. The file pipeline here, the server's batcher and
        /// the catalogue ingest all follow this one policy.
        public var retry: RetryPolicy

        public init(
            threads: Int? = nil, maxBatch: Int = 8, decoding: ImageDecodingOptions = ImageDecodingOptions(),
            retry: RetryPolicy = .eachAlone
        ) {
            self.threads = threads
            self.maxBatch = max(1, maxBatch)
            self.decoding = decoding
            self.retry = retry
        }
    }

    /// The model's description, from its `model.json`.
    public let descriptor: ModelDescriptor
    /// ImageNet class names when the model has a classifier output.
    public let labels: [String]?
    public let options: Options

    private let network: CNNModel
    private let decoder: ImageDecoder
    private let preprocessor: ImagePreprocessor
    /// With a descriptor spec: the item and query inputs, and the pooling of the feature map.
    private let views: DescriptorViews?
    /// With a descriptor that verifies candidates (`DescriptorSpec.verify`): how pictures are
    /// described for that check.
    public let localFeatureExtractor: LocalFeatureExtractor?
    /// With a whitened blend (`DescriptorSpec.whitening`): the maps of the plain half and of the other.
    private let whitening: (plain: WhiteningMap, view: WhiteningMap)?

    /// Loads the model in `model`; the ONNX graph is parsed and planned once.
    public init(model: ModelDirectory, options: Options = Options()) throws(FeaturizerError) {
        descriptor = model.descriptor
        labels = model.labels()
        self.options = options
        decoder = ImageDecoder(options: options.decoding)
        do {
            preprocessor = try ImagePreprocessor(spec: descriptor.input)
        } catch {
            throw .model(path: model.url.path, reason: error.description)
        }
        var outputs = [descriptor.feature.output]
        if let logits = descriptor.logits?.output { outputs.append(logits) }
        if let spec = descriptor.descriptor {
            if let problem = spec.problem { throw .model(path: model.url.path, reason: problem) }
            do {
                views = try DescriptorViews(spec: spec, input: descriptor.input)
            } catch {
                throw .model(path: model.url.path, reason: error.description)
            }
            if !outputs.contains(spec.map) { outputs.append(spec.map) }
        } else {
            views = nil
        }
        if let file = model.descriptor.descriptor?.whitening {
            whitening = try WhiteningMap.pair(
                path: model.url.appendingPathComponent(file).path, channels: model.descriptor.feature.dimension)
        } else {
            whitening = nil
        }
        localFeatureExtractor = descriptor.descriptor?.verify.map { verify in
            var configuration = LocalFeatureExtractor.Configuration()
            configuration.maximumKeypoints = verify.keypoints
            configuration.longestSide = verify.longestSide
            return LocalFeatureExtractor(configuration: configuration)
        }
        do {
            network = try CNNModel(
                contentsOf: model.onnxURL, options: CNNModel.Options(threads: options.threads, outputs: outputs))
        } catch {
            throw .model(path: model.onnxURL.path, reason: error.description)
        }
    }

    /// The length of every stored and searched vector.
    public var dimension: Int { descriptor.vectorDimension }

    // MARK: Images in memory

    /// Decodes `bytes` at the size the model needs for `role`; `name` appears in errors.
    public func decode(bytes: [UInt8], name: String, for role: VectorRole = .item) throws(FeaturizerError) -> Image {
        do {
            return try decoder.decode(bytes: bytes, name: name, targetShortSide: decodeShortSide(for: role))
        } catch {
            throw .image(error)
        }
    }

    /// Decodes `bytes` as ``decode(bytes:name:for:)`` does, keeping the alpha channel when the file has
    /// one: a product shot's outline, inside which its local features are described.
    public func decodeWithAlpha(bytes: [UInt8], name: String, for role: VectorRole = .item) throws(FeaturizerError)
        -> ImageWithAlpha
    {
        do {
            return try decoder.decodeWithAlpha(bytes: bytes, name: name, targetShortSide: decodeShortSide(for: role))
        } catch {
            throw .image(error)
        }
    }

    /// Decodes the file at `path` at the size the model needs for `role`.
    public func decode(file path: String, for role: VectorRole = .item) throws(FeaturizerError) -> Image {
        do {
            return try decoder.decode(file: path, targetShortSide: decodeShortSide(for: role))
        } catch {
            throw .image(error)
        }
    }

    /// The short side a decoder must keep so that `role`'s input loses nothing.
    public func decodeShortSide(for role: VectorRole) -> Int {
        guard let views else { return preprocessor.decodeShortSide }
        // A blend also runs the plain input, which may need more of the picture than the views.
        let plain = views.spec.plainWeight == nil ? 0 : preprocessor.decodeShortSide
        // Local features are described at up to `longestSide`: a 4:3 picture needs ¾ of it.
        let local = views.spec.verify.map { ($0.longestSide * 3 + 3) / 4 } ?? 0
        return max(plain, local, views.decodeShortSide(for: role))
    }

    /// Runs the network on decoded images, `maxBatch` at a time.
    public func run(_ images: [Image]) throws(FeaturizerError) -> [Prediction] {
        var predictions: [Prediction] = []
        predictions.reserveCapacity(images.count)
        var start = 0
        while start < images.count {
            let end = min(images.count, start + options.maxBatch)
            predictions += try runBatch(Array(images[start..<end]))
            start = end
        }
        return predictions
    }

    /// Catalogue item vectors for decoded images: one per image, normalised when the model says so.
    public func features(_ images: [Image]) throws(FeaturizerError) -> [[Float]] {
        guard let views else { return try run(images).map(\.features) }
        let pooled = try pooled(images, views: views, role: .item).map { $0[0] }
        guard views.spec.plainWeight != nil else { return pooled }
        // Half and half: the query side carries the weight (see `DescriptorSpec.plainWeight`).
        return try zip(try run(images), pooled).map { (prediction, pooled) throws(FeaturizerError) in
            Self.blend(plain: try plainHalf(prediction.features), pooled: try pooledHalf(pooled), weight: 0.5)
        }
    }

    /// Query vectors for decoded images: for each image, the whole picture's vector first, then
    /// one per region when the model's descriptor has regions. With a plain weight, each window
    /// blended with the plain vector, and no whole-picture vector.
    public func queryVectors(_ images: [Image]) throws(FeaturizerError) -> [[[Float]]] {
        guard let views else { return try run(images).map { [$0.features] } }
        var queries = try pooled(images, views: views, role: .query)
        if let weight = views.spec.plainWeight {
            return try zip(try run(images), queries).map { (plain, vectors) throws(FeaturizerError) in
                let windows = vectors.count > 1 ? vectors.dropFirst() : vectors[...]
                let shared = try plainHalf(plain.features)
                return try windows.map { (window) throws(FeaturizerError) in
                    Self.blend(plain: shared, pooled: try pooledHalf(window), weight: weight)
                }
            }
        }
        if views.spec.wholeAsItem == true, !views.spec.regions.isEmpty {
            for (index, whole) in try features(images).enumerated() { queries[index][0] = whole }
        }
        return queries
    }

    /// The plain vector inside a blended one (its first half, normalised), when the model's
    /// descriptor blends one in (`DescriptorSpec.plainWeight`); nil otherwise. Every vector of a
    /// query has the same plain half: the whole frame's centre-crop vector.
    public func plainPart(of vector: [Float]) -> [Float]? {
        guard descriptor.descriptor?.plainWeight != nil, vector.count == dimension else { return nil }
        var plain = Array(vector[0..<descriptor.feature.dimension])
        Self.normalize(&plain)
        return plain
    }

    /// What a query's window vectors (all but the first) lose against its whole picture's.
    public var windowPenalty: Float { descriptor.descriptor?.windowPenalty ?? 0 }

    /// How many leading components a query's vectors share up to a scale: the plain part, which
    /// the blend recipe repeats in every window; 0 for other recipes. An exact index search
    /// scores it once per item instead of once per window.
    public var sharedPrefix: Int { descriptor.descriptor?.plainWeight == nil ? 0 : descriptor.feature.dimension }

    /// Vectors for `role`: one per item image, one or more per query image.
    public func vectors(_ images: [Image], for role: VectorRole) throws(FeaturizerError) -> [[[Float]]] {
        switch role {
        case .item: return try features(images).map { [$0] }
        case .query: return try queryVectors(images)
        }
    }

    // MARK: Files

    /// Catalogue item vectors for image files, one result per path, in order.
    ///
    /// The files of the next batch are decoded, in parallel, while the network runs the current
    /// one, and a file that fails to decode or to run fails alone.
    public func embed(files paths: [String]) async -> [Result<[Float], FeaturizerError>] {
        guard views != nil else { return await predict(files: paths).map { $0.map(\.features) } }
        return await vectors(files: paths, for: .item).map { $0.map { $0[0] } }
    }

    /// Vectors for `role` of image files, one result per path, in order; decoded a batch ahead of
    /// the network, and a file that fails fails alone.
    public func vectors(files paths: [String], for role: VectorRole) async -> [Result<[[Float]], FeaturizerError>] {
        await Self.pipelined(
            paths, batchSize: options.maxBatch, retry: options.retry,
            decode: { [self] path in decodeResult(file: path, for: role) },
            compute: { images throws(FeaturizerError) in try vectors(images, for: role) })
    }

    /// Pictures described for `role` as a search or a catalogue keeps them: their vectors and, when the
    /// model verifies candidates, their local features (described while the next batch is decoded).
    public func describe(files paths: [String], for role: VectorRole) async
        -> [Result<PictureDescription, FeaturizerError>]
    {
        await Self.pipelined(
            paths, batchSize: options.maxBatch, retry: options.retry,
            decode: { [self] path in decodeResult(file: path, for: role).map { ($0, localFeatures(of: $0)) } },
            compute: { decoded throws(FeaturizerError) in
                try zip(vectors(decoded.map(\.0), for: role), decoded).map {
                    PictureDescription(vectors: $0, localFeatures: $1.1)
                }
            })
    }

    /// The local features of a picture, when the model verifies candidates by them; nil otherwise.
    /// With `alpha` (an item photo's opacity, one byte per pixel) only its opaque part is described.
    public func localFeatures(of image: Image, alpha: [UInt8]? = nil) -> LocalFeatures? {
        guard let localFeatureExtractor else { return nil }
        let outline = alpha.flatMap { $0.count == image.width * image.height && $0.contains { $0 < 128 } ? $0 : nil }
        return localFeatureExtractor.features(of: image, alpha: outline)
    }

    /// The network's outputs for image files, one result per path, in order; decoded a batch ahead
    /// of the network, and a file that fails fails alone.
    public func predict(files paths: [String]) async -> [Result<Prediction, FeaturizerError>] {
        await Self.pipelined(
            paths, batchSize: options.maxBatch, retry: options.retry,
            decode: { [self] path in decodeResult(file: path, for: .item) },
            compute: { images throws(FeaturizerError) in try run(images) })
    }

    /// `compute`'s result for each file, in order: batches of `batchSize` files are decoded in
    /// parallel, one batch ahead of `compute` (``BatchPipeline``); a file that fails to decode
    /// fails alone, and a batch that fails in `compute` is handled as `retry` says.
    static func pipelined<File: Sendable, Decoded: Sendable, Output>(
        _ files: [File], batchSize: Int, retry: RetryPolicy,
        decode: @escaping @Sendable (File) -> Result<Decoded, FeaturizerError>,
        compute: ([Decoded]) throws(FeaturizerError) -> [Output]
    ) async -> [Result<Output, FeaturizerError>] {
        let size = max(1, batchSize)
        let batches = stride(from: 0, to: files.count, by: size).map { Array(files[$0..<min(files.count, $0 + size)]) }
        return await BatchPipeline.run(
            batches, prepare: { batch in await decodeConcurrently(batch, decode) },
            run: { decoded in
                var computed = retry.run(decoded.compactMap { try? $0.get() }, compute).makeIterator()
                return decoded.map { result in result.flatMap { _ in computed.next()! } }
            })
    }

    /// The `top` most likely classes for each prediction, from the logits.
    public func classes(of prediction: Prediction, top: Int = 5) -> [Classification] {
        guard let logits = prediction.logits, !logits.isEmpty else { return [] }
        let peak = logits.max() ?? 0
        let exps = logits.map { Foundation.exp($0 - peak) }
        let sum = exps.reduce(0, +)
        let ranked = exps.indices.sorted { exps[$0] > exps[$1] }.prefix(top)
        return ranked.map { index in
            let label = labels.flatMap { index < $0.count ? $0[index] : nil } ?? "class \(index)"
            return Classification(index: index, label: label, probability: exps[index] / sum)
        }
    }

    // MARK: Internals

    /// Decodes every file of a batch at once, each in a child task; results in the files' order.
    private static func decodeConcurrently<File: Sendable, Decoded: Sendable>(
        _ files: [File], _ decode: @escaping @Sendable (File) -> Result<Decoded, FeaturizerError>
    ) async -> [Result<Decoded, FeaturizerError>] {
        await withTaskGroup(of: (Int, Result<Decoded, FeaturizerError>).self) { group in
            for (index, file) in files.enumerated() {
                group.addTask { (index, decode(file)) }
            }
            var ordered = [Result<Decoded, FeaturizerError>?](repeating: nil, count: files.count)
            for await (index, result) in group { ordered[index] = result }
            return ordered.map { $0! }
        }
    }

    private func decodeResult(file path: String, for role: VectorRole) -> Result<Image, FeaturizerError> {
        do {
            return .success(try decode(file: path, for: role))
        } catch {
            return .failure(error)
        }
    }

    private func runBatch(_ images: [Image]) throws(FeaturizerError) -> [Prediction] {
        guard !images.isEmpty else { return [] }
        let input = preprocessor.tensor(images)
        let outputs: [String: Tensor]
        do {
            outputs = try network.run(inputName: descriptor.input.name, input: input)
        } catch {
            throw .inference(reason: error.description)
        }
        let features = try rows(of: descriptor.feature.output, in: outputs, count: images.count)
        let logits = try descriptor.logits.map { spec throws(FeaturizerError) in
            try rows(of: spec.output, in: outputs, count: images.count)
        }
        return features.indices.map { i in
            var vector = features[i]
            if descriptor.feature.normalize { Self.normalize(&vector) }
            return Prediction(features: vector, logits: logits?[i])
        }
    }

    /// Runs the network on `images` at each of `role`'s input sizes (one run per orientation and
    /// size) and pools the descriptor's feature map: per image, the whole map's vector (summed over
    /// the item sizes and normalised), then its regions' for queries.
    private func pooled(_ images: [Image], views: DescriptorViews, role: VectorRole) throws(FeaturizerError)
        -> [[[Float]]]
    {
        var results = [[[Float]]](repeating: [], count: images.count)
        let passes = views.passes(for: role)
        for (pass, sizes) in passes.enumerated() {
            for group in views.groups(images, views: sizes) {
                var start = 0
                while start < group.indices.count {
                    let end = min(group.indices.count, start + options.maxBatch)
                    let members = Array(group.indices[start..<end])
                    let input = group.preprocessor.tensor(members.map { images[$0] })
                    let outputs: [String: Tensor]
                    do {
                        outputs = try network.run(inputName: descriptor.input.name, input: input)
                    } catch {
                        throw .inference(reason: error.description)
                    }
                    let pooled = try views.pool(outputs[views.spec.map], count: members.count, role: role)
                    for (member, vectors) in zip(members, pooled) {
                        if pass == 0 {
                            results[member] = vectors
                        } else {
                            for i in vectors[0].indices { results[member][0][i] += vectors[0][i] }
                        }
                    }
                    start = end
                }
            }
        }
        if passes.count > 1 {
            for index in results.indices { Self.normalize(&results[index][0]) }
        }
        return results
    }

    /// The network's plain vector as a blend's first half: normalised, then whitened when the model
    /// says so (`DescriptorSpec.whitening`).
    func plainHalf(_ features: [Float]) throws(FeaturizerError) -> [Float] {
        var plain = features
        Self.normalize(&plain)
        return try whitening?.plain.apply(plain) ?? plain
    }

    /// A pooled unit vector as a blend's second half: whitened when the model says so.
    func pooledHalf(_ pooled: [Float]) throws(FeaturizerError) -> [Float] {
        try whitening?.view.apply(pooled) ?? pooled
    }

    /// [weight · plain ; (1 − weight) · pooled], normalised (`DescriptorSpec.plainWeight`), from the two
    /// unit halves (``plainHalf(_:)``, ``pooledHalf(_:)``).
    static func blend(plain: [Float], pooled: [Float], weight: Float) -> [Float] {
        var vector = plain.map { $0 * weight } + pooled.map { $0 * (1 - weight) }
        normalize(&vector)
        return vector
    }

    /// Splits a [N, ...] output into N flat rows, checking the feature size.
    private func rows(of name: String, in outputs: [String: Tensor], count: Int) throws(FeaturizerError) -> [[Float]] {
        guard let tensor = outputs[name] else { throw .inference(reason: "the model gave no output named '\(name)'") }
        guard count > 0, tensor.count % count == 0 else {
            throw .inference(reason: "output '\(name)' has shape \(tensor.shape) for a batch of \(count)")
        }
        let width = tensor.count / count
        if name == descriptor.feature.output, width != descriptor.feature.dimension {
            throw .inference(
                reason:
                    "output '\(name)' has \(width) values per image, model.json says \(descriptor.feature.dimension)"
            )
        }
        return (0..<count).map { Array(tensor.data[($0 * width)..<(($0 + 1) * width)]) }
    }

    static func normalize(_ vector: inout [Float]) { FeatureMapPooling.normalize(&vector) }
}

/// What a picture's vectors are for.
public enum VectorRole: Sendable {
    /// A catalogue item's photo: one vector, stored in the index.
    case item
    /// A picture searched for: one or more vectors, each searched, the best score counting.
    case query
}

/// What the network said about one image.
public struct Prediction: Sendable {
    /// The feature vector, normalised when the model says so.
    public var features: [Float]
    /// The classifier's raw scores, when the model has them.
    public var logits: [Float]?
}

/// A picture as a search uses it: its vectors (an item's one, or a query's several) and, when the
/// model verifies candidates (`DescriptorSpec.verify`), its local features.
public struct PictureDescription: Sendable {
    public var vectors: [[Float]]
    public var localFeatures: LocalFeatures?

    public init(vectors: [[Float]], localFeatures: LocalFeatures?) {
        self.vectors = vectors
        self.localFeatures = localFeatures
    }
}

/// One class of a classification.
public struct Classification: Sendable, Equatable {
    public var index: Int
    public var label: String
    public var probability: Float
}

/// Why a featurizer could not load or could not embed an image.
public enum FeaturizerError: VSearchError {
    case model(path: String, reason: String)
    case image(ImageDecodingError)
    case inference(reason: String)

    public var description: String {
        switch self {
        case .model(let path, let reason): return "\(path): cannot load the model: \(reason)"
        case .image(let error): return error.description
        case .inference(let reason): return "inference failed: \(reason)"
        }
    }
}
