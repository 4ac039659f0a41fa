import Foundation
import ImageDecoding
import VSearchCore

/// A product cut-out on a cluttered background: the item photo, masked and scaled down, pasted
/// into a scene made of other catalogue photos, as a camera sees an object on a shelf or a desk.
///
/// The mask is an ellipse or a rounded rectangle. When the photo's border is nearly one colour (a
/// product shot on white, say), pixels of that colour are keyed out too, so the product itself is
/// cut out rather than its backdrop. The scene is either one other photo, or a clutter of patches
/// of several. Every choice is a number drawn from the seed, so a scene can be compared and redrawn.
public struct CutoutScene: Sendable, Equatable {
    /// The object's size as a fraction of the scene's (same aspect as the photo).
    public var scale: Double
    /// Where the object sits: fractions of the room left around it, 0 (left/top) to 1 (right/bottom).
    public var x: Double
    public var y: Double
    /// An elliptical mask; otherwise a rounded rectangle.
    public var ellipse: Bool
    /// The rounded rectangle's corner radius as a fraction of the object's shorter side.
    public var cornerRadius: Double
    /// Background choices in 0..<1, each naming another catalogue item (see ``backgroundItems(item:count:)``):
    /// one for a single photo, `grid × grid` for a clutter, with two more numbers per cell for the patch's origin.
    public var picks: [Double]
    /// 0 for a single background photo, otherwise the clutter's cells per side.
    public var grid: Int

    /// Draws a scene; the object's scale comes from `scales`, and a clutter background from `clutterShare`.
    static func random(
        scales: ClosedRange<Double>, clutterShare: Double, using generator: inout SeededGenerator
    ) -> CutoutScene {
        let scale = Double.random(in: scales, using: &generator)
        let x = Double.random(in: 0...1, using: &generator)
        let y = Double.random(in: 0...1, using: &generator)
        let ellipse = Bool.random(using: &generator)
        let cornerRadius = Double.random(in: 0.05...0.3, using: &generator)
        let clutter = Double.random(in: 0..<1, using: &generator) < clutterShare
        let grid = clutter ? Int.random(in: 2...3, using: &generator) : 0
        let count = grid == 0 ? 1 : grid * grid * 3
        let picks = (0..<count).map { _ in Double.random(in: 0..<1, using: &generator) }
        return CutoutScene(
            scale: scale, x: x, y: y, ellipse: ellipse, cornerRadius: cornerRadius, picks: picks, grid: grid)
    }

    /// The catalogue items the background is made of, for the query of `item` in a catalogue of
    /// `count`: never `item` itself (when there is another).
    public func backgroundItems(item: Int, count: Int) -> [Int] {
        guard count > 1 else { return [item] }
        let choices = grid == 0 ? picks : stride(from: 0, to: picks.count, by: 3).map { picks[$0] }
        return choices.map { (item + 1 + min(count - 2, Int($0 * Double(count - 1)))) % count }
    }

    /// Where ``render(_:backgrounds:)`` puts the object, as fractions of the scene.
    var placed: FractionalBox {
        FractionalBox(x: (1 - scale) * x, y: (1 - scale) * y, width: scale, height: scale)
    }

    /// The scene: `backgrounds` (one image per ``backgroundItems(item:count:)`` entry) behind the
    /// masked, scaled `image`, at the size of `image`.
    func render(_ image: Image, backgrounds: [Image]) -> Image {
        let (width, height) = (image.width, image.height)
        var scene = background(width: width, height: height, from: backgrounds) ?? image
        let objectWidth = max(1, Int((Double(width) * scale).rounded()))
        let objectHeight = max(1, Int((Double(height) * scale).rounded()))
        let object = PixelOps.resized(image, width: objectWidth, height: objectHeight)
        let left = Int((Double(width - objectWidth) * x).rounded())
        let top = Int((Double(height - objectHeight) * y).rounded())
        let key = PixelOps.uniformBorderColour(object)
        for v in 0..<objectHeight {
            for u in 0..<objectWidth {
                var alpha = shapeAlpha(u: u, v: v, width: objectWidth, height: objectHeight)
                let o = (v * objectWidth + u) * 3
                if let key, alpha > 0 {
                    alpha *= PixelOps.keyAlpha(object.pixels, at: o, key: key)
                }
                guard alpha > 0 else { continue }
                let s = ((top + v) * width + left + u) * 3
                for c in 0..<3 {
                    let blended = alpha * Double(object.pixels[o + c]) + (1 - alpha) * Double(scene.pixels[s + c])
                    scene.pixels[s + c] = UInt8(min(max(blended.rounded(), 0), 255))
                }
            }
        }
        return scene
    }

