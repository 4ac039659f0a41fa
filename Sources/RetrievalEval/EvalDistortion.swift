import Foundation
import ImageDecoding
import ImageOps
import VSearchCore

/// The kinds of change a camera makes to a photo of a physical item.
public enum DistortionKind: String, CaseIterable, Sendable {
    /// Framing: a crop of 60–90 % of the picture.
    case crop
    /// Holding the phone at a slant: an in-plane rotation.
    case rotate
    /// Seeing the item from an angle: a perspective (keystone) change.
    case perspective
    /// Different light: brightness, contrast, saturation and white balance.
    case colour
    /// Focus and motion: a gaussian blur.
    case blur
    /// The camera's compression: JPEG re-encoding at low quality.
    case jpeg
    /// The object in a scene: a masked, scaled-down cut-out on other catalogue photos or a clutter of them.
    case cutout
}

/// The ranges the query distortions are drawn from.
public struct DistortionSettings: Sendable, Equatable {
    /// The crop's side as a fraction of the photo's side.
    public var cropFraction: ClosedRange<Double> = 0.6...0.9
    /// The largest rotation, either way, in degrees.
    public var maxRotationDegrees: Double = 10
    /// The largest projective term: at 0.15 the far edge of the picture is about 15 % shorter than the near one.
    public var maxPerspective: Double = 0.15
    /// The largest brightness shift, as a fraction of full scale.
    public var maxBrightness: Double = 0.2
    /// The contrast factor.
    public var contrast: ClosedRange<Double> = 0.7...1.3
    /// The saturation factor.
    public var saturation: ClosedRange<Double> = 0.6...1.4
    /// The largest per-channel white-balance gain change (0.15 → gains in 0.85...1.15).
    public var maxWhiteBalance: Double = 0.15
    /// The blur's standard deviation as a fraction of the picture's short side (0.005 ≈ 1.1 px at 224).
    public var blurSigma: ClosedRange<Double> = 0...0.005
    /// The JPEG quality, or nil for no re-encoding.
    public var jpegQuality: ClosedRange<Int>? = 40...70
    /// The share of full-chain queries that show the item as a cut-out in a scene.
    public var cutoutShare = 0.3
    /// The cut-out's size as a fraction of the scene's.
    public var cutoutScale: ClosedRange<Double> = 0.5...0.8
    /// The share of cut-out scenes whose background is a clutter of patches rather than one photo.
    public var clutterShare = 0.5
    /// For an item whose photo has alpha: the object's longer side as a fraction of the real
    /// scene's shorter side it is pasted into (see ``ObjectScene``).
    public var objectScale: ClosedRange<Double> = 0.25...0.6

    public init() {}
}

/// One query's distortion: every parameter drawn, so that it can be applied, compared and printed.
public struct QueryDistortion: Sendable, Equatable {
    /// The crop as fractions of the photo: origin and size.
    public var cropX = 0.0, cropY = 0.0, cropWidth = 1.0, cropHeight = 1.0
    /// Rotation in radians.
    public var rotation = 0.0
    /// The projective terms along x and y (in coordinates normalised to -1...1).
    public var perspectiveX = 0.0, perspectiveY = 0.0
    /// Brightness shift (fraction of full scale), contrast and saturation factors.
    public var brightness = 0.0, contrast = 1.0, saturation = 1.0
    /// White-balance gains for red, green and blue.
    public var gains: (Double, Double, Double) = (1, 1, 1)
    /// Blur standard deviation as a fraction of the short side.
    public var blurSigma = 0.0
    /// JPEG quality, or nil for no re-encoding.
    public var jpegQuality: Int?
    /// The scene the item is pasted into first, or nil to show the photo as it is.
    public var cutout: CutoutScene?
    /// With `cutout`, for an item whose photo has alpha: the real scene the object is pasted into
    /// by its own outline instead of the cut-out's mask.
    public var objectScene: ObjectScene?

    /// No change at all: the query is the catalogue photo itself.
    public static let identity = QueryDistortion()

    public init() {}

    public static func == (a: QueryDistortion, b: QueryDistortion) -> Bool {
        a.cropX == b.cropX && a.cropY == b.cropY && a.cropWidth == b.cropWidth && a.cropHeight == b.cropHeight
            && a.rotation == b.rotation && a.perspectiveX == b.perspectiveX && a.perspectiveY == b.perspectiveY
            && a.brightness == b.brightness && a.contrast == b.contrast && a.saturation == b.saturation
            && a.gains == b.gains && a.blurSigma == b.blurSigma && a.jpegQuality == b.jpegQuality
            && a.cutout == b.cutout && a.objectScene == b.objectScene
    }

