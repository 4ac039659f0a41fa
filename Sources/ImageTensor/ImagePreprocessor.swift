import ImageDecoding
import VSearchCore

/// Turns a decoded picture into a model's input tensor, as `model.json` says.
///
/// With the default model it reproduces the usual ImageNet pipeline on
/// Pillow: resize so the short side is 256 (antialiased bilinear, the long
/// side rounded down as torchvision does), center-crop 224 × 224, then
/// `(pixel − mean) / std` per channel, channels first.
///
/// ```swift
/// let preprocessor = try ImagePreprocessor(spec: model.input)
/// let image = try ImageDecoder().decode(file: path, targetShortSide: preprocessor.decodeShortSide)
/// let input = preprocessor.tensor(image)  // [1, 3, 224, 224]
/// ```
///
/// It is a value with no mutable state, safe to share between tasks.
public struct ImagePreprocessor: Sendable {
    public let spec: ModelDescriptor.InputSpec
    private let filter: ResampleFilter
    /// `(p − mean) / std` for every byte value p, 256 per RGB channel.
    private let lookup: [Float]

    /// Checks `spec` and precomputes what every picture shares.
    public init(spec: ModelDescriptor.InputSpec) throws(PreprocessingError) {
        guard spec.width > 0, spec.height > 0 else {
            throw .invalidSpec(reason: "width and height must be positive, not \(spec.width)×\(spec.height)")
        }
        if let side = spec.resizeShortSide, side <= 0 {
            throw .invalidSpec(reason: "resizeShortSide must be positive, not \(side)")
        }
        guard spec.mean.count == 3, spec.std.count == 3 else {
            throw .invalidSpec(reason: "mean and std need 3 values each (R, G, B)")
        }
        guard spec.std.allSatisfy({ $0 != 0 && $0.isFinite }), spec.mean.allSatisfy(\.isFinite) else {
            throw .invalidSpec(reason: "std must be non-zero and mean and std finite")
        }
        self.spec = spec
        self.filter = ResampleFilter(spec.resample)
        var lookup = [Float](repeating: 0, count: 3 * 256)
        for channel in 0..<3 {
            for value in 0..<256 {
                lookup[channel * 256 + value] = (Float(value) - spec.mean[channel]) / spec.std[channel]
            }
        }
        self.lookup = lookup
    }

    /// The shortest side a decoder must keep for this preprocessing to lose
    /// nothing; pass it to `ImageDecoder.decode(…, targetShortSide:)`.
    public var decodeShortSide: Int {
        if let side = spec.resizeShortSide, spec.crop == .center { return side }
        return max(spec.width, spec.height)
    }

    /// Reads and decodes `path` for this preprocessing: a large JPEG is
    /// decoded straight at a reduced scale whose short side still covers
    /// `decodeShortSide`.
    public func image(file path: String, decoder: ImageDecoder = ImageDecoder()) throws(ImageDecodingError) -> Image {
        try decoder.decode(file: path, targetShortSide: decodeShortSide)
    }

    /// One picture's shape: `[3, height, width]` or `[height, width, 3]`.
    public var sampleShape: [Int] {
        spec.layout == .nchw ? [3, spec.height, spec.width] : [spec.height, spec.width, 3]
    }

    /// Floats per picture.
    public var sampleCount: Int { 3 * spec.width * spec.height }

    /// `image` as a batch of one, `[1] + sampleShape`.
    public func tensor(_ image: Image) -> Tensor {
        tensor([image])
    }

    /// `images` as one batch, `[images.count] + sampleShape`.
    public func tensor(_ images: [Image]) -> Tensor {
        let size = sampleCount
        let data = [Float](unsafeUninitializedCapacity: images.count * size) { buffer, initialized in
            for (index, image) in images.enumerated() {
                fill(image, into: UnsafeMutableBufferPointer(rebasing: buffer[(index * size)..<((index + 1) * size)]))
            }
            initialized = images.count * size
        }
        return Tensor(shape: [images.count] + sampleShape, data: data)
    }

    /// Writes `image` into slot `index` of a preallocated batch `[N] + sampleShape`.
    public func write(_ image: Image, into batch: inout Tensor, at index: Int) throws(PreprocessingError) {
        guard batch.shape.count == 4, Array(batch.shape.dropFirst()) == sampleShape else {
            throw .shapeMismatch(expected: [batch.shape.first ?? 1] + sampleShape, actual: batch.shape)
        }
        guard index >= 0, index < batch.shape[0] else {
            throw .indexOutOfRange(index: index, batchSize: batch.shape[0])
        }
        let size = sampleCount
        batch.data.withUnsafeMutableBufferPointer { buffer in
            fill(image, into: UnsafeMutableBufferPointer(rebasing: buffer[(index * size)..<((index + 1) * size)]))
        }
    }

