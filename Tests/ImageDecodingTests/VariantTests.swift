import Foundation
import ImageDecoding
import Testing
import VSearchTesting

@Suite(.offThePool) struct ExifOrientationTests {
    /// For orientation `o` and a stored picture of w × h, the stored pixel
    /// shown at output (x, y), as Pillow's exif_transpose defines it.
    static func source(_ o: Int, x: Int, y: Int, w: Int, h: Int) -> (Int, Int) {
        switch o {
        case 2: return (w - 1 - x, y)
        case 3: return (w - 1 - x, h - 1 - y)
        case 4: return (x, h - 1 - y)
        case 5: return (y, x)
        case 6: return (y, h - 1 - x)
        case 7: return (w - 1 - y, h - 1 - x)
        case 8: return (w - 1 - y, x)
        default: return (x, y)
        }
    }

    @Test(arguments: 1...8)
    func orientationTurnsThePicture(orientation: Int) throws {
        let scratch = try TemporaryDirectory("image")
        let dir = scratch.path
        let original = try Fixtures.photo("skimage/rocket.jpg")
        let path = dir + "/oriented-\(orientation).jpg"
        try Fixtures.write(Fixtures.withExifOrientation(try Fixtures.bytes(original), orientation), to: path)
        let upright = try ImageDecoder(options: ImageDecodingOptions(exifOrientation: false)).decode(file: original)
        let turned = try ImageDecoder().decode(file: path)
        let (w, h) = (upright.width, upright.height)
        #expect(
            orientation >= 5 ? (turned.width == h && turned.height == w) : (turned.width == w && turned.height == h))
        #expect(turned.sourceWidth == turned.width && turned.sourceHeight == turned.height)
        for (x, y) in [(0, 0), (turned.width - 1, 0), (0, turned.height - 1), (17, 301), (turned.width / 2, 5)] {
            let (sx, sy) = Self.source(orientation, x: x, y: y, w: w, h: h)
            #expect(turned[x, y] == upright[sx, sy], "orientation \(orientation) at \(x),\(y)")
        }
        let probe = try ImageDecoder().probe(file: path)
        #expect(probe.width == turned.width && probe.height == turned.height)
    }

    @Test(arguments: [5, 6])
    func pngAndWebPCarryOrientationToo(orientation: Int) throws {
        let scratch = try TemporaryDirectory("image")
        let dir = scratch.path
        let original = try Fixtures.photo("skimage/chelsea.png")
        let upright = try ImageDecoder().decode(file: original)
        let png = dir + "/oriented.png"
        try Fixtures.write(Fixtures.withPNGExifOrientation(try Fixtures.bytes(original), orientation), to: png)
        try Fixtures.convert([original, "-define", "webp:lossless=true", dir + "/plain.webp"])
        let webp = dir + "/oriented.webp"
        try Fixtures.write(
            Fixtures.withWebPExifOrientation(
                try Fixtures.bytes(dir + "/plain.webp"), orientation, width: upright.width, height: upright.height),
            to: webp)
        for path in [png, webp] {
            let turned = try ImageDecoder().decode(file: path)
            #expect(turned.width == upright.height && turned.height == upright.width, "\(path)")
            let (sx, sy) = Self.source(orientation, x: 10, y: 400, w: upright.width, h: upright.height)
            #expect(turned[10, 400] == upright[sx, sy], "\(path)")
            let probe = try ImageDecoder().probe(file: path)
            #expect(probe.width == upright.height && probe.height == upright.width)
        }
    }

    @Test func orientationAppliesAfterDCTScaling() throws {
        let scratch = try TemporaryDirectory("image")
        let dir = scratch.path
        let path = dir + "/aqua-6.jpg"
        try Fixtures.write(
            Fixtures.withExifOrientation(try Fixtures.bytes(try Fixtures.photo("mate/Aqua.jpg")), 6), to: path)
        let image = try ImageDecoder().decode(file: path, targetShortSide: 256)
        #expect(image.sourceWidth == 1600 && image.sourceHeight == 2560)
        #expect(image.width < image.height && image.width >= 256)
    }
}

