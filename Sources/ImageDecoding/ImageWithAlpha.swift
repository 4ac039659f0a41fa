import Foundation

/// A decoded picture with its transparency kept: what a cut-out (a photo of one object with an
/// alpha channel) needs to be pasted into another picture by its own outline.
public struct ImageWithAlpha: Sendable, Equatable {
    /// The picture composited over white, exactly as ``ImageDecoder/decode(file:targetShortSide:)`` gives it.
    public var image: Image
    /// One opacity byte per pixel of `image` (0 transparent, 255 opaque), rows top to bottom, EXIF
    /// orientation applied; nil when the file has no alpha channel (every JPEG, RGB PNG and WebP).
    public var alpha: [UInt8]?

    public init(image: Image, alpha: [UInt8]?) {
        precondition(alpha == nil || alpha?.count == image.width * image.height, "alpha does not match the size")
        self.image = image
        self.alpha = alpha
    }
}

extension ImageDecoder {
    /// Reads and decodes the file at `path`, keeping its alpha channel; errors name `path`.
    ///
    /// PNG and WebP are decoded at full size; a JPEG (which has no alpha) as by
    /// ``decode(file:targetShortSide:)``.
    public func decodeWithAlpha(file path: String, targetShortSide: Int? = nil) throws(ImageDecodingError)
        -> ImageWithAlpha
    {
        let data = try Self.read(file: path, limit: options.maxFileBytes)
        let result: Result<ImageWithAlpha, ImageDecodingError> = data.withUnsafeBytes { bytes in
            Result { () throws(ImageDecodingError) -> ImageWithAlpha in
                try decodeWithAlpha(bytes: bytes, name: path, targetShortSide: targetShortSide)
            }
        }
        return try result.get()
    }

    /// Decodes `bytes` keeping the alpha channel; `name` is what errors call it, and `targetShortSide`
    /// works as in `decode(bytes:name:targetShortSide:)`.
    public func decodeWithAlpha(bytes: [UInt8], name: String, targetShortSide: Int? = nil) throws(ImageDecodingError)
        -> ImageWithAlpha
    {
        let result: Result<ImageWithAlpha, ImageDecodingError> = bytes.withUnsafeBytes { raw in
            Result { () throws(ImageDecodingError) -> ImageWithAlpha in
                try decodeWithAlpha(bytes: raw, name: name, targetShortSide: targetShortSide)
            }
        }
        return try result.get()
    }

    private func decodeWithAlpha(bytes: UnsafeRawBufferPointer, name: String, targetShortSide: Int?)
        throws(ImageDecodingError) -> ImageWithAlpha
    {
        guard bytes.count > 0 else { throw .empty(name: name) }
        let context = DecodeContext(name: name, options: options, targetShortSide: targetShortSide)
        switch ImageFormat.detect(bytes) {
        case .png?: return try PNGCodec.decode(bytes, context, keepingAlpha: true)
        case .webp?: return try WebPCodec.decode(bytes, context, keepingAlpha: true)
        default:
            return ImageWithAlpha(
                image: try decode(bytes: bytes, name: name, targetShortSide: targetShortSide), alpha: nil)
        }
    }
}

extension Alpha {
    /// The alpha bytes of interleaved RGBA pixels.
    static func plane(rgba: [UInt8]) -> [UInt8] {
        stride(from: 3, to: rgba.count, by: 4).map { rgba[$0] }
    }

    /// `image` and its `alpha` turned and mirrored by `orientation` together.
    static func oriented(_ image: Image, alpha: [UInt8]?, _ orientation: ExifOrientation) -> ImageWithAlpha {
        let (width, height) = (image.width, image.height)
        let turned = orientation.apply(to: image, sourceWidth: width, sourceHeight: height)
        guard let alpha else { return ImageWithAlpha(image: turned, alpha: nil) }
        if orientation == .up { return ImageWithAlpha(image: turned, alpha: alpha) }
        // The orientation code moves RGB pixels, so the mask rides through it as a grey picture.
        let grey = Image(width: width, height: height, pixels: alpha.flatMap { [$0, $0, $0] })
        let mask = orientation.apply(to: grey, sourceWidth: width, sourceHeight: height)
        return ImageWithAlpha(
            image: turned, alpha: stride(from: 0, to: mask.pixels.count, by: 3).map { mask.pixels[$0] })
    }
}
