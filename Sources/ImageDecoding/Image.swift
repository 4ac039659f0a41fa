/// A decoded picture: 8-bit RGB, interleaved, rows top to bottom.
///
/// Alpha has already been composited over white and EXIF orientation applied,
/// so `pixels` is what a person would see.
public struct Image: Sendable, Equatable {
    /// Columns in `pixels`.
    public let width: Int
    /// Rows in `pixels`.
    public let height: Int
    /// `width × height × 3` bytes: R, G, B for each pixel, row after row.
    public var pixels: [UInt8]
    /// The picture's full size as stored in the file, after EXIF orientation.
    ///
    /// It differs from `width × height` when a JPEG was decoded at a reduced
    /// scale because the caller only needed a smaller picture.
    public let sourceWidth: Int
    public let sourceHeight: Int

    /// Wraps RGB pixels; `pixels.count` must be `width × height × 3`.
    public init(width: Int, height: Int, pixels: [UInt8], sourceWidth: Int? = nil, sourceHeight: Int? = nil) {
        precondition(width > 0 && height > 0 && pixels.count == width * height * 3, "pixels do not match the size")
        self.width = width
        self.height = height
        self.pixels = pixels
        self.sourceWidth = sourceWidth ?? width
        self.sourceHeight = sourceHeight ?? height
    }

    /// The pixel at column `x`, row `y`.
    public subscript(x: Int, y: Int) -> (r: UInt8, g: UInt8, b: UInt8) {
        let i = (y * width + x) * 3
        return (pixels[i], pixels[i + 1], pixels[i + 2])
    }
}

/// What the decoder accepts and how much work it may skip.
public struct ImageDecodingOptions: Sendable, Equatable {
    /// Pictures with more pixels than this are refused before decoding, so a
    /// small file that claims to be enormous cannot exhaust memory.
    public var maxPixels: Int
    /// Let a JPEG decode straight to a smaller size (libjpeg's DCT scaling)
    /// when the caller names the size it needs.
    public var dctScaling: Bool
    /// Rotate and mirror as the EXIF orientation tag says.
    public var exifOrientation: Bool
    /// Files larger than this are refused before they are read.
    public var maxFileBytes: Int

    /// 50 megapixels, 256 MiB files; DCT scaling and EXIF orientation on.
    public init(
        maxPixels: Int = 50_000_000, dctScaling: Bool = true, exifOrientation: Bool = true,
        maxFileBytes: Int = 256 << 20
    ) {
        self.maxPixels = maxPixels
        self.maxFileBytes = maxFileBytes
        self.dctScaling = dctScaling
        self.exifOrientation = exifOrientation
    }
}
