import Foundation
import ImageDecoding
import Testing
import VSearchTesting

@Suite(.offThePool) struct RealPhotoTests {
    @Test(arguments: [
        ("skimage/chelsea.png", 451, 300), ("skimage/astronaut.png", 512, 512), ("skimage/coffee.png", 600, 400),
        ("skimage/rocket.jpg", 640, 427), ("skimage/camera.png", 512, 512), ("mate/Aqua.jpg", 2560, 1600),
        ("mate/Wood.jpg", 2560, 1920),
    ])
    func decodesAtFullSize(photo: String, width: Int, height: Int) throws {
        let image = try ImageDecoder().decode(file: try Fixtures.photo(photo))
        #expect(image.width == width && image.height == height)
        #expect(image.pixels.count == width * height * 3)
        // Real photos are not one flat colour.
        #expect(Set(image.pixels).count > 16)
    }

    @Test func grayscalePNGBecomesEqualChannels() throws {
        let image = try ImageDecoder().decode(file: try Fixtures.photo("skimage/camera.png"))
        for i in stride(from: 0, to: image.pixels.count, by: 997 * 3) {
            #expect(image.pixels[i] == image.pixels[i + 1] && image.pixels[i + 1] == image.pixels[i + 2])
        }
    }

    @Test func dctScalingKeepsTheShortSideAtLeastTheTarget() throws {
        let path = try Fixtures.photo("mate/Aqua.jpg")
        let scaled = try ImageDecoder().decode(file: path, targetShortSide: 256)
        #expect(min(scaled.width, scaled.height) >= 256)
        #expect(min(scaled.width, scaled.height) < 512)
        #expect(scaled.sourceWidth == 2560 && scaled.sourceHeight == 1600)
        let full = try ImageDecoder(options: ImageDecodingOptions(dctScaling: false))
            .decode(file: path, targetShortSide: 256)
        #expect(full.width == 2560 && full.height == 1600)
    }

    @Test func theFormatComesFromTheBytesNotTheName() throws {
        let scratch = try TemporaryDirectory("image")
        let dir = scratch.path
        let misnamed = dir + "/actually-a-png.jpg"
        try FileManager.default.copyItem(atPath: try Fixtures.photo("skimage/chelsea.png"), toPath: misnamed)
        let image = try ImageDecoder().decode(file: misnamed)
        #expect(image.width == 451)
    }

    @Test func probeReadsOnlyTheHeader() throws {
        let probe = try ImageDecoder().probe(file: try Fixtures.photo("mate/Wood.jpg"))
        #expect(probe.format == .jpeg && probe.width == 2560 && probe.height == 1920)
    }
}

@Suite(.offThePool) struct BrokenInputTests {
    @Test(arguments: ["skimage/rocket.jpg", "skimage/chelsea.png"])
    func aTruncatedFileIsAnErrorNamingIt(photo: String) throws {
        let scratch = try TemporaryDirectory("image")
        let dir = scratch.path
        let bytes = try Fixtures.bytes(try Fixtures.photo(photo))
        let path = dir + "/truncated-" + (photo as NSString).lastPathComponent
        try Fixtures.write(Array(bytes.prefix(bytes.count / 2)), to: path)
        let error = Fixtures.decodingError(path)
        let format: ImageFormat = photo.hasSuffix("png") ? .png : .jpeg
        #expect(error == .truncated(name: path, format: format))
        #expect(error?.description.contains(path) == true)
        #expect(error?.description.contains("truncated") == true)
    }

    @Test func aCorruptJPEGHeaderIsAnErrorNamingIt() throws {
        let scratch = try TemporaryDirectory("image")
        let dir = scratch.path
        var bytes = try Fixtures.bytes(try Fixtures.photo("skimage/rocket.jpg"))
        // Keep SOI, overwrite the following segments with noise.
        for i in 4..<min(600, bytes.count) { bytes[i] = UInt8(truncatingIfNeeded: i &* 37) }
        let path = dir + "/corrupt.jpg"
        try Fixtures.write(bytes, to: path)
        let error = try #require(Fixtures.decodingError(path))
        guard case .corrupt(let name, .jpeg, let reason) = error else {
            Issue.record("expected a corrupt-JPEG error, got \(error)")
            return
        }
        #expect(name == path && !reason.isEmpty)
        #expect(!error.description.contains("\n"))
    }

    @Test func aCorruptPNGIsAnErrorNamingIt() throws {
        let scratch = try TemporaryDirectory("image")
        let dir = scratch.path
        var bytes = try Fixtures.bytes(try Fixtures.photo("skimage/chelsea.png"))
        bytes[20] ^= 0xFF  // inside IHDR: its CRC no longer matches
        let path = dir + "/corrupt.png"
        try Fixtures.write(bytes, to: path)
        let error = Fixtures.decodingError(path)
        guard case .corrupt(path, .png, _) = error else {
            Issue.record("expected a corrupt-PNG error, got \(String(describing: error))")
            return
        }
    }

