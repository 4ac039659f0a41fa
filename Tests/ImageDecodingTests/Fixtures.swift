import Foundation
import ImageDecoding
import Testing
import VSearchTesting

/// Real photos from `scripts/fetch-photos.sh`, and broken or unusual variants
/// of them made at test time with ImageMagick in a temporary directory.
enum Fixtures {
    /// A photo under data/photos; throws naming the fix when it is missing.
    static func photo(_ relative: String) throws -> String { try Repository.photo(relative) }

    /// Runs ImageMagick's `convert` with `arguments`; throws with its complaint when it fails.
    static func convert(_ arguments: [String]) throws {
        try Tool.run("convert", arguments)
    }

    static func bytes(_ path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    static func write(_ bytes: [UInt8], to path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// A big-endian TIFF structure: header, IFD0 at offset 8 with one
    /// orientation entry (SHORT), no next IFD.
    static func exifTIFF(orientation: Int) -> [UInt8] {
        [0x4D, 0x4D, 0x00, 0x2A, 0x00, 0x00, 0x00, 0x08, 0x00, 0x01]
            + [0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, UInt8(orientation), 0x00, 0x00]
            + [0x00, 0x00, 0x00, 0x00]
    }

    /// `png` with an `eXIf` chunk carrying `orientation` after IHDR.
    static func withPNGExifOrientation(_ png: [UInt8], _ orientation: Int) -> [UInt8] {
        let data = exifTIFF(orientation: orientation)
        let typeAndData = Array("eXIf".utf8) + data
        let crc = crc32(typeAndData)
        let chunk = bigEndian32(data.count) + typeAndData + bigEndian32(Int(crc))
        let afterIHDR = 8 + 8 + 13 + 4
        return Array(png[0..<afterIHDR]) + chunk + Array(png[afterIHDR...])
    }

    /// A simple-format (`VP8 `/`VP8L`) `webp` rewritten as the extended format
    /// with an `EXIF` chunk carrying `orientation`.
    static func withWebPExifOrientation(_ webp: [UInt8], _ orientation: Int, width: Int, height: Int) -> [UInt8] {
        let image = Array(webp[12...])
        var flags: [UInt8] = [0x08, 0, 0, 0]  // EXIF present
        flags += littleEndian24(width - 1) + littleEndian24(height - 1)
        let vp8x = Array("VP8X".utf8) + littleEndian32(flags.count) + flags
        var exif = exifTIFF(orientation: orientation)
        let exifChunk = Array("EXIF".utf8) + littleEndian32(exif.count) + exif
        exif = []
        let body = Array("WEBP".utf8) + vp8x + image + exifChunk
        return Array("RIFF".utf8) + littleEndian32(body.count) + body
    }

    static func bigEndian32(_ v: Int) -> [UInt8] {
        [UInt8(v >> 24 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)]
    }

    static func littleEndian32(_ v: Int) -> [UInt8] { bigEndian32(v).reversed() }

    static func littleEndian24(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF)] }

    /// PNG's CRC-32 (reflected, polynomial 0xEDB88320).
    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return crc ^ 0xFFFF_FFFF
    }

    /// `jpeg` with an Exif APP1 segment carrying `orientation` inserted after SOI.
    static func withExifOrientation(_ jpeg: [UInt8], _ orientation: Int) -> [UInt8] {
        let body = Array("Exif\0\0".utf8) + exifTIFF(orientation: orientation)
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
