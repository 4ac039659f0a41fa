import CImageCodecs

/// PNG through libpng: palettes, grey, 16-bit and tRNS become 8-bit RGB(A).
enum PNGCodec {
    static func decode(_ bytes: UnsafeRawBufferPointer, _ context: DecodeContext) throws(ImageDecodingError) -> Image {
        try decode(bytes, context, keepingAlpha: false).image
    }

    /// The picture over white and, with `keepingAlpha` and an alpha channel in the file, its opacity.
    static func decode(_ bytes: UnsafeRawBufferPointer, _ context: DecodeContext, keepingAlpha: Bool)
        throws(ImageDecodingError) -> ImageWithAlpha
    {
        let base = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        guard let png = vs_png_create(base, bytes.count) else {
            throw .corrupt(name: context.name, format: .png, reason: "out of memory")
        }
        defer { vs_png_destroy(png) }
        var header = vs_png_header()
        guard vs_png_read_header(png, &header) == 0 else { throw failure(png, context) }
        let width = Int(header.width)
        let height = Int(header.height)
        try context.checkPixelCount(width: width, height: height)
        var channels: Int32 = 0
        guard vs_png_start(png, &channels) == 0 else { throw failure(png, context) }
        guard channels == 3 || channels == 4 else {
            throw .corrupt(name: context.name, format: .png, reason: "unexpected channel count \(channels)")
        }
        let stride = width * Int(channels)
        var status: Int32 = 0
        let decoded = [UInt8](unsafeUninitializedCapacity: stride * height) { buffer, count in
            status = vs_png_read(png, buffer.baseAddress, stride)
            count = stride * height
        }
        guard status == 0 else { throw failure(png, context) }
        let pixels = channels == 4 ? Alpha.compositeOverWhite(rgba: decoded) : decoded
        let orientation = context.options.exifOrientation ? ExifOrientation.read(png: bytes) : .up
        return Alpha.oriented(
            Image(width: width, height: height, pixels: pixels),
            alpha: channels == 4 && keepingAlpha ? Alpha.plane(rgba: decoded) : nil, orientation)
    }

    static func size(_ bytes: UnsafeRawBufferPointer, _ context: DecodeContext) throws(ImageDecodingError) -> (
        Int, Int
    ) {
        let base = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        guard let png = vs_png_create(base, bytes.count) else {
            throw .corrupt(name: context.name, format: .png, reason: "out of memory")
        }
        defer { vs_png_destroy(png) }
        var header = vs_png_header()
        guard vs_png_read_header(png, &header) == 0 else { throw failure(png, context) }
        let orientation = context.options.exifOrientation ? ExifOrientation.read(png: bytes) : .up
        let (width, height) = (Int(header.width), Int(header.height))
        return orientation.swapsAxes ? (height, width) : (width, height)
    }

    private static func failure(_ png: OpaquePointer, _ context: DecodeContext) -> ImageDecodingError {
        if vs_png_truncated(png) != 0 { return .truncated(name: context.name, format: .png) }
        let message = String(cString: vs_png_message(png))
        return .corrupt(name: context.name, format: .png, reason: message.isEmpty ? "unreadable data" : message)
    }
}

/// Transparency handling shared by the codecs.
enum Alpha {
    /// RGBA to RGB on a white background: c·a/255 + 255·(1 − a/255), rounded.
    static func compositeOverWhite(rgba: [UInt8]) -> [UInt8] {
        let count = rgba.count / 4
        return [UInt8](unsafeUninitializedCapacity: count * 3) { rgb, initialized in
            rgba.withUnsafeBufferPointer { source in
                for i in 0..<count {
                    let a = UInt32(source[i * 4 + 3])
                    let background = 255 * (255 - a) + 127
                    rgb[i * 3] = UInt8((UInt32(source[i * 4]) * a + background) / 255)
                    rgb[i * 3 + 1] = UInt8((UInt32(source[i * 4 + 1]) * a + background) / 255)
                    rgb[i * 3 + 2] = UInt8((UInt32(source[i * 4 + 2]) * a + background) / 255)
                }
            }
            initialized = count * 3
        }
    }
}
