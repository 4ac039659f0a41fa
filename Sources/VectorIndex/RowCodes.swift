import CVectorKernels

/// Every row of a flat index rounded to 8-bit integers, one scale per row: what the batch scan
/// multiplies instead of the float rows.
///
/// A picture's windows are tens of queries against the same rows, a matrix product bound by
/// arithmetic rather than memory, and the 8-bit product (``Kernels/codeProducts``) does several
/// times as many multiply-adds per instruction as a float one. Its scores are approximate (each
/// value is rounded to 1/127 of its row's largest), so the scan keeps more candidates than asked
/// and ranks them by their exact float scores (``FlatIndex``).
// @unchecked: raw row memory; the owning FlatIndex's reader-writer lock guards it, as it guards the rows.
final class RowCodes: @unchecked Sendable {
    let dimension: Int
    let codes: RowStore<Int8>
    /// Row `r`'s values are about `scales[r] · codes[r]`.
    @exclusivity(unchecked) private(set) var scales: [Float] = []

    /// Codes for the first `count` rows of `rows`.
    init(rows: RowStore<Float>, count: Int, dimension: Int) {
        self.dimension = dimension
        codes = RowStore(width: dimension, capacity: count)
        scales.reserveCapacity(count)
        for r in 0..<count { append(rows.row(r)) }
    }

    func append(_ row: UnsafePointer<Float>) {
        withRounded(row) { code, scale in
            _ = codes.append(code)
            scales.append(scale)
        }
    }

    func set(_ index: Int, _ row: UnsafePointer<Float>) {
        withRounded(row) { code, scale in
            codes.set(index, from: code)
            scales[index] = scale
        }
    }

    func removeSwappingLast(_ index: Int) {
        codes.removeSwappingLast(index)
        scales[index] = scales[scales.count - 1]
        scales.removeLast()
    }

    /// `row` rounded to integers in −127…127 and the scale that maps them back.
    private func withRounded(_ row: UnsafePointer<Float>, _ body: (UnsafePointer<Int8>, Float) -> Void) {
        withUnsafeTemporaryAllocation(of: Int8.self, capacity: dimension) { code in
            let scale = vsk_round_codes(row, dimension, code.baseAddress!)
            body(code.baseAddress!, scale)
        }
    }
}

/// A batch of queries rounded to 8-bit integers, as the rows are: query `q`'s value `i` is about
/// `scales[q] · codes[q · length + i]`.
struct QueryCodes {
    let length: Int
    let codes: [Int8]
    let scales: [Float]

    /// The `length` values from `start` of each of the `count` queries, each query `stride` floats apart.
    init(_ queries: UnsafePointer<Float>, count: Int, start: Int, length: Int, stride: Int) {
        self.length = length
        var scales = [Float](repeating: 1, count: count)
        codes = [Int8](unsafeUninitializedCapacity: count * length) { buffer, initialized in
            for q in 0..<count {
                scales[q] = vsk_round_codes(queries + q * stride + start, length, buffer.baseAddress! + q * length)
            }
            initialized = count * length
        }
        self.scales = scales
    }
}