    @Test func emptyMissingAndDirectoryInputsAreErrors() throws {
        let scratch = try TemporaryDirectory("image")
        let dir = scratch.path
        let empty = dir + "/empty.jpg"
        try Fixtures.write([], to: empty)
        #expect(Fixtures.decodingError(empty) == .empty(name: empty))
        #expect(
            Fixtures.decodingError(dir + "/missing.jpg")
                == .unreadable(name: dir + "/missing.jpg", reason: "no such file"))
        guard case .unreadable(dir, _) = Fixtures.decodingError(dir) else {
            Issue.record("a directory should be unreadable")
            return
        }
    }

    @Test(arguments: [("gif", "GIF"), ("tiff", "TIFF"), ("bmp", "BMP")])
    func unsupportedFormatsAreNamed(ext: String, format: String) throws {
        let scratch = try TemporaryDirectory("image")
        let dir = scratch.path
        let path = dir + "/chelsea." + ext
        try Fixtures.convert([try Fixtures.photo("skimage/chelsea.png"), path])
        let error = Fixtures.decodingError(path)
        #expect(error == .unsupportedFormat(name: path, format: format))
        #expect(error?.description.contains(format) == true)
    }

    @Test func textIsAnUnknownFormat() throws {
        let scratch = try TemporaryDirectory("image")
        let dir = scratch.path
        let path = dir + "/notes.jpg"
        try Fixtures.write(Array("just some text\n".utf8), to: path)
        guard case .unsupportedFormat(path, _) = Fixtures.decodingError(path) else {
            Issue.record("text should be an unsupported format")
            return
        }
    }

    @Test func aHugeHeaderIsRefusedBeforeDecoding() throws {
        let scratch = try TemporaryDirectory("image")
        let dir = scratch.path
        let bytes = try Fixtures.bytes(try Fixtures.photo("skimage/rocket.jpg"))
        let bomb = try #require(Fixtures.withFrameSize(bytes, width: 60_000, height: 60_000))
        let path = dir + "/bomb.jpg"
        try Fixtures.write(bomb, to: path)
        let error = Fixtures.decodingError(path)
        #expect(error == .tooManyPixels(name: path, width: 60_000, height: 60_000, limit: 50_000_000))
        #expect(error?.description.contains("decompression bomb") == true)
    }

    @Test func aHugePNGHeaderIsRefusedBeforeDecoding() throws {
        let scratch = try TemporaryDirectory("image")
        let dir = scratch.path
        var bytes = try Fixtures.bytes(try Fixtures.photo("skimage/chelsea.png"))
        // IHDR data starts at 16: width and height, then the chunk's CRC at 29.
        bytes.replaceSubrange(16..<24, with: Fixtures.bigEndian32(40_000) + Fixtures.bigEndian32(30_000))
        let crc = Fixtures.crc32(Array(bytes[12..<29]))
        bytes.replaceSubrange(29..<33, with: Fixtures.bigEndian32(Int(crc)))
        let path = dir + "/bomb.png"
        try Fixtures.write(bytes, to: path)
        #expect(
            Fixtures.decodingError(path) == .tooManyPixels(name: path, width: 40_000, height: 30_000, limit: 50_000_000)
        )
    }

    @Test func thePixelLimitIsConfigurable() throws {
        let path = try Fixtures.photo("mate/Aqua.jpg")
        let error = Fixtures.decodingError(path, options: ImageDecodingOptions(maxPixels: 1_000_000))
        #expect(error == .tooManyPixels(name: path, width: 2560, height: 1600, limit: 1_000_000))
        #expect(Fixtures.decodingError(path, options: ImageDecodingOptions(maxPixels: 2560 * 1600)) == nil)
    }

    @Test func aFileOverTheSizeLimitIsNotRead() throws {
        let path = try Fixtures.photo("mate/Wood.jpg")
        let error = Fixtures.decodingError(path, options: ImageDecodingOptions(maxFileBytes: 1000))
        guard case .fileTooLarge(path, let bytes, 1000) = error else {
            Issue.record("expected fileTooLarge, got \(String(describing: error))")
            return
        }
        #expect(bytes == (try Fixtures.bytes(path)).count)
    }

    @Test func errorsAreOneLine() throws {
        let errors: [ImageDecodingError] = [
            .unreadable(name: "a.jpg", reason: "no such file"), .empty(name: "a.jpg"),
            .truncated(name: "a.jpg", format: .jpeg), .corrupt(name: "a.png", format: .png, reason: "bad CRC"),
            .unsupportedFormat(name: "a.gif", format: "GIF"),
            .tooManyPixels(name: "a.jpg", width: 10, height: 10, limit: 5),
        ]
        for error in errors {
            #expect(error.description.hasPrefix("a."))
            #expect(!error.description.contains("\n"))
        }
    }
}
