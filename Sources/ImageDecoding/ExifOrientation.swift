/// The EXIF orientation tag (0x0112): how the stored pixels must be turned
/// to look right. Raw values 1–8; anything else reads as `.up`.
public enum ExifOrientation: Int, Sendable {
    case up = 1
    case mirrored = 2
    case down = 3
    case mirroredDown = 4
    case transposed = 5
    case rotatedClockwise = 6
    case transversed = 7
    case rotatedCounterClockwise = 8

    /// Whether width and height trade places.
    public var swapsAxes: Bool { rawValue >= 5 }

    /// The orientation in a JPEG's first Exif APP1 segment, `.up` when there is none.
    public static func read(jpeg bytes: UnsafeRawBufferPointer) -> ExifOrientation {
        var offset = 2
        while offset + 4 <= bytes.count {
            guard bytes[offset] == 0xFF else { return .up }
            let marker = bytes[offset + 1]
            if marker == 0xFF {
                offset += 1
                continue
            }
            // Markers without a length; SOS starts the entropy-coded data, after which no APP1 counts.
            if marker == 0xD8 || marker == 0x01 || (0xD0...0xD7).contains(marker) {
                offset += 2
                continue
            }
            if marker == 0xDA || marker == 0xD9 { return .up }
            let length = Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
            guard length >= 2, offset + 2 + length <= bytes.count else { return .up }
            let start = offset + 4
            let end = offset + 2 + length
            if marker == 0xE1, end - start > 6, Array(bytes[start..<start + 6]) == Array("Exif\0\0".utf8) {
                return readTIFF(UnsafeRawBufferPointer(rebasing: bytes[(start + 6)..<end]))
            }
            offset = end
        }
        return .up
    }

    /// The orientation in a PNG's `eXIf` chunk, wherever it sits, `.up` when there is none.
    public static func read(png bytes: UnsafeRawBufferPointer) -> ExifOrientation {
        var offset = 8
        while offset + 12 <= bytes.count {
            let length =
                Int(bytes[offset]) << 24 | Int(bytes[offset + 1]) << 16 | Int(bytes[offset + 2]) << 8
                | Int(bytes[offset + 3])
            let type = Array(bytes[(offset + 4)..<(offset + 8)])
            let start = offset + 8
            guard length >= 0, start + length <= bytes.count else { return .up }
            if type == Array("eXIf".utf8) {
                return readExifPayload(UnsafeRawBufferPointer(rebasing: bytes[start..<(start + length)]))
            }
            if type == Array("IEND".utf8) { return .up }
            offset = start + length + 4
        }
        return .up
    }

    /// The orientation in a WebP's `EXIF` chunk, `.up` when there is none.
    public static func read(webp bytes: UnsafeRawBufferPointer) -> ExifOrientation {
        var offset = 12
        while offset + 8 <= bytes.count {
            let size =
                Int(bytes[offset + 4]) | Int(bytes[offset + 5]) << 8 | Int(bytes[offset + 6]) << 16
                | Int(bytes[offset + 7]) << 24
            let start = offset + 8
            guard start + size <= bytes.count else { return .up }
            if Array(bytes[offset..<(offset + 4)]) == Array("EXIF".utf8) {
                return readExifPayload(UnsafeRawBufferPointer(rebasing: bytes[start..<(start + size)]))
            }
            offset = start + size + (size & 1)
        }
        return .up
    }

    /// A TIFF structure, with or without the "Exif\0\0" prefix some writers keep.
    static func readExifPayload(_ payload: UnsafeRawBufferPointer) -> ExifOrientation {
        let prefix = Array("Exif\0\0".utf8)
        if payload.count > prefix.count, Array(payload[0..<prefix.count]) == prefix {
            return readTIFF(UnsafeRawBufferPointer(rebasing: payload[prefix.count...]))
        }
        return readTIFF(payload)
    }

