import ImageDecoding
import ImageTensor
import VSearchCore

/// The network inputs and the pooling a ``VSearchCore/DescriptorSpec`` describes.
///
/// Each input size has one preprocessor per orientation, so a batch of pictures runs in at most
/// two network calls per size, and every picture is resized whole (never cropped) to its
/// orientation's size. A query has one size; an item has `item` and any `extraItemSizes`.
struct DescriptorViews: Sendable {
    let spec: DescriptorSpec
    private let items: [Orientations]
    private let query: Orientations
    private let pooling: FeatureMapPooling

    /// Preprocessors for a landscape and a portrait picture of one input size.
    struct Orientations: Sendable {
        let landscape: ImagePreprocessor
        let portrait: ImagePreprocessor

        init(_ view: DescriptorSpec.ViewSize, input: ModelDescriptor.InputSpec) throws(PreprocessingError) {
            func spec(width: Int, height: Int) -> ModelDescriptor.InputSpec {
                var spec = input
                spec.width = width
                spec.height = height
                spec.resizeShortSide = nil
                spec.crop = .none
                return spec
            }
            landscape = try ImagePreprocessor(spec: spec(width: view.longSide, height: view.shortSide))
            portrait = try ImagePreprocessor(spec: spec(width: view.shortSide, height: view.longSide))
        }
    }

    init(spec: DescriptorSpec, input: ModelDescriptor.InputSpec) throws(PreprocessingError) {
        self.spec = spec
        items = try spec.itemSizes.map { size throws(PreprocessingError) in
            try Orientations(size, input: input)
        }
        query = try Orientations(spec.query, input: input)
        pooling = FeatureMapPooling(spec: spec)
    }

    /// The picture's short side maps onto the view's short side, so a decoder may shrink it to that.
    func decodeShortSide(for role: VectorRole) -> Int {
        role == .item ? spec.itemSizes.map(\.shortSide).max()! : spec.query.shortSide
    }

    /// The input sizes a picture of `role` is run at: one network pass each.
    func passes(for role: VectorRole) -> [Orientations] { role == .item ? items : [query] }

    /// `images`' indices grouped by the preprocessor (orientation) each needs in `views`.
    func groups(_ images: [Image], views: Orientations) -> [(preprocessor: ImagePreprocessor, indices: [Int])] {
        let landscape = images.indices.filter { images[$0].width >= images[$0].height }
        let portrait = images.indices.filter { images[$0].width < images[$0].height }
        return [(views.landscape, landscape), (views.portrait, portrait)].filter { !$0.1.isEmpty }
    }

    /// Each image's vectors from the feature map `map` ([count, C, H, W]): the whole map's, then
    /// (for queries) every region's.
    func pool(_ map: Tensor?, count: Int, role: VectorRole) throws(FeaturizerError) -> [[[Float]]] {
        guard let map else { throw .inference(reason: "the model gave no tensor named '\(spec.map)'") }
        guard map.shape.count == 4, map.shape[0] == count else {
            throw .inference(reason: "'\(spec.map)' has shape \(map.shape), expected [\(count), C, H, W]")
        }
        let (channels, height, width) = (map.shape[1], map.shape[2], map.shape[3])
        let size = channels * height * width
        return map.data.withUnsafeBufferPointer { all in
            (0..<count).map { n in
                let one = UnsafeBufferPointer(rebasing: all[(n * size)..<((n + 1) * size)])
                switch role {
                case .item: return [pooling.whole(one, channels: channels, height: height, width: width)]
                case .query: return pooling.windows(one, channels: channels, height: height, width: width)
                }
            }
        }
    }
}
