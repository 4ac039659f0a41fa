import Foundation

/// Turns JPEG, PNG and WebP bytes into RGB pixels.
///
/// The format comes from the data's first bytes. Sizes are checked against
/// `ImageDecodingOptions.maxPixels` from the header, before any pixel is
/// decoded. A damaged file gives an ``ImageDecodingError`` naming it; it
/// never ends the process.
///
/// ```swift
/// let decoder = ImageDecoder()
/// let image = try decoder.decode(file: "photo.jpg", targetShortSide: 256)
/// ```
///
/// The decoder holds no state between calls and is safe to share between tasks.
public struct ImageDecoder: Sendable {
    public var options: ImageDecodingOptions

    public init(options: ImageDecodingOptions = ImageDecodingOptions()) {
        self.options = options
    }

    /// Reads and decodes the file at `path`; errors name `path`.
    ///
    /// - Parameters:
    ///   - path: the file to read.
    ///   - targetShortSide: the shortest side the caller will use. A
    ///     large JPEG may then be decoded at a reduced scale whose short side is
    ///     still at least this long. Nil decodes at full size.
    public func decode(file path: String, targetShortSide: Int? = nil) throws(ImageDecodingError) -> Image {
        let data = try Self.read(file: path, limit: options.maxFileBytes)
        return try decode(data: data, name: path, targetShortSide: targetShortSide)
    }

    /// Decodes `data`; `name` is what errors call it (a path, a URL, "upload").
    public func decode(data: Data, name: String, targetShortSide: Int? = nil) throws(ImageDecodingError) -> Image {
        let result: Result<Image, ImageDecodingError> = data.withUnsafeBytes { bytes in
            Result { () throws(ImageDecodingError) -> Image in
                try decode(bytes: bytes, name: name, targetShortSide: targetShortSide)
            }
        }
        return try result.get()
    }

    /// Decodes `bytes`; `name` is what errors call it.
    public func decode(bytes: [UInt8], name: String, targetShortSide: Int? = nil) throws(ImageDecodingError)
        -> Image
    {
        let result: Result<Image, ImageDecodingError> = bytes.withUnsafeBytes { raw in
            Result { () throws(ImageDecodingError) -> Image in
                try decode(bytes: raw, name: name, targetShortSide: targetShortSide)
            }
        }
        return try result.get()
    }

    /// Decodes bytes that stay valid for the duration of the call.
    public func decode(bytes: UnsafeRawBufferPointer, name: String, targetShortSide: Int? = nil)
        throws(ImageDecodingError) -> Image
    {
        guard bytes.count > 0 else { throw .empty(name: name) }
        guard let format = ImageFormat.detect(bytes) else {
            throw .unsupportedFormat(name: name, format: "unknown")
        }
        let context = DecodeContext(name: name, options: options, targetShortSide: targetShortSide)
        switch format {
        case .jpeg: return try JPEGCodec.decode(bytes, context)
        case .png: return try PNGCodec.decode(bytes, context)
        case .webp: return try WebPCodec.decode(bytes, context)
        default: throw .unsupportedFormat(name: name, format: format.rawValue)
        }
    }

    /// The picture's size (after EXIF orientation) and format, from the header only.
    public func probe(file path: String) throws(ImageDecodingError) -> (format: ImageFormat, width: Int, height: Int) {
        let data = try Self.read(file: path, limit: options.maxFileBytes)
        let result: Result<(ImageFormat, Int, Int), ImageDecodingError> = data.withUnsafeBytes { bytes in
            Result { () throws(ImageDecodingError) -> (ImageFormat, Int, Int) in
                guard bytes.count > 0 else { throw .empty(name: path) }
                guard let format = ImageFormat.detect(bytes), format.isDecodable else {
                    throw .unsupportedFormat(
                        name: path, format: ImageFormat.detect(bytes)?.rawValue ?? "unknown")
                }
                var probing = options
                probing.maxPixels = Int.max
                let context = DecodeContext(name: path, options: probing, targetShortSide: nil)
                let size: (Int, Int)
                switch format {
                case .jpeg: size = try JPEGCodec.size(bytes, context)
                case .png: size = try PNGCodec.size(bytes, context)
                default: size = try WebPCodec.size(bytes, context)
                }
                return (format, size.0, size.1)
            }
        }
        let (format, width, height) = try result.get()
        return (format, width, height)
    }

    static func read(file path: String, limit: Int) throws(ImageDecodingError) -> Data {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw .unreadable(name: path, reason: "no such file")
        }
        if isDirectory.boolValue { throw .unreadable(name: path, reason: "it is a directory") }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw .unreadable(name: path, reason: "permission denied")
        }
        if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, size > limit {
            throw .fileTooLarge(name: path, bytes: size, limit: limit)
        }
        do {
            return try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw .unreadable(name: path, reason: "\(error.localizedDescription)")
        }
    }
}

/// What every codec needs to know about one call.
struct DecodeContext {
    let name: String
    let options: ImageDecodingOptions
    let targetShortSide: Int?

    /// Refuses a decompression bomb from its header.
    func checkPixelCount(width: Int, height: Int) throws(ImageDecodingError) {
        let (count, overflow) = width.multipliedReportingOverflow(by: height)
        if overflow || count > options.maxPixels {
            throw .tooManyPixels(name: name, width: width, height: height, limit: options.maxPixels)
        }
    }
}
