import CImageCodecs

/// JPEG through libjpeg-turbo, with DCT scaling, CMYK and EXIF orientation.
enum JPEGCodec {
    static func decode(_ bytes: UnsafeRawBufferPointer, _ context: DecodeContext) throws(ImageDecodingError) -> Image {
        guard let jpeg = vs_jpeg_create() else {
            throw .corrupt(name: context.name, format: .jpeg, reason: "out of memory")
        }
        defer { vs_jpeg_destroy(jpeg) }
        let base = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        var header = vs_jpeg_header()
        guard vs_jpeg_read_header(jpeg, base, bytes.count, &header) == 0 else { throw failure(jpeg, context) }
        let width = Int(header.width)
        let height = Int(header.height)
        try context.checkPixelCount(width: width, height: height)

        let scale = context.options.dctScaling ? scaleNumerator(width, height, context.targetShortSide) : 8
        let cmyk = header.color == VS_JPEG_CMYK || header.color == VS_JPEG_YCCK
        var outWidth: UInt32 = 0
        var outHeight: UInt32 = 0
        var components: Int32 = 0
        guard vs_jpeg_start(jpeg, Int32(scale), cmyk ? 1 : 0, &outWidth, &outHeight, &components) == 0 else {
            throw failure(jpeg, context)
        }
        let w = Int(outWidth)
        let h = Int(outHeight)
        let channels = Int(components)
        guard w > 0, h > 0, channels == (cmyk ? 4 : 3) else {
            throw .corrupt(name: context.name, format: .jpeg, reason: "unexpected output layout")
        }
        var status: Int32 = 0
        var pixels = [UInt8](unsafeUninitializedCapacity: w * h * channels) { buffer, count in
            status = vs_jpeg_read(jpeg, buffer.baseAddress, w * channels, UInt32(h))
            count = w * h * channels
        }
        guard status == 0 else { throw failure(jpeg, context) }
        if cmyk { pixels = cmykToRGB(pixels, inverted: header.saw_adobe_marker != 0) }

        let orientation = context.options.exifOrientation ? ExifOrientation.read(jpeg: bytes) : .up
        let image = Image(width: w, height: h, pixels: pixels)
        return orientation.apply(to: image, sourceWidth: width, sourceHeight: height)
    }

    static func size(_ bytes: UnsafeRawBufferPointer, _ context: DecodeContext) throws(ImageDecodingError) -> (
        Int, Int
    ) {
        guard let jpeg = vs_jpeg_create() else {
            throw .corrupt(name: context.name, format: .jpeg, reason: "out of memory")
        }
        defer { vs_jpeg_destroy(jpeg) }
        var header = vs_jpeg_header()
        let base = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        guard vs_jpeg_read_header(jpeg, base, bytes.count, &header) == 0 else { throw failure(jpeg, context) }
        let orientation = context.options.exifOrientation ? ExifOrientation.read(jpeg: bytes) : .up
        return orientation.swapsAxes ? (Int(header.height), Int(header.width)) : (Int(header.width), Int(header.height))
    }

    /// The smallest M (of M/8) whose scaled short side is still at least
    /// `target`; libjpeg rounds scaled sizes up.
    static func scaleNumerator(_ width: Int, _ height: Int, _ target: Int?) -> Int {
        guard let target, target > 0 else { return 8 }
        let shortSide = min(width, height)
        for numerator in 1..<8 where (shortSide * numerator + 7) / 8 >= target {
            return numerator
        }
        return 8
    }

    private static func failure(_ jpeg: OpaquePointer, _ context: DecodeContext) -> ImageDecodingError {
        if vs_jpeg_truncated(jpeg) != 0 { return .truncated(name: context.name, format: .jpeg) }
        let message = String(cString: vs_jpeg_message(jpeg))
        return .corrupt(name: context.name, format: .jpeg, reason: message.isEmpty ? "unreadable data" : message)
    }

    /// CMYK to RGB as Pillow does it (R = (255 − C)(255 − K)/255, rounded the
    /// same way); Adobe's files store every channel inverted.
    static func cmykToRGB(_ cmyk: [UInt8], inverted: Bool) -> [UInt8] {
        let count = cmyk.count / 4
        return [UInt8](unsafeUninitializedCapacity: count * 3) { rgb, initialized in
            cmyk.withUnsafeBufferPointer { source in
                for i in 0..<count {
                    var c = Int(source[i * 4])
                    var m = Int(source[i * 4 + 1])
                    var y = Int(source[i * 4 + 2])
                    var k = Int(source[i * 4 + 3])
                    if inverted {
                        c = 255 - c
                        m = 255 - m
                        y = 255 - y
                        k = 255 - k
                    }
                    let nk = 255 - k
                    rgb[i * 3] = UInt8(clamping: nk - mulDiv255(c, nk))
                    rgb[i * 3 + 1] = UInt8(clamping: nk - mulDiv255(m, nk))
                    rgb[i * 3 + 2] = UInt8(clamping: nk - mulDiv255(y, nk))
                }
            }
            initialized = count * 3
        }
    }

    @inline(__always)
    static func mulDiv255(_ a: Int, _ b: Int) -> Int {
        let t = a * b + 128
        return ((t >> 8) + t) >> 8
    }
}
