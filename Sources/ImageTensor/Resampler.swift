import CImageCodecs

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

        // The horizontal pass reads each pixel as four bytes (RGB plus the
        // next pixel's red); only the picture's last row needs a spare byte.
        let rowBytes = width * 3
        let lastRow = pixels.count / rowBytes - 1
        let paddedRow = UnsafeMutablePointer<UInt8>.allocate(capacity: rowBytes + 1)
        defer { paddedRow.deallocate() }
        horizontal.weights.withUnsafeBufferPointer { weights in
            horizontal.first.withUnsafeBufferPointer { first in
                horizontal.count.withUnsafeBufferPointer { count in
                    for row in 0..<rowCount {
                        var source = UnsafePointer(pixels.baseAddress! + (rowFirst + row) * rowBytes)
                        if rowFirst + row == lastRow {
                            paddedRow.update(from: source, count: rowBytes)
                            paddedRow[rowBytes] = 0
                            source = UnsafePointer(paddedRow)
                        }
                        let target = temp.baseAddress! + row * tempStride
                        vs_resample_row_rgb(
                            source, target, Int32(columns), Int32(horizontal.tapCount), weights.baseAddress!,
                            first.baseAddress!, count.baseAddress!)
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
                    vs_accumulate_row(accumulator.baseAddress!, line, w, Int32(tempStride))
                }
                vs_clip_row(accumulator.baseAddress!, outRow.baseAddress!, Int32(tempStride))
                emit(row, UnsafeBufferPointer(outRow))
            }
        }
    }
}
