import CWebP

/// WebP (lossy, lossless, with alpha) through libwebp. Animated files are refused.
enum WebPCodec {
    static func decode(_ bytes: UnsafeRawBufferPointer, _ context: DecodeContext) throws(ImageDecodingError) -> Image {
        try decode(bytes, context, keepingAlpha: false).image
    }

    /// The picture over white and, with `keepingAlpha` and an alpha channel in the file, its opacity.
    static func decode(_ bytes: UnsafeRawBufferPointer, _ context: DecodeContext, keepingAlpha: Bool)
        throws(ImageDecodingError) -> ImageWithAlpha
    {
        let features = try self.features(bytes, context)
        let width = Int(features.width)
        let height = Int(features.height)
        try context.checkPixelCount(width: width, height: height)
        let base = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let channels = features.has_alpha != 0 ? 4 : 3
        let stride = width * channels
        var ok = false
        let decoded = [UInt8](unsafeUninitializedCapacity: stride * height) { buffer, count in
            let result =
                channels == 4
                ? WebPDecodeRGBAInto(base, bytes.count, buffer.baseAddress, stride * height, Int32(stride))
                : WebPDecodeRGBInto(base, bytes.count, buffer.baseAddress, stride * height, Int32(stride))
            ok = result != nil
            count = stride * height
        }
        guard ok else {
            if declaredSize(bytes) > bytes.count { throw .truncated(name: context.name, format: .webp) }
            throw .corrupt(name: context.name, format: .webp, reason: "the bitstream does not decode")
        }
        let pixels = channels == 4 ? Alpha.compositeOverWhite(rgba: decoded) : decoded
        let orientation = context.options.exifOrientation ? ExifOrientation.read(webp: bytes) : .up
        return Alpha.oriented(
            Image(width: width, height: height, pixels: pixels),
            alpha: channels == 4 && keepingAlpha ? Alpha.plane(rgba: decoded) : nil, orientation)
    }

    static func size(_ bytes: UnsafeRawBufferPointer, _ context: DecodeContext) throws(ImageDecodingError) -> (
        Int, Int
    ) {
        let features = try self.features(bytes, context)
        let orientation = context.options.exifOrientation ? ExifOrientation.read(webp: bytes) : .up
        let (width, height) = (Int(features.width), Int(features.height))
        return orientation.swapsAxes ? (height, width) : (width, height)
    }

    private static func features(_ bytes: UnsafeRawBufferPointer, _ context: DecodeContext)
        throws(ImageDecodingError) -> WebPBitstreamFeatures
    {
        var features = WebPBitstreamFeatures()
        let base = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let status = WebPGetFeatures(base, bytes.count, &features)
        switch status {
        case VP8_STATUS_OK: break
        case VP8_STATUS_NOT_ENOUGH_DATA: throw .truncated(name: context.name, format: .webp)
        default: throw .corrupt(name: context.name, format: .webp, reason: "bad header (libwebp status \(status))")
        }
        if features.has_animation != 0 {
            throw .unsupportedFormat(name: context.name, format: "animated WebP")
        }
        guard features.width > 0, features.height > 0 else {
            throw .corrupt(name: context.name, format: .webp, reason: "zero-sized image")
        }
        return features
    }

    /// The file size the RIFF header promises.
    private static func declaredSize(_ bytes: UnsafeRawBufferPointer) -> Int {
        guard bytes.count >= 8 else { return Int.max }
        let size = Int(bytes[4]) | Int(bytes[5]) << 8 | Int(bytes[6]) << 16 | Int(bytes[7]) << 24
        return size + 8
    }
}