@Suite(.offThePool) struct ColorModelTests {
    @Test func cmykJPEGLooksLikeTheRGBOriginal() throws {
        let scratch = try TemporaryDirectory("image")
        let dir = scratch.path
        let original = try Fixtures.photo("skimage/rocket.jpg")
        let path = dir + "/cmyk.jpg"
        try Fixtures.convert([original, "-colorspace", "CMYK", "-quality", "95", path])
        let rgb = try ImageDecoder().decode(file: original)
        let cmyk = try ImageDecoder().decode(file: path)
        // ImageMagick's naive CMYK is lossless up to JPEG noise; an inverted reading would be ~100 off.
        #expect(Fixtures.meanAbsoluteDifference(rgb, cmyk) < 6)
    }

    @Test func grayscaleJPEGBecomesEqualChannels() throws {
        let scratch = try TemporaryDirectory("image")
        let dir = scratch.path
        let path = dir + "/gray.jpg"
        try Fixtures.convert([try Fixtures.photo("skimage/rocket.jpg"), "-colorspace", "Gray", path])
        let image = try ImageDecoder().decode(file: path)
        #expect(image.width == 640)
        var equal = true
        for i in stride(from: 0, to: image.pixels.count, by: 3) {
            equal = equal && image.pixels[i] == image.pixels[i + 1] && image.pixels[i] == image.pixels[i + 2]
        }
        #expect(equal)
    }

    @Test func sixteenBitPNGKeepsTheHighByte() throws {
        let scratch = try TemporaryDirectory("image")
        let dir = scratch.path
        let original = try Fixtures.photo("skimage/chelsea.png")
        let path = dir + "/deep.png"
        try Fixtures.convert([original, "-depth", "16", "PNG48:" + path])
        #expect(try ImageDecoder().decode(file: path) == (try ImageDecoder().decode(file: original)))
    }

    @Test func palettePNGDecodesClose() throws {
        let scratch = try TemporaryDirectory("image")
        let dir = scratch.path
        let original = try Fixtures.photo("skimage/chelsea.png")
        let path = dir + "/palette.png"
        try Fixtures.convert([original, "+dither", "PNG8:" + path])
        #expect(try Fixtures.bytes(path)[25] == 3)  // IHDR colour type 3: indexed
        let difference = Fixtures.meanAbsoluteDifference(
            try ImageDecoder().decode(file: original), try ImageDecoder().decode(file: path))
        #expect(difference < 12)
    }

    @Test func webpLosslessMatchesThePNGAndLossyIsClose() throws {
        let scratch = try TemporaryDirectory("image")
        let dir = scratch.path
        let original = try Fixtures.photo("skimage/chelsea.png")
        try Fixtures.convert([original, "-define", "webp:lossless=true", dir + "/lossless.webp"])
        try Fixtures.convert([original, "-quality", "90", dir + "/lossy.webp"])
        let png = try ImageDecoder().decode(file: original)
        #expect(try ImageDecoder().decode(file: dir + "/lossless.webp") == png)
        #expect(Fixtures.meanAbsoluteDifference(png, try ImageDecoder().decode(file: dir + "/lossy.webp")) < 6)
    }