    /// The mask's opacity at pixel (u, v) of a `width × height` object, with a one-pixel soft edge.
    private func shapeAlpha(u: Int, v: Int, width: Int, height: Int) -> Double {
        let halfWidth = Double(width) / 2
        let halfHeight = Double(height) / 2
        let dx = abs(Double(u) + 0.5 - halfWidth)
        let dy = abs(Double(v) + 0.5 - halfHeight)
        // Signed distance to the edge in pixels, negative inside.
        let distance: Double
        if ellipse {
            let radial = ((dx / halfWidth) * (dx / halfWidth) + (dy / halfHeight) * (dy / halfHeight)).squareRoot()
            distance = (radial - 1) * min(halfWidth, halfHeight)
        } else {
            let radius = cornerRadius * Double(min(width, height))
            let qx = dx - (halfWidth - radius)
            let qy = dy - (halfHeight - radius)
            let outside = (max(qx, 0) * max(qx, 0) + max(qy, 0) * max(qy, 0)).squareRoot()
            distance = outside + min(max(qx, qy), 0) - radius
        }
        return min(max(0.5 - distance, 0), 1)
    }

    /// One photo covering the scene, or a grid of patches of several; nil without backgrounds.
    private func background(width: Int, height: Int, from backgrounds: [Image]) -> Image? {
        guard let first = backgrounds.first else { return nil }
        guard grid > 0 else { return PixelOps.covering(first, width: width, height: height) }
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for cell in 0..<(grid * grid) {
            let source = backgrounds[cell % backgrounds.count]
            let (column, row) = (cell % grid, cell / grid)
            let x0 = column * width / grid
            let y0 = row * height / grid
            let cellWidth = (column + 1) * width / grid - x0
            let cellHeight = (row + 1) * height / grid - y0
            guard cellWidth > 0, cellHeight > 0 else { continue }
            // A patch of the source at about the cell's scale, from a drawn place.
            let pick = 3 * cell + 1 < picks.count ? (picks[3 * cell + 1], picks[3 * cell + 2]) : (0.5, 0.5)
            let patchWidth = min(source.width, max(1, cellWidth * 2))
            let patchHeight = min(source.height, max(1, cellHeight * 2))
            let px = Int(pick.0 * Double(source.width - patchWidth))
            let py = Int(pick.1 * Double(source.height - patchHeight))
            let patch = PixelOps.resized(
                PixelOps.cropped(source, x: px, y: py, width: patchWidth, height: patchHeight), width: cellWidth,
                height: cellHeight)
            for v in 0..<cellHeight {
                let s = v * cellWidth * 3
                let d = ((y0 + v) * width + x0) * 3
                pixels.replaceSubrange(d..<(d + cellWidth * 3), with: patch.pixels[s..<(s + cellWidth * 3)])
            }
        }
        return Image(width: width, height: height, pixels: pixels)
    }
}

