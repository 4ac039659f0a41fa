import ImageDecoding

/// One channel of 8-bit intensities, rows top to bottom: what corners are found and described on.
public struct GreyPlane: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// `width × height` bytes, row after row.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width > 0 && height > 0 && pixels.count == width * height, "pixels do not match the size")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// The luma of `image` (ITU-R BT.601 weights, in integers).
    public init(_ image: Image) {
        var pixels = [UInt8](repeating: 0, count: image.width * image.height)
        image.pixels.withUnsafeBufferPointer { rgb in
            for i in pixels.indices {
                let luma = 77 * Int(rgb[3 * i]) + 150 * Int(rgb[3 * i + 1]) + 29 * Int(rgb[3 * i + 2])
                pixels[i] = UInt8((luma + 128) >> 8)
            }
        }
        self.init(width: image.width, height: image.height, pixels: pixels)
    }

    /// The plane resampled bilinearly to `width × height`, pixel centres aligned.
    ///
    /// A pyramid step shrinks by 1.2, so each output pixel draws on a source pixel's neighbours only and
    /// bilinear sampling does not alias.
    func resampled(width: Int, height: Int) -> GreyPlane {
        let sx = Float(self.width) / Float(width)
        let sy = Float(self.height) / Float(height)
        var output = [UInt8](repeating: 0, count: width * height)
        let columns = (0..<width).map { x -> (Int, Int, Float) in
            let source = min(max((Float(x) + 0.5) * sx - 0.5, 0), Float(self.width - 1))
            let left = Int(source)
            return (left, min(left + 1, self.width - 1), source - Float(left))
        }
        pixels.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { out in
                for y in 0..<height {
                    let sourceY = min(max((Float(y) + 0.5) * sy - 0.5, 0), Float(self.height - 1))
                    let top = Int(sourceY)
                    let fy = sourceY - Float(top)
                    let upper = top * self.width
                    let lower = min(top + 1, self.height - 1) * self.width
                    for x in 0..<width {
                        let (left, right, fx) = columns[x]
                        let a =
                            Float(source[upper + left]) + fx
                            * (Float(source[upper + right]) - Float(source[upper + left]))
                        let b =
                            Float(source[lower + left]) + fx
                            * (Float(source[lower + right]) - Float(source[lower + left]))
                        // + 0.5 and truncation round a non-negative value, without a call to a rounding function.
                        out[y * width + x] = UInt8(min(max(a + fy * (b - a) + 0.5, 0), 255))
                    }
                }
            }
        }
        return GreyPlane(width: width, height: height, pixels: output)
    }

    /// The plane smoothed by a 7-tap gaussian (σ = 2 pixels), the border repeated.
    ///
    /// A binary test compares two single pixels, so noise and JPEG blocking would flip its bits; comparing
    /// smoothed values makes the bits stable.
    func smoothed() -> GreyPlane {
        let weights: [UInt32] = [18, 34, 49, 54, 49, 34, 18]  // exp(−x²/8), scaled to sum to 256
        let (width, height) = (self.width, self.height)
        // Rows first, into 16 bits (at most 255 × 256), then columns; the border is handled by clamping only
        // within 3 pixels of an edge, so the inner loops are plain multiply-adds the compiler vectorises.
        var rows = [UInt16](repeating: 0, count: pixels.count)
        var output = [UInt8](repeating: 0, count: pixels.count)
        pixels.withUnsafeBufferPointer { source in
            rows.withUnsafeMutableBufferPointer { rows in
                for y in 0..<height {
                    let line = source.baseAddress! + y * width
                    let out = rows.baseAddress! + y * width
                    for x in 0..<width where x < 3 || x >= width - 3 {
                        var sum: UInt32 = 0
                        for k in 0..<7 { sum += weights[k] * UInt32(line[min(max(x + k - 3, 0), width - 1)]) }
                        out[x] = UInt16(sum)
                    }
                    if width > 6 {
                        for x in 3..<(width - 3) {
                            var sum = 18 * UInt32(line[x - 3]) + 34 * UInt32(line[x - 2]) + 49 * UInt32(line[x - 1])
                            sum += 54 * UInt32(line[x]) + 49 * UInt32(line[x + 1]) + 34 * UInt32(line[x + 2])
                            sum += 18 * UInt32(line[x + 3])
                            out[x] = UInt16(sum)
                        }
                    }
                }
            }
        }
        rows.withUnsafeBufferPointer { rows in
            output.withUnsafeMutableBufferPointer { output in
                for y in 0..<height {
                    let taps = (0..<7).map { rows.baseAddress! + min(max(y + $0 - 3, 0), height - 1) * width }
                    let (r0, r1, r2, r3, r4, r5, r6) = (taps[0], taps[1], taps[2], taps[3], taps[4], taps[5], taps[6])
                    let out = output.baseAddress! + y * width
                    for x in 0..<width {
                        var sum = 18 * UInt32(r0[x]) + 34 * UInt32(r1[x]) + 49 * UInt32(r2[x]) + 54 * UInt32(r3[x])
                        sum += 49 * UInt32(r4[x]) + 34 * UInt32(r5[x]) + 18 * UInt32(r6[x])
                        out[x] = UInt8(truncatingIfNeeded: (sum + 32768) >> 16)
                    }
                }
            }
        }
        return GreyPlane(width: width, height: height, pixels: output)
    }
}
