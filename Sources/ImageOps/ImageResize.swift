import ImageDecoding

/// Area-averaging downscale: each output pixel is the mean of the source pixels it covers,
/// which is what a thumbnail wants (no aliasing, no ringing). The one downscaler for the server's
/// and the edge's thumbnails.
public enum ImageResize {
    /// `image` shrunk so that its longest side is at most `longestSide`; unchanged when it already fits.
    public static func fit(_ image: Image, longestSide: Int) -> Image {
        let longest = max(image.width, image.height)
        guard longest > longestSide, longestSide > 0 else { return image }
        let scale = Double(longestSide) / Double(longest)
        let width = max(1, Int((Double(image.width) * scale).rounded()))
        let height = max(1, Int((Double(image.height) * scale).rounded()))
        let columns = spans(from: image.width, to: width)
        let rows = spans(from: image.height, to: height)
        var output = [UInt8](repeating: 0, count: width * height * 3)
        var sums = [UInt32](repeating: 0, count: width * 3)
        image.pixels.withUnsafeBufferPointer { source in
            for (y, rowSpan) in rows.enumerated() {
                for i in sums.indices { sums[i] = 0 }
                for sourceRow in rowSpan {
                    let base = sourceRow * image.width * 3
                    for (x, columnSpan) in columns.enumerated() {
                        var r: UInt32 = 0
                        var g: UInt32 = 0
                        var b: UInt32 = 0
                        for sourceColumn in columnSpan {
                            let i = base + sourceColumn * 3
                            r += UInt32(source[i])
                            g += UInt32(source[i + 1])
                            b += UInt32(source[i + 2])
                        }
                        sums[x * 3] += r
                        sums[x * 3 + 1] += g
                        sums[x * 3 + 2] += b
                    }
                }
                for (x, columnSpan) in columns.enumerated() {
                    let area = UInt32(columnSpan.count * rowSpan.count)
                    let o = (y * width + x) * 3
                    for c in 0..<3 { output[o + c] = UInt8((sums[x * 3 + c] + area / 2) / area) }
                }
            }
        }
        return Image(width: width, height: height, pixels: output)
    }

    /// One channel of `width × height` bytes shrunk the same way, so that its longest side is at most
    /// `longestSide`; unchanged when it already fits. Local features work on grey, and shrinking one channel
    /// costs a third of shrinking RGB.
    public static func fit(grey pixels: [UInt8], width: Int, height: Int, longestSide: Int)
        -> (pixels: [UInt8], width: Int, height: Int)
    {
        let longest = max(width, height)
        guard longest > longestSide, longestSide > 0 else { return (pixels, width, height) }
        let scale = Double(longestSide) / Double(longest)
        let outWidth = max(1, Int((Double(width) * scale).rounded()))
        let outHeight = max(1, Int((Double(height) * scale).rounded()))
        let columns = spans(from: width, to: outWidth)
        let rows = spans(from: height, to: outHeight)
        var output = [UInt8](repeating: 0, count: outWidth * outHeight)
        var sums = [UInt32](repeating: 0, count: outWidth)
        pixels.withUnsafeBufferPointer { source in
            sums.withUnsafeMutableBufferPointer { sums in
                for (y, rowSpan) in rows.enumerated() {
                    for x in 0..<outWidth { sums[x] = 0 }
                    for sourceRow in rowSpan {
                        let line = source.baseAddress! + sourceRow * width
                        for (x, columnSpan) in columns.enumerated() {
                            var sum: UInt32 = 0
                            for sourceColumn in columnSpan { sum &+= UInt32(line[sourceColumn]) }
                            sums[x] &+= sum
                        }
                    }
                    for (x, columnSpan) in columns.enumerated() {
                        let area = UInt32(columnSpan.count * rowSpan.count)
                        output[y * outWidth + x] = UInt8((sums[x] + area / 2) / area)
                    }
                }
            }
        }
        return (output, outWidth, outHeight)
    }

    /// The source indices each of `count` outputs covers; never empty.
    private static func spans(from source: Int, to count: Int) -> [Range<Int>] {
        (0..<count).map { i in
            let start = i * source / count
            let end = max(start + 1, (i + 1) * source / count)
            return start..<min(end, source)
        }
    }
}