    /// The orientation entry of IFD0 in a TIFF structure (the body of an Exif segment).
    static func readTIFF(_ tiff: UnsafeRawBufferPointer) -> ExifOrientation {
        guard tiff.count >= 8 else { return .up }
        let littleEndian: Bool
        switch (tiff[0], tiff[1]) {
        case (0x49, 0x49): littleEndian = true
        case (0x4D, 0x4D): littleEndian = false
        default: return .up
        }
        func u16(_ at: Int) -> Int? {
            guard at >= 0, at + 2 <= tiff.count else { return nil }
            return littleEndian ? Int(tiff[at]) | Int(tiff[at + 1]) << 8 : Int(tiff[at]) << 8 | Int(tiff[at + 1])
        }
        func u32(_ at: Int) -> Int? {
            guard let a = u16(at), let b = u16(at + 2) else { return nil }
            return littleEndian ? a | b << 16 : a << 16 | b
        }
        guard u16(2) == 42, let ifd = u32(4), let entries = u16(ifd) else { return .up }
        for index in 0..<entries {
            let entry = ifd + 2 + index * 12
            guard let tag = u16(entry), let type = u16(entry + 2) else { return .up }
            guard tag == 0x0112 else { continue }
            let value: Int?
            switch type {
            case 3: value = u16(entry + 8)  // SHORT
            case 4: value = u32(entry + 8)  // LONG
            case 1: value = entry + 8 < tiff.count ? Int(tiff[entry + 8]) : nil  // BYTE
            default: value = nil
            }
            return value.flatMap(ExifOrientation.init(rawValue:)) ?? .up
        }
        return .up
    }

    /// `image` turned upright, as Pillow's `ImageOps.exif_transpose` does.
    /// `sourceWidth`/`sourceHeight` are the stored, unturned full size.
    public func apply(to image: Image, sourceWidth: Int, sourceHeight: Int) -> Image {
        let w = image.width
        let h = image.height
        let (outWidth, outHeight) = swapsAxes ? (h, w) : (w, h)
        let (fullWidth, fullHeight) = swapsAxes ? (sourceHeight, sourceWidth) : (sourceWidth, sourceHeight)
        if self == .up {
            return Image(
                width: w, height: h, pixels: image.pixels, sourceWidth: fullWidth, sourceHeight: fullHeight)
        }
        // For each output pixel, the source is origin + ox·stepX + oy·stepY (in pixels).
        let origin: Int
        let stepX: Int
        let stepY: Int
        switch self {
        case .up: (origin, stepX, stepY) = (0, 1, w)
        case .mirrored: (origin, stepX, stepY) = (w - 1, -1, w)
        case .down: (origin, stepX, stepY) = ((h - 1) * w + w - 1, -1, -w)
        case .mirroredDown: (origin, stepX, stepY) = ((h - 1) * w, 1, -w)
        case .transposed: (origin, stepX, stepY) = (0, w, 1)
        case .rotatedClockwise: (origin, stepX, stepY) = ((h - 1) * w, -w, 1)
        case .transversed: (origin, stepX, stepY) = ((h - 1) * w + w - 1, -w, -1)
        case .rotatedCounterClockwise: (origin, stepX, stepY) = (w - 1, w, -1)
        }
        let pixels = [UInt8](unsafeUninitializedCapacity: w * h * 3) { out, initialized in
            image.pixels.withUnsafeBufferPointer { source in
                var o = 0
                for oy in 0..<outHeight {
                    var s = origin + oy * stepY
                    for _ in 0..<outWidth {
                        out[o] = source[s * 3]
                        out[o + 1] = source[s * 3 + 1]
                        out[o + 2] = source[s * 3 + 2]
                        o += 3
                        s += stepX
                    }
                }
            }
            initialized = w * h * 3
        }
        return Image(
            width: outWidth, height: outHeight, pixels: pixels, sourceWidth: fullWidth, sourceHeight: fullHeight)
    }
}
