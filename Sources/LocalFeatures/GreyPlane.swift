import CLocalFeatureKernels
import ImageDecoding

/// One channel of 8-bit intensities, rows top to bottom: what corners are found and described on.
public struct GreyPlane: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// `width × height` bytes, row after row.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width > 0 && height > 0 && pixels.count == width * height, "pixels do not match the size")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// The luma of `image` (ITU-R BT.601 weights, in integers).
    public init(_ image: Image) {
        var pixels = [UInt8](repeating: 0, count: image.width * image.height)
        image.pixels.withUnsafeBufferPointer { rgb in
            for i in pixels.indices {
                let luma = 77 * Int(rgb[3 * i]) + 150 * Int(rgb[3 * i + 1]) + 29 * Int(rgb[3 * i + 2])
                pixels[i] = UInt8((luma + 128) >> 8)
            }
        }
        self.init(width: image.width, height: image.height, pixels: pixels)
    }

    /// The plane resampled bilinearly to `width × height`, pixel centres aligned.
    ///
    /// A pyramid step shrinks by 1.2, so each output pixel draws on a source pixel's neighbours only and
    /// bilinear sampling does not alias.
    func resampled(width: Int, height: Int) -> GreyPlane {
        // Fixed point: positions and weights in 1/256 of a pixel.
        func taps(_ count: Int, from source: Int) -> (first: [Int], weight: [Int32]) {
            let scale = Float(source) / Float(count)
            var first = [Int](repeating: 0, count: count)
            var weight = [Int32](repeating: 0, count: count)
            for o in 0..<count {
                let position = min(max((Float(o) + 0.5) * scale - 0.5, 0), Float(source - 1))
                first[o] = min(Int(position), source - 2 < 0 ? 0 : source - 2)
                weight[o] = Int32(((position - Float(first[o])) * 256).rounded())
            }
            return (first, weight)
        }
        let columns = taps(width, from: self.width)
        let rows = taps(height, from: self.height)
        var output = [UInt8](repeating: 0, count: width * height)
        lfk_resample(
            pixels, self.width, self.width > 1 ? 1 : 0, self.height > 1 ? self.width : 0, columns.first,
            columns.weight, rows.first, rows.weight, width, height, &output)
        return GreyPlane(width: width, height: height, pixels: output)
    }

    /// The plane smoothed by a 7-tap gaussian (σ = 2 pixels), the border repeated.
    ///
    /// A binary test compares two single pixels, so noise and JPEG blocking would flip its bits; comparing
    /// smoothed values makes the bits stable.
    func smoothed() -> GreyPlane {
        var rows = [UInt16](repeating: 0, count: pixels.count)
        var output = [UInt8](repeating: 0, count: pixels.count)
        lfk_smooth7(pixels, width, height, &rows, &output)
        return GreyPlane(width: width, height: height, pixels: output)
    }
}
