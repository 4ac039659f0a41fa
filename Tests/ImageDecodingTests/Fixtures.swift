import Foundation
import ImageDecoding
import Testing

/// Real photos from `scripts/fetch-photos.sh`, and broken or unusual variants
/// of them made at test time with ImageMagick in a temporary directory.
enum Fixtures {
    static let repoRoot: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url
    }()

    /// A photo under data/photos; records an issue naming the fix when it is missing.
    static func photo(_ relative: String) throws -> String {
        let path = repoRoot.appendingPathComponent("data/photos").appendingPathComponent(relative).path
        guard FileManager.default.fileExists(atPath: path) else {
            Issue.record("\(path) is missing: run `bash scripts/fetch-photos.sh` first")
            throw FixtureError("missing photo \(relative)")
        }
        return path
    }

    /// A fresh directory for one test's files.
    static func temporaryDirectory() throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("vsearch-image-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url.path
    }

    /// Runs ImageMagick's `convert` with `arguments`; fails the test when it fails.
    static func convert(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["convert"] + arguments
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            Issue.record("convert \(arguments.joined(separator: " ")) failed (is ImageMagick installed?): \(message)")
            throw FixtureError("convert failed")
        }
    }

    static func bytes(_ path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    static func write(_ bytes: [UInt8], to path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// `jpeg` with an Exif APP1 segment carrying `orientation` inserted after SOI.
    static func withExifOrientation(_ jpeg: [UInt8], _ orientation: Int) -> [UInt8] {
        // Big-endian TIFF: header, IFD0 at offset 8 with one SHORT entry, no next IFD.
        let tiff: [UInt8] =
            [0x4D, 0x4D, 0x00, 0x2A, 0x00, 0x00, 0x00, 0x08, 0x00, 0x01]
            + [0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, UInt8(orientation), 0x00, 0x00]
            + [0x00, 0x00, 0x00, 0x00]
        let body = Array("Exif\0\0".utf8) + tiff
        let length = body.count + 2
        let segment: [UInt8] = [0xFF, 0xE1, UInt8(length >> 8), UInt8(length & 0xFF)] + body
        return Array(jpeg[0..<2]) + segment + Array(jpeg[2...])
    }

    /// `jpeg` whose frame header claims `width × height`.
    static func withFrameSize(_ jpeg: [UInt8], width: Int, height: Int) -> [UInt8]? {
        var bytes = jpeg
        var i = 2
        while i + 9 < bytes.count {
            guard bytes[i] == 0xFF else { return nil }
            let marker = bytes[i + 1]
            let length = Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
            if marker == 0xC0 || marker == 0xC1 || marker == 0xC2 {
                bytes[i + 5] = UInt8(height >> 8)
                bytes[i + 6] = UInt8(height & 0xFF)
                bytes[i + 7] = UInt8(width >> 8)
                bytes[i + 8] = UInt8(width & 0xFF)
                return bytes
            }
            i += 2 + length
        }
        return nil
    }

    /// The error decoding `path` throws, or nil when it decodes.
    static func decodingError(_ path: String, options: ImageDecodingOptions = ImageDecodingOptions())
        -> ImageDecodingError?
    {
        do {
            _ = try ImageDecoder(options: options).decode(file: path)
            return nil
        } catch {
            return error
        }
    }

    /// Mean absolute difference between two same-sized images, in 0–255 units.
    static func meanAbsoluteDifference(_ a: Image, _ b: Image) -> Double {
        guard a.width == b.width, a.height == b.height else { return .infinity }
        var total = 0
        for i in 0..<a.pixels.count { total += abs(Int(a.pixels[i]) - Int(b.pixels[i])) }
        return Double(total) / Double(a.pixels.count)
    }
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
