import Foundation
import ImageDecoding
import VSearchCore

/// A photographed object with its own outline (an alpha channel) pasted small into a real scene
/// photo, as a shop or phone camera sees a product on a shelf: the query for a catalogue item
/// whose photo is a cut-out. The catalogue shows the same object over white (a product shot).
///
/// Unlike ``CutoutScene`` (an ellipse or rounded rectangle of the photo), nothing of the
/// object's own backdrop comes along, and the scene keeps its own size and aspect.
public struct ObjectScene: Sendable, Equatable {
    /// The object's longer side as a fraction of the scene's shorter side.
    public var scale: Double
    /// Where the object sits: fractions of the room left around it, 0 (left/top) to 1 (right/bottom).
    public var x: Double
    public var y: Double
    /// In 0..<1: which of the catalogue's scene photos is the background (see ``backgroundItem(item:scenes:)``).
    public var pick: Double

    public init(scale: Double, x: Double, y: Double, pick: Double) {
        self.scale = scale
        self.x = x
        self.y = y
        self.pick = pick
    }

    /// Draws a scene with the object's size from `scales`.
    static func random(scales: ClosedRange<Double>, using generator: inout SeededGenerator) -> ObjectScene {
        ObjectScene(
            scale: Double.random(in: scales, using: &generator), x: Double.random(in: 0...1, using: &generator),
            y: Double.random(in: 0...1, using: &generator), pick: Double.random(in: 0..<1, using: &generator))
    }

    /// The scene photo for the query of `item`: one of `scenes` (catalogue items without alpha,
    /// ascending), never `item` itself; nil when there is none.
    public func backgroundItem(item: Int, scenes: [Int]) -> Int? {
        let others = scenes.filter { $0 != item }
        guard !others.isEmpty else { return nil }
        return others[min(others.count - 1, Int(pick * Double(others.count)))]
    }

    /// `object` (composited over white, as decoded) pasted by its `alpha` into `scene`, at the
    /// scene's size. The object is first cropped to its outline, so the scale is the object's own.
    func render(_ object: Image, alpha: [UInt8], scene: Image) -> Image {
        paste(object, alpha: alpha, scene: scene).image
    }

    /// As ``render(_:alpha:scene:)``, with where the object went: its box in the result, as
    /// fractions of the result's width and height (nil when the alpha outlines nothing).
    func paste(_ object: Image, alpha: [UInt8], scene: Image) -> (image: Image, placed: FractionalBox?) {
        guard let box = Self.outlineBox(alpha, width: object.width, height: object.height) else { return (scene, nil) }
        let cropped = PixelOps.cropped(object, x: box.x, y: box.y, width: box.width, height: box.height)
        let mask = PixelOps.cropped(
            Self.grey(alpha, width: object.width, height: object.height), x: box.x, y: box.y, width: box.width,
            height: box.height)
        let longer = scale * Double(min(scene.width, scene.height))
        let factor = longer / Double(max(box.width, box.height))
        let width = min(scene.width, max(1, Int((Double(box.width) * factor).rounded())))
        let height = min(scene.height, max(1, Int((Double(box.height) * factor).rounded())))
        let small = PixelOps.reduced(cropped, width: width, height: height)
        let smallMask = PixelOps.reduced(mask, width: width, height: height)
        let left = Int((Double(scene.width - width) * x).rounded())
        let top = Int((Double(scene.height - height) * y).rounded())
        var result = scene
        for v in 0..<height {
            for u in 0..<width {
                let o = (v * width + u) * 3
                let a = Double(smallMask.pixels[o]) / 255
                guard a > 0 else { continue }
                let s = ((top + v) * scene.width + left + u) * 3
                for c in 0..<3 {
                    // The object was decoded over white (c·a + 255·(1 − a)); swapping the white for
                    // the scene is linear, so resampling colour and alpha apart leaves no white fringe.
                    let value = Double(small.pixels[o + c]) + (Double(scene.pixels[s + c]) - 255) * (1 - a)
                    result.pixels[s + c] = UInt8(min(max(value.rounded(), 0), 255))
                }
            }
        }
        let (sceneWidth, sceneHeight) = (Double(scene.width), Double(scene.height))
        let placed = FractionalBox(
            x: Double(left) / sceneWidth, y: Double(top) / sceneHeight, width: Double(width) / sceneWidth,
            height: Double(height) / sceneHeight)
        return (result, placed)
    }

    /// `alpha` when it outlines an object: at least 1 % of the picture clearly transparent and
    /// 1 % clearly opaque; nil for a plane that is (nearly) all opaque or all clear.
    public static func outline(_ alpha: [UInt8]?) -> [UInt8]? {
        guard let alpha, !alpha.isEmpty else { return nil }
        let clear = alpha.count { $0 < 128 }
        let least = max(1, alpha.count / 100)
        return clear >= least && alpha.count - clear >= least ? alpha : nil
    }

    /// The smallest rectangle holding every pixel more than faintly opaque.
    static func outlineBox(_ alpha: [UInt8], width: Int, height: Int) -> (x: Int, y: Int, width: Int, height: Int)? {
        var (minX, minY, maxX, maxY) = (width, height, -1, -1)
        for y in 0..<height {
            for x in 0..<width where alpha[y * width + x] > 8 {
                minX = min(minX, x)
                maxX = max(maxX, x)
                minY = min(minY, y)
                maxY = max(maxY, y)
            }
        }
        guard maxX >= minX else { return nil }
        return (minX, minY, maxX - minX + 1, maxY - minY + 1)
    }

    /// The plane as a grey picture, so the RGB pixel operations resample it.
    private static func grey(_ alpha: [UInt8], width: Int, height: Int) -> Image {
        Image(width: width, height: height, pixels: alpha.flatMap { [$0, $0, $0] })
    }
}

/// A rectangle in a picture, as fractions of its width and height.
public struct FractionalBox: Sendable, Equatable {
    public var x: Double, y: Double, width: Double, height: Double

    public init(x: Double, y: Double, width: Double, height: Double) {
        (self.x, self.y, self.width, self.height) = (x, y, width, height)
    }
}

extension PixelOps {
    /// `image` resampled to `width × height`, first halved by 2 × 2 averages while it is more than twice
    /// as large, so that a strong reduction (an object shrunk to a tenth) averages rather than aliases.
    static func reduced(_ image: Image, width: Int, height: Int) -> Image {
        var current = image
        while current.width >= 2 * width, current.height >= 2 * height, current.width >= 2, current.height >= 2 {
            let (w, h) = (current.width / 2, current.height / 2)
            var pixels = [UInt8](repeating: 0, count: w * h * 3)
            for y in 0..<h {
                for x in 0..<w {
                    for c in 0..<3 {
                        let a = Int(current.pixels[((2 * y) * current.width + 2 * x) * 3 + c])
                        let b = Int(current.pixels[((2 * y) * current.width + 2 * x + 1) * 3 + c])
                        let d = Int(current.pixels[((2 * y + 1) * current.width + 2 * x) * 3 + c])
                        let e = Int(current.pixels[((2 * y + 1) * current.width + 2 * x + 1) * 3 + c])
                        pixels[(y * w + x) * 3 + c] = UInt8((a + b + d + e + 2) / 4)
                    }
                }
            }
            current = Image(width: w, height: h, pixels: pixels)
        }
        return resized(current, width: width, height: height)
    }
}
