import CImageCodecs
import ImageDecoding

/// Small JPEGs of frames, for the Live page to show what a device saw.
enum Thumbnail {
    /// The frame itself when it is already a small JPEG (ffmpeg's frames are), else the decoded
    /// image shrunk to fit `maxSide` and encoded; nil when encoding fails (the message goes without).
    static func jpeg(frameBytes: [UInt8], decoded: Image, maxSide: Int) -> [UInt8]? {
        let fullSide = max(decoded.sourceWidth, decoded.sourceHeight)
        if frameBytes.starts(with: [0xFF, 0xD8]), fullSide <= max(maxSide, 512), frameBytes.count <= 96 << 10 {
            return frameBytes
        }
        let small = shrink(decoded, maxSide: maxSide)
        var output: UnsafeMutablePointer<UInt8>?
        var size = 0
        let status = small.pixels.withUnsafeBufferPointer { pixels in
            vs_jpeg_encode_rgb(pixels.baseAddress, UInt32(small.width), UInt32(small.height), 80, &output, &size)
        }
        guard status == 0, let output else { return nil }
        defer { vs_jpeg_free_encoded(output) }
        return Array(UnsafeBufferPointer(start: output, count: size))
    }

    /// A box-filtered copy whose longest side is at most `maxSide` (an integer factor is enough for a thumbnail).
    static func shrink(_ image: Image, maxSide: Int) -> Image {
        let longest = max(image.width, image.height)
        let factor = (longest + maxSide - 1) / max(1, maxSide)
        guard factor > 1 else { return image }
        let width = max(1, image.width / factor)
        let height = max(1, image.height / factor)
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        let area = factor * factor
        for y in 0..<height {
            for x in 0..<width {
                var sums = (0, 0, 0)
                for dy in 0..<factor {
                    var i = ((y * factor + dy) * image.width + x * factor) * 3
                    for _ in 0..<factor {
                        sums.0 += Int(image.pixels[i])
                        sums.1 += Int(image.pixels[i + 1])
                        sums.2 += Int(image.pixels[i + 2])
                        i += 3
                    }
                }
                let o = (y * width + x) * 3
                pixels[o] = UInt8(sums.0 / area)
                pixels[o + 1] = UInt8(sums.1 / area)
                pixels[o + 2] = UInt8(sums.2 / area)
            }
        }
        return Image(width: width, height: height, pixels: pixels)
    }
}