/// Small pixel operations for building evaluation scenes.
enum PixelOps {
    /// `image` resampled bilinearly to `width × height`, averaging 2 × 2 samples per pixel so that
    /// moderate reductions do not alias.
    static func resized(_ image: Image, width: Int, height: Int) -> Image {
        if image.width == width, image.height == height { return image }
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        let sx = Double(image.width) / Double(width)
        let sy = Double(image.height) / Double(height)
        image.pixels.withUnsafeBufferPointer { source in
            for v in 0..<height {
                for u in 0..<width {
                    var sum = (0.0, 0.0, 0.0)
                    for (ox, oy) in [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)] {
                        let sample = bilinear(
                            source, width: image.width, height: image.height, x: (Double(u) + ox) * sx - 0.5,
                            y: (Double(v) + oy) * sy - 0.5)
                        sum = (sum.0 + sample.0, sum.1 + sample.1, sum.2 + sample.2)
                    }
                    let o = (v * width + u) * 3
                    pixels[o] = UInt8(min(max((sum.0 / 4).rounded(), 0), 255))
                    pixels[o + 1] = UInt8(min(max((sum.1 / 4).rounded(), 0), 255))
                    pixels[o + 2] = UInt8(min(max((sum.2 / 4).rounded(), 0), 255))
                }
            }
        }
        return Image(width: width, height: height, pixels: pixels)
    }

    /// The `width × height` region of `image` at (`x`, `y`), clamped to the image.
    static func cropped(_ image: Image, x: Int, y: Int, width: Int, height: Int) -> Image {
        let x0 = min(max(x, 0), image.width - 1)
        let y0 = min(max(y, 0), image.height - 1)
        let w = max(1, min(width, image.width - x0))
        let h = max(1, min(height, image.height - y0))
        var pixels: [UInt8] = []
        pixels.reserveCapacity(w * h * 3)
        for row in y0..<(y0 + h) {
            let start = (row * image.width + x0) * 3
            pixels += image.pixels[start..<(start + w * 3)]
        }
        return Image(width: w, height: h, pixels: pixels)
    }

    /// `image` scaled to cover `width × height` and centre-cropped to it.
    static func covering(_ image: Image, width: Int, height: Int) -> Image {
        let scale = max(Double(width) / Double(image.width), Double(height) / Double(image.height))
        let cropWidth = min(image.width, max(1, Int((Double(width) / scale).rounded())))
        let cropHeight = min(image.height, max(1, Int((Double(height) / scale).rounded())))
        let region = cropped(
            image, x: (image.width - cropWidth) / 2, y: (image.height - cropHeight) / 2, width: cropWidth,
            height: cropHeight)
        return resized(region, width: width, height: height)
    }

    /// The colour of the image's border when it is nearly uniform (a studio backdrop), else nil.
    static func uniformBorderColour(_ image: Image) -> (Double, Double, Double)? {
        var samples: [(Double, Double, Double)] = []
        let step = max(1, (image.width + image.height) / 64)
        func add(_ x: Int, _ y: Int) {
            let (r, g, b) = image[x, y]
            samples.append((Double(r), Double(g), Double(b)))
        }
        for x in stride(from: 0, to: image.width, by: step) {
            add(x, 0)
            add(x, image.height - 1)
        }
        for y in stride(from: 0, to: image.height, by: step) {
            add(0, y)
            add(image.width - 1, y)
        }
        let n = Double(samples.count)
        let mean = samples.reduce((0.0, 0.0, 0.0)) { ($0.0 + $1.0 / n, $0.1 + $1.1 / n, $0.2 + $1.2 / n) }
        let spread = samples.map { keyDistance($0, mean) }.reduce(0, +) / n
        return spread < 12 ? mean : nil
    }

    /// Opacity of the pixel at byte offset `o`: 0 within a small distance of the key colour, 1 well away.
    static func keyAlpha(_ pixels: [UInt8], at o: Int, key: (Double, Double, Double)) -> Double {
        let distance = keyDistance((Double(pixels[o]), Double(pixels[o + 1]), Double(pixels[o + 2])), key)
        return min(max((distance - 20) / 20, 0), 1)
    }

    private static func keyDistance(_ a: (Double, Double, Double), _ b: (Double, Double, Double)) -> Double {
        max(abs(a.0 - b.0), abs(a.1 - b.1), abs(a.2 - b.2))
    }

    /// Bilinear sample with the border repeated.
    static func bilinear(_ source: UnsafeBufferPointer<UInt8>, width: Int, height: Int, x: Double, y: Double)
        -> (Double, Double, Double)
    {
        let cx = min(max(x, 0), Double(width - 1))
        let cy = min(max(y, 0), Double(height - 1))
        let x0 = Int(cx)
        let y0 = Int(cy)
        let x1 = min(x0 + 1, width - 1)
        let y1 = min(y0 + 1, height - 1)
        let fx = cx - Double(x0)
        let fy = cy - Double(y0)
        func channel(_ c: Int) -> Double {
            let a = Double(source[(y0 * width + x0) * 3 + c])
            let b = Double(source[(y0 * width + x1) * 3 + c])
            let d = Double(source[(y1 * width + x0) * 3 + c])
            let e = Double(source[(y1 * width + x1) * 3 + c])
            let top = a + (b - a) * fx
            return top + (d + (e - d) * fx - top) * fy
        }
        return (channel(0), channel(1), channel(2))
    }
}
