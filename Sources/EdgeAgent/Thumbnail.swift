import ImageDecoding
import ImageOps

/// Small JPEGs of frames, for the Live page to show what a device saw.
enum Thumbnail {
    /// The frame itself when it is already a small JPEG (ffmpeg's frames are), else the decoded
    /// image shrunk to fit `maxSide` and encoded; nil when encoding fails (the message goes without).
    static func jpeg(frameBytes: [UInt8], decoded: Image, maxSide: Int) -> [UInt8]? {
        let fullSide = max(decoded.sourceWidth, decoded.sourceHeight)
        if frameBytes.starts(with: [0xFF, 0xD8]), fullSide <= max(maxSide, 512), frameBytes.count <= 96 << 10 {
            return frameBytes
        }
        let small = ImageResize.fit(decoded, longestSide: maxSide)
        return try? JPEGEncoder.encode(small, quality: 80, name: "thumbnail")
    }
}
