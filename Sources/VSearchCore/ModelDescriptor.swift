/// The contents of a model directory's `model.json`.
///
/// A model directory holds `model.onnx` and this descriptor. It says how to
/// turn an image into the model's input, which tensor is the feature, and an
/// identifier stored with every vector so that vectors from different models
/// are never compared.
///
/// ```json
/// {
///   "id": "efficientnet-lite0/1",
///   "name": "EfficientNet-Lite0",
///   "onnx": "model.onnx",
///   "input": {
///     "name": "input", "width": 224, "height": 224,
///     "resizeShortSide": 256, "resample": "bilinear", "crop": "center",
///     "mean": [127, 127, 127], "std": [128, 128, 128],
///     "colorOrder": "RGB", "layout": "NCHW"
///   },
///   "feature": { "output": "features", "dimension": 1280, "normalize": true },
///   "logits": { "output": "logits", "labels": "labels.txt" }
/// }
/// ```
public struct ModelDescriptor: Codable, Sendable, Equatable {
    /// Stored with every vector; change it whenever the features change.
    public var id: String
    /// A name for people.
    public var name: String
    /// The ONNX file, relative to the model directory.
    public var onnx: String
    public var input: InputSpec
    public var feature: FeatureSpec
    /// The classifier output, for `vsearch classify`; optional.
    public var logits: LogitsSpec?
    /// How catalogue items and queries become vectors when they are not simply `feature`: pooled
    /// from a feature map, and a query as several region vectors. Optional; without it every image
    /// is `input` → `feature`.
    public var descriptor: DescriptorSpec?

    /// How many numbers each stored and searched vector has: `feature.dimension`, doubled when
    /// the descriptor blends in the plain vector.
    public var vectorDimension: Int { descriptor?.vectorDimension(channels: feature.dimension) ?? feature.dimension }

    public init(
        id: String, name: String, onnx: String = "model.onnx", input: InputSpec, feature: FeatureSpec,
        logits: LogitsSpec? = nil, descriptor: DescriptorSpec? = nil
    ) {
        self.id = id
        self.name = name
        self.onnx = onnx
        self.input = input
        self.feature = feature
        self.logits = logits
        self.descriptor = descriptor
    }

    /// How an image becomes the input tensor.
    public struct InputSpec: Codable, Sendable, Equatable {
        /// The graph input's name.
        public var name: String
        /// The tensor's spatial size.
        public var width: Int
        public var height: Int
        /// Resize so the short side has this length, keeping the aspect
        /// ratio, then crop. When nil, resize straight to width × height.
        public var resizeShortSide: Int?
        public var resample: Resample
        public var crop: Crop
        /// Per channel, in 0–255 pixel units and in R, G, B order whatever
        /// `colorOrder` is: value = (pixel − mean) / std.
        public var mean: [Float]
        public var std: [Float]
        public var colorOrder: ColorOrder
        public var layout: Layout

        public init(
            name: String, width: Int, height: Int, resizeShortSide: Int?, resample: Resample = .bilinear,
            crop: Crop = .center, mean: [Float], std: [Float], colorOrder: ColorOrder = .rgb,
            layout: Layout = .nchw
        ) {
            self.name = name
            self.width = width
            self.height = height
            self.resizeShortSide = resizeShortSide
            self.resample = resample
            self.crop = crop
            self.mean = mean
            self.std = std
            self.colorOrder = colorOrder
            self.layout = layout
        }
    }

    /// Resampling filters, matching Pillow's antialiased resize.
    public enum Resample: String, Codable, Sendable {
        case bilinear
        case area
        case bicubic
    }

    public enum Crop: String, Codable, Sendable {
        case center
        case none
    }

    public enum ColorOrder: String, Codable, Sendable {
        case rgb = "RGB"
        case bgr = "BGR"
    }

    public enum Layout: String, Codable, Sendable {
        case nchw = "NCHW"
        case nhwc = "NHWC"
    }

    /// Which tensor is the feature vector.
    public struct FeatureSpec: Codable, Sendable, Equatable {
        /// A graph output or any internal tensor's name (the cut-point).
        public var output: String
        public var dimension: Int
        /// L2-normalise, for cosine and inner-product search.
        public var normalize: Bool

        public init(output: String, dimension: Int, normalize: Bool) {
            self.output = output
            self.dimension = dimension
            self.normalize = normalize
        }
    }

    public struct LogitsSpec: Codable, Sendable, Equatable {
        public var output: String
        /// A text file in the model directory, one class name per line.
        public var labels: String?

        public init(output: String, labels: String?) {
            self.output = output
            self.labels = labels
        }
    }
}