    /// Draws a distortion with the given `kinds` switched on (all of them: the full camera chain).
    public static func random(
        kinds: Set<DistortionKind> = Set(DistortionKind.allCases), settings: DistortionSettings = DistortionSettings(),
        using generator: inout SeededGenerator
    ) -> QueryDistortion {
        var d = QueryDistortion()
        // Every parameter is drawn whether or not its kind is on, so that switching kinds keeps the others.
        let side = Double.random(in: settings.cropFraction, using: &generator)
        let aspect = Double.random(in: -0.05...0.05, using: &generator)
        let cx = Double.random(in: 0...1, using: &generator)
        let cy = Double.random(in: 0...1, using: &generator)
        let angle = Double.random(in: -1...1, using: &generator) * settings.maxRotationDegrees * .pi / 180
        let px = Double.random(in: -1...1, using: &generator) * settings.maxPerspective
        let py = Double.random(in: -1...1, using: &generator) * settings.maxPerspective
        let brightness = Double.random(in: -1...1, using: &generator) * settings.maxBrightness
        let contrast = Double.random(in: settings.contrast, using: &generator)
        let saturation = Double.random(in: settings.saturation, using: &generator)
        let wb = settings.maxWhiteBalance
        let gains = (
            1 + Double.random(in: -wb...wb, using: &generator), 1 + Double.random(in: -wb...wb, using: &generator),
            1 + Double.random(in: -wb...wb, using: &generator)
        )
        let sigma = Double.random(in: settings.blurSigma, using: &generator)
        let quality = Int.random(in: settings.jpegQuality ?? 100...100, using: &generator)
        let scene = CutoutScene.random(
            scales: settings.cutoutScale, clutterShare: settings.clutterShare, using: &generator)
        let inScene = Double.random(in: 0..<1, using: &generator) < settings.cutoutShare
        if kinds.contains(.crop) {
            d.cropWidth = min(1, side * (1 + aspect))
            d.cropHeight = min(1, side * (1 - aspect))
            d.cropX = (1 - d.cropWidth) * cx
            d.cropY = (1 - d.cropHeight) * cy
        }
        if kinds.contains(.rotate) { d.rotation = angle }
        if kinds.contains(.perspective) { (d.perspectiveX, d.perspectiveY) = (px, py) }
        if kinds.contains(.colour) {
            (d.brightness, d.contrast, d.saturation, d.gains) = (brightness, contrast, saturation, gains)
        }
        if kinds.contains(.blur) { d.blurSigma = sigma }
        if kinds.contains(.jpeg), settings.jpegQuality != nil { d.jpegQuality = quality }
        if kinds.contains(.cutout), inScene { d.cutout = scene }
        return d
    }

    /// The distorted image: the scene (when there is a cut-out), then geometry, light and colour,
    /// blur, and JPEG, as in a camera. `backgrounds` are the images of the cut-out's
    /// ``CutoutScene/backgroundItems(item:count:)``; with `alpha` (the photo's outline) and an
    /// `objectScene`, the one real scene of ``ObjectScene/backgroundItem(item:scenes:)`` instead.
    public func apply(to image: Image, name: String = "query", backgrounds: [Image] = [], alpha: [UInt8]? = nil)
        throws(EvalError) -> Image
    {
        var result = image
        var framing = self
        if let cutout {
            if let alpha, let objectScene, let scene = backgrounds.first {
                let pasted = objectScene.paste(result, alpha: alpha, scene: scene)
                result = pasted.image
                if let placed = pasted.placed { framing = aimed(at: placed) }
            } else {
                result = cutout.render(result, backgrounds: backgrounds)
                framing = aimed(at: cutout.placed)
            }
        }
        result = framing.warp(result)
        recolour(&result)
        result = GaussianBlur.apply(to: result, sigma: blurSigma * Double(min(result.width, result.height)))
        if let jpegQuality {
            do {
                let bytes = try JPEGEncoder.encode(result, quality: jpegQuality, name: name)
                result = try ImageDecoder().decode(bytes: bytes, name: name)
            } catch {
                throw .query(name: name, reason: "cannot re-encode as JPEG quality \(jpegQuality): \(error)")
            }
        }
        return result
    }

