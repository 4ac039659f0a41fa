import Foundation
import ImageDecoding

/// A separable gaussian blur on RGB pixels, the border repeated: how the retrieval evaluation makes a
/// query look out of focus.
public enum GaussianBlur {
    /// `image` blurred with standard deviation `sigma` pixels; unchanged below a third of a pixel.
    public static func apply(to image: Image, sigma: Double) -> Image {
        guard sigma >= 0.33 else { return image }
        let radius = max(1, Int((sigma * 3).rounded(.up)))
        var weights = (-radius...radius).map { exp(-Double($0 * $0) / (2 * sigma * sigma)) }
        let total = weights.reduce(0, +)
        weights = weights.map { $0 / total }
        let source = image.pixels.map(Double.init)
        let rows = pass(source, width: image.width, height: image.height, weights: weights, alongX: true)
        let both = pass(rows, width: image.width, height: image.height, weights: weights, alongX: false)
        let pixels = both.map { UInt8(min(max($0.rounded(), 0), 255)) }
        return Image(width: image.width, height: image.height, pixels: pixels)
    }

    /// One 1-D pass along x or y.
    private static func pass(_ pixels: [Double], width: Int, height: Int, weights: [Double], alongX: Bool) -> [Double] {
        let radius = weights.count / 2
        var output = [Double](repeating: 0, count: pixels.count)
        for y in 0..<height {
            for x in 0..<width {
                var sum = (0.0, 0.0, 0.0)
                for (k, weight) in weights.enumerated() {
                    let offset = k - radius
                    let column = alongX ? min(max(x + offset, 0), width - 1) : x
                    let row = alongX ? y : min(max(y + offset, 0), height - 1)
                    let i = (row * width + column) * 3
                    sum.0 += pixels[i] * weight
                    sum.1 += pixels[i + 1] * weight
                    sum.2 += pixels[i + 2] * weight
                }
                let o = (y * width + x) * 3
                (output[o], output[o + 1], output[o + 2]) = sum
            }
        }
        return output
    }
}
