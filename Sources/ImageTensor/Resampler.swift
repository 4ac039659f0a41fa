/// Resizes a window of an RGB picture in two separable passes, horizontal
/// then vertical, rounding to 8 bits between them as Pillow does.
///
/// Only the output rows and columns that survive the crop are computed, so a
/// center crop costs no more than its own size, however long the resized
/// picture would have been.
struct Resampler {
    let horizontal: ResampleCoefficients
    let vertical: ResampleCoefficients

    /// Calls `emit(row, pixels)` for each output row in order, with that
    /// row's `horizontal` output positions as RGB bytes. The buffer is reused.
    func run(
        _ pixels: UnsafeBufferPointer<UInt8>, width: Int, emit: (Int, UnsafeBufferPointer<UInt8>) -> Void
    ) {
        let columns = horizontal.first.count
        let rows = vertical.first.count
        guard columns > 0, rows > 0, vertical.high > vertical.low else { return }
        let rowFirst = vertical.low
        let rowCount = vertical.high - vertical.low
        let tempStride = columns * 3
        let temp = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: rowCount * tempStride)
        defer { temp.deallocate() }
        let accumulator = UnsafeMutableBufferPointer<Int32>.allocate(capacity: tempStride)
        defer { accumulator.deallocate() }
        let outRow = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: tempStride)
        defer { outRow.deallocate() }

        horizontal.weights.withUnsafeBufferPointer { weights in
            horizontal.first.withUnsafeBufferPointer { first in
                horizontal.count.withUnsafeBufferPointer { count in
                    for row in 0..<rowCount {
                        let source = pixels.baseAddress! + (rowFirst + row) * width * 3
                        let target = temp.baseAddress! + row * tempStride
                        Self.horizontalRow(
                            source: source, target: target, columns: columns, taps: horizontal.tapCount,
                            weights: weights.baseAddress!, first: first.baseAddress!, count: count.baseAddress!)
                    }
                }
            }
        }

        let half: Int32 = 1 << (ResampleCoefficients.precisionBits - 1)
        vertical.weights.withUnsafeBufferPointer { weights in
            for row in 0..<rows {
                let top = Int(vertical.first[row]) - rowFirst
                let taps = Int(vertical.count[row])
                accumulator.update(repeating: half)
                for tap in 0..<taps {
                    let w = weights[row * vertical.tapCount + tap]
                    let line = temp.baseAddress! + (top + tap) * tempStride
                    for i in 0..<tempStride {
                        accumulator[i] &+= Int32(line[i]) &* w
                    }
                }
                for i in 0..<tempStride {
                    outRow[i] = Self.clip8(accumulator[i])
                }
                emit(row, UnsafeBufferPointer(outRow))
            }
        }
    }

    @inline(__always)
    static func clip8(_ value: Int32) -> UInt8 {
        let shifted = value >> ResampleCoefficients.precisionBits
        return UInt8(truncatingIfNeeded: min(max(shifted, 0), 255))
    }

    @inline(__always)
    private static func horizontalRow(
        source: UnsafePointer<UInt8>, target: UnsafeMutablePointer<UInt8>, columns: Int, taps: Int,
        weights: UnsafePointer<Int32>, first: UnsafePointer<Int32>, count: UnsafePointer<Int32>
    ) {
        let half: Int32 = 1 << (ResampleCoefficients.precisionBits - 1)
        for column in 0..<columns {
            var r = half
            var g = half
            var b = half
            let k = weights + column * taps
            var p = source + Int(first[column]) * 3
            for tap in 0..<Int(count[column]) {
                let w = k[tap]
                r &+= Int32(p[0]) &* w
                g &+= Int32(p[1]) &* w
                b &+= Int32(p[2]) &* w
                p += 3
            }
            target[column * 3] = clip8(r)
            target[column * 3 + 1] = clip8(g)
            target[column * 3 + 2] = clip8(b)
        }
    }
}