    @Test func progressiveJPEGAndInterlacedPNGDecodeLikeTheirPlainTwins() throws {
        let scratch = try TemporaryDirectory("image")
        let dir = scratch.path
        let jpeg = try Fixtures.photo("skimage/rocket.jpg")
        try Fixtures.convert([jpeg, "-quality", "92", dir + "/baseline.jpg"])
        try Fixtures.convert([jpeg, "-quality", "92", "-interlace", "JPEG", dir + "/progressive.jpg"])
        let baseline = try ImageDecoder().decode(file: dir + "/baseline.jpg")
        #expect(
            Fixtures.meanAbsoluteDifference(baseline, try ImageDecoder().decode(file: dir + "/progressive.jpg")) < 1)
        let png = try Fixtures.photo("skimage/chelsea.png")
        try Fixtures.convert([png, "-interlace", "PNG", dir + "/adam7.png"])
        #expect(try Fixtures.bytes(dir + "/adam7.png")[28] == 1)  // IHDR interlace method: Adam7
        #expect(try ImageDecoder().decode(file: dir + "/adam7.png") == (try ImageDecoder().decode(file: png)))
    }

    /// libjpeg's bit reader runs into the missing marker while decoding the
    /// last blocks; Pillow also calls this file truncated.
    @Test func aJPEGMissingItsEndMarkerIsTruncated() throws {
        let scratch = try TemporaryDirectory("image")
        let dir = scratch.path
        let original = try Fixtures.photo("skimage/rocket.jpg")
        let bytes = try Fixtures.bytes(original)
        #expect(bytes.suffix(2) == [0xFF, 0xD9])
        let path = dir + "/no-eoi.jpg"
        try Fixtures.write(Array(bytes.dropLast(2)), to: path)
        #expect(Fixtures.decodingError(path) == .truncated(name: path, format: .jpeg))
    }

    @Test func aTruncatedWebPIsAnError() throws {
        let scratch = try TemporaryDirectory("image")
        let dir = scratch.path
        try Fixtures.convert([try Fixtures.photo("skimage/chelsea.png"), "-quality", "90", dir + "/full.webp"])
        let bytes = try Fixtures.bytes(dir + "/full.webp")
        let path = dir + "/cut.webp"
        try Fixtures.write(Array(bytes.prefix(bytes.count * 2 / 3)), to: path)
        #expect(Fixtures.decodingError(path) == .truncated(name: path, format: .webp))
    }
}

@Suite(.offThePool) struct AlphaTests {
    /// Decodes a 6 × 4 picture ImageMagick draws from `color`.
    func decode(_ color: String, as format: String) throws -> Image {
        let scratch = try TemporaryDirectory("image")
        let dir = scratch.path
        let path = dir + "/alpha." + (format.hasPrefix("PNG") ? "png" : format.lowercased())
        try Fixtures.convert(["-size", "6x4", "xc:" + color, format + ":" + path])
        return try ImageDecoder().decode(file: path)
    }

    @Test(arguments: ["PNG32", "PNG64", "WEBP"])
    func transparentIsWhite(format: String) throws {
        let image = try decode("rgba(0,0,255,0)", as: format)
        #expect(image.pixels.allSatisfy { $0 == 255 })
    }

    @Test(arguments: ["PNG32", "WEBP"])
    func halfTransparentBlackIsMidGray(format: String) throws {
        let image = try decode("rgba(0,0,0,0.5)", as: format)
        #expect(image.pixels.allSatisfy { (125...130).contains($0) })
    }

    @Test func grayWithAlphaIsComposited() throws {
        let scratch = try TemporaryDirectory("image")
        let dir = scratch.path
        let path = dir + "/gray-alpha.png"
        try Fixtures.convert(["-size", "6x4", "xc:rgba(0,0,0,0)", "-define", "png:color-type=4", path])
        #expect(try Fixtures.bytes(path)[25] == 4)  // IHDR colour type 4: grey + alpha
        #expect(try ImageDecoder().decode(file: path).pixels.allSatisfy { $0 == 255 })
    }

    @Test func paletteTransparencyIsWhiteAndOpaqueEntriesStay() throws {
        let scratch = try TemporaryDirectory("image")
        let dir = scratch.path
        let path = dir + "/trns.png"
        try Fixtures.convert([
            "-size", "6x4", "xc:red", "-fill", "blue", "-draw", "point 0,0", "-transparent", "red", "PNG8:" + path,
        ])
        let bytes = try Fixtures.bytes(path)
        #expect(bytes.count > 40 && String(decoding: bytes, as: UTF8.self).contains("tRNS"))
        let image = try ImageDecoder().decode(file: path)
        #expect(image[0, 0] == (0, 0, 255))
        #expect(image[3, 2] == (255, 255, 255))
    }
}