    /// Writes `image` into `buffer`, which must hold exactly `sampleCount` floats.
    public func write(_ image: Image, into buffer: UnsafeMutableBufferPointer<Float>) throws(PreprocessingError) {
        guard buffer.count == sampleCount else {
            throw .shapeMismatch(expected: sampleShape, actual: [buffer.count])
        }
        fill(image, into: buffer)
    }

    /// Where the crop window sits on the resized picture.
    struct Geometry: Equatable {
        var resizedWidth: Int
        var resizedHeight: Int
        /// May be negative: torchvision pads with zeros when the crop is larger.
        var left: Int
        var top: Int
    }

    /// Sizes as torchvision computes them for a picture of `width × height`.
    func geometry(width: Int, height: Int) -> Geometry {
        guard let side = spec.resizeShortSide, spec.crop == .center else {
            return Geometry(resizedWidth: spec.width, resizedHeight: spec.height, left: 0, top: 0)
        }
        let shortSide = min(width, height)
        let longSide = max(width, height)
        let resizedLong = max(Int(Double(side * longSide) / Double(shortSide)), 1)
        let (w, h) = width <= height ? (side, resizedLong) : (resizedLong, side)
        return Geometry(
            resizedWidth: w, resizedHeight: h, left: Self.cropOffset(size: w, crop: spec.width),
            top: Self.cropOffset(size: h, crop: spec.height))
    }

    /// torchvision's `int(round((size − crop) / 2.0))`, with Python's round-half-even.
    static func cropOffset(size: Int, crop: Int) -> Int {
        if crop > size { return -((crop - size) / 2) }
        return Int((Double(size - crop) / 2).rounded(.toNearestOrEven))
    }

    private func fill(_ image: Image, into output: UnsafeMutableBufferPointer<Float>) {
        // The geometry follows the full-size picture, so a JPEG decoded at a
        // reduced DCT scale is cropped exactly where the full one would be.
        let geometry = geometry(width: image.sourceWidth, height: image.sourceHeight)
        let outWidth = spec.width
        let outHeight = spec.height
        let columns = max(geometry.left, 0)..<min(geometry.left + outWidth, geometry.resizedWidth)
        let rows = max(geometry.top, 0)..<min(geometry.top + outHeight, geometry.resizedHeight)
        if columns.count < outWidth || rows.count < outHeight {
            fillPadding(output)
        }
        guard !columns.isEmpty, !rows.isEmpty else { return }
        let resampler = Resampler(
            horizontal: ResampleCoefficients(
                inputSize: image.width, outputSize: geometry.resizedWidth, outputs: columns, filter: filter),
            vertical: ResampleCoefficients(
                inputSize: image.height, outputSize: geometry.resizedHeight, outputs: rows, filter: filter))
        let x0 = columns.lowerBound - geometry.left
        let y0 = rows.lowerBound - geometry.top
        let count = columns.count
        let plane = outWidth * outHeight
        // Channel c of the picture lands in tensor channel c (RGB) or 2 − c (BGR).
        let bgr = spec.colorOrder == .bgr
        let nchw = spec.layout == .nchw
        lookup.withUnsafeBufferPointer { lut in
            image.pixels.withUnsafeBufferPointer { pixels in
                resampler.run(pixels, width: image.width) { row, bytes in
                    let y = y0 + row
                    for channel in 0..<3 {
                        let slot = bgr ? 2 - channel : channel
                        let table = lut.baseAddress! + channel * 256
                        if nchw {
                            let line = output.baseAddress! + slot * plane + y * outWidth + x0
                            for x in 0..<count { line[x] = table[Int(bytes[x * 3 + channel])] }
                        } else {
                            let line = output.baseAddress! + (y * outWidth + x0) * 3 + slot
                            for x in 0..<count { line[x * 3] = table[Int(bytes[x * 3 + channel])] }
                        }
                    }
                }
            }
        }
    }

    /// The value of a zero pixel everywhere, for the parts a too-large crop pads.
    private func fillPadding(_ output: UnsafeMutableBufferPointer<Float>) {
        let plane = spec.width * spec.height
        for channel in 0..<3 {
            let slot = spec.colorOrder == .bgr ? 2 - channel : channel
            let value = lookup[channel * 256]
            for i in 0..<plane {
                output[spec.layout == .nchw ? slot * plane + i : i * 3 + slot] = value
            }
        }
    }
}
