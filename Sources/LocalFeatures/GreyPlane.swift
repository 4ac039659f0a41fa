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
        // Fixed point: positions and weights in 1/256 of a pixel.
        func taps(_ count: Int, from source: Int) -> (first: [Int], weight: [Int32]) {
            let scale = Float(source) / Float(count)
            var first = [Int](repeating: 0, count: count)
            var weight = [Int32](repeating: 0, count: count)
            for o in 0..<count {
                let position = min(max((Float(o) + 0.5) * scale - 0.5, 0), Float(source - 1))
                first[o] = min(Int(position), source - 2 < 0 ? 0 : source - 2)
                weight[o] = Int32(((position - Float(first[o])) * 256).rounded())
            }
            return (first, weight)
        }
        let columns = taps(width, from: self.width)
        let rows = taps(height, from: self.height)
        let sourceWidth = self.width
        let step = self.width > 1 ? 1 : 0
        let down = self.height > 1 ? sourceWidth : 0
        var output = [UInt8](repeating: 0, count: width * height)
        pixels.withUnsafeBufferPointer { source in
            columns.first.withUnsafeBufferPointer { left in
                columns.weight.withUnsafeBufferPointer { fx in
                    output.withUnsafeMutableBufferPointer { out in
                        for y in 0..<height {
                            let upper = source.baseAddress! + rows.first[y] * sourceWidth
                            let fy = rows.weight[y]
                            let line = out.baseAddress! + y * width
                            for x in 0..<width {
                                let (l, w) = (left[x], fx[x])
                                let top = Int32(upper[l]) * (256 - w) + Int32(upper[l + step]) * w
                                let bottom = Int32(upper[l + down]) * (256 - w) + Int32(upper[l + down + step]) * w
                                line[x] = UInt8(truncatingIfNeeded: (top * (256 - fy) + bottom * fy + 32768) >> 16)
                            }
                        }
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
                    func row(_ k: Int) -> UnsafePointer<UInt16> {
                        rows.baseAddress! + min(max(y + k, 0), height - 1) * width
                    }
                    let (r0, r1, r2, r3, r4, r5, r6) = (row(-3), row(-2), row(-1), row(0), row(1), row(2), row(3))
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