/// `decodeWithAlpha`: the picture over white as `decode` gives it, and its opacity, for cut-outs.
@Suite(.offThePool) struct KeptAlphaTests {
    /// A 6 × 4 transparent picture with an opaque red 2 × 2 square at (1, 1), as `format`, in `scratch`
    /// (which the caller keeps while it reads the file).
    func redSquare(as format: String, in scratch: TemporaryDirectory) throws -> String {
        let path = scratch.path + "/square." + (format.hasPrefix("PNG") ? "png" : format.lowercased())
        try Fixtures.convert([
            "-size", "6x4", "xc:rgba(0,0,0,0)", "+antialias", "-fill", "red", "-draw", "rectangle 1,1 2,2",
            "-define", "webp:lossless=true", format + ":" + path,
        ])
        return path
    }

    @Test(arguments: ["PNG32", "WEBP"])
    func theAlphaPlaneFollowsTheObject(format: String) throws {
        let scratch = try TemporaryDirectory("image")
        let path = try redSquare(as: format, in: scratch)
        let decoded = try ImageDecoder().decodeWithAlpha(file: path)
        #expect(decoded.image == (try ImageDecoder().decode(file: path)))
        let alpha = try #require(decoded.alpha)
        #expect(alpha.count == 24)
        let opaque = (0..<24).filter { alpha[$0] == 255 }.map { ($0 % 6, $0 / 6) }
        #expect(opaque.map(\.0) == [1, 2, 1, 2] && opaque.map(\.1) == [1, 1, 2, 2])
        #expect(alpha.filter { $0 == 0 }.count == 20)
        #expect(decoded.image[1, 1] == (255, 0, 0) && decoded.image[0, 0] == (255, 255, 255))
    }

    @Test func aPictureWithoutAlphaHasNoPlane() throws {
        let scratch = try TemporaryDirectory("image")
        let dir = scratch.path
        for name in ["opaque.jpg", "opaque.png"] {
            try Fixtures.convert(["-size", "6x4", "xc:red", "PNG24:" + dir + "/tmp.png"])
            try Fixtures.convert([dir + "/tmp.png", dir + "/" + name])
            #expect(try ImageDecoder().decodeWithAlpha(file: dir + "/" + name).alpha == nil)
        }
    }

    @Test func theAlphaPlaneIsTurnedWithThePicture() throws {
        let scratch = try TemporaryDirectory("image")
        let png = try Fixtures.bytes(try redSquare(as: "PNG32", in: scratch))
        // Orientation 6: the stored picture is turned a quarter clockwise to be seen.
        let decoded = try ImageDecoder().decodeWithAlpha(bytes: Fixtures.withPNGExifOrientation(png, 6), name: "x")
        #expect(decoded.image.width == 4 && decoded.image.height == 6)
        let alpha = try #require(decoded.alpha)
        for y in 0..<6 {
            for x in 0..<4 {
                let (r, g, b) = decoded.image[x, y]
                #expect((alpha[y * 4 + x] == 255) == (r == 255 && g == 0 && b == 0))
            }
        }
    }

    @Test func aDamagedFileIsAnErrorNamingIt() throws {
        let scratch = try TemporaryDirectory("image")
        let path = try redSquare(as: "PNG32", in: scratch)
        let bytes = try Fixtures.bytes(path)
        try Fixtures.write(Array(bytes.prefix(bytes.count / 2)), to: path)
        #expect(throws: ImageDecodingError.truncated(name: path, format: .png)) {
            try ImageDecoder().decodeWithAlpha(file: path)
        }
    }
}