    /// The same crop, moved so that it holds `object` (a box in fractions of the picture), or is
    /// centred on it when the object is larger than the crop: a person aims the camera at the thing
    /// they want found. Without this, about a tenth of the objects pasted small into a scene were
    /// cropped mostly out of the picture, queries that no descriptor can answer; a photo pasted under
    /// a mask into other catalogue photos was even found as one of those, when the crop showed only them.
    func aimed(at object: FractionalBox) -> QueryDistortion {
        func moved(_ start: Double, size: Double, objectStart: Double, objectSize: Double) -> Double {
            let position =
                objectSize <= size
                ? min(max(start, objectStart + objectSize - size), objectStart)
                : objectStart + (objectSize - size) / 2
            return min(max(position, 0), 1 - size)
        }
        var framed = self
        framed.cropX = moved(cropX, size: cropWidth, objectStart: object.x, objectSize: object.width)
        framed.cropY = moved(cropY, size: cropHeight, objectStart: object.y, objectSize: object.height)
        return framed
    }

    /// Crop, rotation and perspective as one mapping from output pixels to source pixels, sampled bilinearly.
    private func warp(_ image: Image) -> Image {
        let isGeometric = cropWidth != 1 || cropHeight != 1 || rotation != 0 || perspectiveX != 0 || perspectiveY != 0
        guard isGeometric else { return image }
        let outWidth = max(1, Int((Double(image.width) * cropWidth).rounded()))
        let outHeight = max(1, Int((Double(image.height) * cropHeight).rounded()))
        let halfWidth = Double(outWidth) / 2
        let halfHeight = Double(outHeight) / 2
        let centreX = (cropX + cropWidth / 2) * Double(image.width)
        let centreY = (cropY + cropHeight / 2) * Double(image.height)
        let cosA = cos(rotation)
        let sinA = sin(rotation)
        var pixels = [UInt8](repeating: 0, count: outWidth * outHeight * 3)
        image.pixels.withUnsafeBufferPointer { source in
            for v in 0..<outHeight {
                let ny = (Double(v) + 0.5 - halfHeight) / halfHeight
                for u in 0..<outWidth {
                    let nx = (Double(u) + 0.5 - halfWidth) / halfWidth
                    // The projective step: a plane tilted away from the camera, in normalised coordinates.
                    let w = 1 + perspectiveX * nx + perspectiveY * ny
                    let px = nx / w * halfWidth
                    let py = ny / w * halfHeight
                    let sx = centreX + cosA * px - sinA * py - 0.5
                    let sy = centreY + sinA * px + cosA * py - 0.5
                    let (r, g, b) = PixelOps.bilinear(source, width: image.width, height: image.height, x: sx, y: sy)
                    let o = (v * outWidth + u) * 3
                    pixels[o] = Self.clamp(r)
                    pixels[o + 1] = Self.clamp(g)
                    pixels[o + 2] = Self.clamp(b)
                }
            }
        }
        return Image(width: outWidth, height: outHeight, pixels: pixels)
    }

    /// White balance, brightness, contrast and saturation, per pixel.
    private func recolour(_ image: inout Image) {
        let isColour = brightness != 0 || contrast != 1 || saturation != 1 || gains != (1, 1, 1)
        guard isColour else { return }
        let shift = brightness * 255
        for i in stride(from: 0, to: image.pixels.count, by: 3) {
            var r = Double(image.pixels[i]) * gains.0
            var g = Double(image.pixels[i + 1]) * gains.1
            var b = Double(image.pixels[i + 2]) * gains.2
            r = (r - 128) * contrast + 128 + shift
            g = (g - 128) * contrast + 128 + shift
            b = (b - 128) * contrast + 128 + shift
            let luma = 0.299 * r + 0.587 * g + 0.114 * b
            image.pixels[i] = Self.clamp(luma + (r - luma) * saturation)
            image.pixels[i + 1] = Self.clamp(luma + (g - luma) * saturation)
            image.pixels[i + 2] = Self.clamp(luma + (b - luma) * saturation)
        }
    }

    private static func clamp(_ value: Double) -> UInt8 { UInt8(min(max(value.rounded(), 0), 255)) }
}
