/// Picture formats told apart by their first bytes, never by the file name.
public enum ImageFormat: String, Sendable, Equatable, CustomStringConvertible {
    case jpeg = "JPEG"
    case png = "PNG"
    case webp = "WebP"
    case gif = "GIF"
    case tiff = "TIFF"
    case bmp = "BMP"
    case heif = "HEIF"
    case avif = "AVIF"
    case jpeg2000 = "JPEG 2000"
    case jpegXL = "JPEG XL"
    case ico = "ICO"
    case psd = "PSD"
    case pdf = "PDF"
    case svg = "SVG"

    public var description: String { rawValue }

    /// Whether `ImageDecoder` decodes this format.
    public var isDecodable: Bool { self == .jpeg || self == .png || self == .webp }

    /// The format whose signature starts `bytes`, or nil when none matches.
    public static func detect(_ bytes: UnsafeRawBufferPointer) -> ImageFormat? {
        func starts(_ prefix: [UInt8], at offset: Int = 0) -> Bool {
            guard bytes.count >= offset + prefix.count else { return false }
            for (i, byte) in prefix.enumerated() where bytes[offset + i] != byte { return false }
            return true
        }
        if starts([0xFF, 0xD8, 0xFF]) { return .jpeg }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if starts(Array("RIFF".utf8)) && starts(Array("WEBP".utf8), at: 8) { return .webp }
        if starts(Array("GIF87a".utf8)) || starts(Array("GIF89a".utf8)) { return .gif }
        if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A]) { return .tiff }
        if starts(Array("BM".utf8)) { return .bmp }
        if starts(Array("ftyp".utf8), at: 4) {
            if starts(Array("avif".utf8), at: 8) || starts(Array("avis".utf8), at: 8) { return .avif }
            return .heif
        }
        if starts([0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20]) || starts([0xFF, 0x4F, 0xFF, 0x51]) {
            return .jpeg2000
        }
        if starts([0xFF, 0x0A]) || starts([0x00, 0x00, 0x00, 0x0C, 0x4A, 0x58, 0x4C, 0x20]) { return .jpegXL }
        if starts([0x00, 0x00, 0x01, 0x00]) { return .ico }
        if starts(Array("8BPS".utf8)) { return .psd }
        if starts(Array("%PDF".utf8)) { return .pdf }
        if starts(Array("<svg".utf8)) || starts(Array("<?xml".utf8)) { return .svg }
        return nil
    }
}
