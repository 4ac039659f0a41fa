/// Compact copies of the vectors that a flat scan reads instead of float32.
///
/// `f16` halves and `i8` quarters the bytes scanned. i8 maps each dimension
/// linearly between the minimum and maximum seen in the first batch added
/// (later values are clamped), so the scan's scores are approximate and the
/// flat index re-ranks its best candidates with the exact vectors.
// @unchecked: raw code memory; the owning FlatIndex's reader-writer lock guards it.
final class CompactCodes: @unchecked Sendable {
    let kind: VectorStorage
    let dimension: Int
    let half: RowStore<Float16>
    let bytes: RowStore<UInt8>
    // @exclusivity(unchecked): read once per row scored, under the owning FlatIndex's lock (see above).
    /// Per-dimension offset and step of the i8 codes; empty until fitted.
    @exclusivity(unchecked) var minimum: [Float] = []
    @exclusivity(unchecked) var scale: [Float] = []
    /// ‖decoded row‖², for approximate L2 scores.
    @exclusivity(unchecked) var squaredNorms: [Float] = []

    init(kind: VectorStorage, dimension: Int) {
        self.kind = kind
        self.dimension = dimension
        half = RowStore(width: kind == .f16 ? dimension : 0)
        bytes = RowStore(width: kind == .i8 ? dimension : 0)
    }

    init(
        kind: VectorStorage, dimension: Int, half: RowStore<Float16>, bytes: RowStore<UInt8>, minimum: [Float],
        scale: [Float], squaredNorms: [Float]
    ) {
        self.kind = kind
        self.dimension = dimension
        self.half = half
        self.bytes = bytes
        self.minimum = minimum
        self.scale = scale
        self.squaredNorms = squaredNorms
    }

    var isFitted: Bool { kind != .i8 || !minimum.isEmpty }

    /// Chooses the i8 range from `count` rows.
    func fit(_ rows: UnsafePointer<Float>, count: Int) {
        guard kind == .i8, minimum.isEmpty, count > 0 else { return }
        var low = [Float](repeating: .infinity, count: dimension)
        var high = [Float](repeating: -.infinity, count: dimension)
        for r in 0..<count {
            let row = rows + r * dimension
            for j in 0..<dimension {
                low[j] = min(low[j], row[j])
                high[j] = max(high[j], row[j])
            }
        }
        minimum = low
        scale = (0..<dimension).map { j in high[j] > low[j] ? (high[j] - low[j]) / 255 : 0 }
    }

    private func encode(_ row: UnsafePointer<Float>, into codes: UnsafeMutablePointer<UInt8>) {
        for j in 0..<dimension {
            let step = scale[j]
            let level = step > 0 ? ((row[j] - minimum[j]) / step).rounded() : 0
            codes[j] = UInt8(max(0, min(255, level)))
        }
    }

    /// The row as the scan sees it.
    func decoded(_ i: Int) -> [Float] {
        switch kind {
        case .f16: return (0..<dimension).map { Float(half.row(i)[$0]) }
        case .i8: return (0..<dimension).map { minimum[$0] + Float(bytes.row(i)[$0]) * scale[$0] }
        case .f32: return []
        }
    }

    private func squaredNorm(of i: Int) -> Float {
        decoded(i).reduce(0) { $0 + $1 * $1 }
    }

    func append(_ row: UnsafePointer<Float>) {
        switch kind {
        case .f16:
            let converted = (0..<dimension).map { Float16(row[$0]) }
            converted.withUnsafeBufferPointer { _ = half.append($0.baseAddress!) }
        case .i8:
            var codes = [UInt8](repeating: 0, count: dimension)
            codes.withUnsafeMutableBufferPointer { encode(row, into: $0.baseAddress!) }
            codes.withUnsafeBufferPointer { _ = bytes.append($0.baseAddress!) }
        case .f32: return
        }
        squaredNorms.append(squaredNorm(of: squaredNorms.count))
    }

    func set(_ i: Int, _ row: UnsafePointer<Float>) {
        switch kind {
        case .f16:
            let converted = (0..<dimension).map { Float16(row[$0]) }
            converted.withUnsafeBufferPointer { half.set(i, from: $0.baseAddress!) }
        case .i8:
            var codes = [UInt8](repeating: 0, count: dimension)
            codes.withUnsafeMutableBufferPointer { encode(row, into: $0.baseAddress!) }
            codes.withUnsafeBufferPointer { bytes.set(i, from: $0.baseAddress!) }
        case .f32: return
        }
        squaredNorms[i] = squaredNorm(of: i)
    }

    func removeSwappingLast(_ i: Int) {
        if kind == .f16 { half.removeSwappingLast(i) }
        if kind == .i8 { bytes.removeSwappingLast(i) }
        squaredNorms[i] = squaredNorms[squaredNorms.count - 1]
        squaredNorms.removeLast()
    }

    /// Per-query weights and constant so that `weights · code + offset` approximates `query · row`.
    func prepare(_ query: UnsafePointer<Float>) -> (weights: [Float], offset: Float) {
        switch kind {
        case .i8:
            var offset: Float = 0
            for j in 0..<dimension { offset += query[j] * minimum[j] }
            return ((0..<dimension).map { query[$0] * scale[$0] }, offset)
        default:
            return (Array(UnsafeBufferPointer(start: query, count: dimension)), 0)
        }
    }

    /// Approximate internal score (higher is better) of row `i`.
    @inline(__always)
    func score(_ metric: Metric, _ weights: UnsafePointer<Float>, _ offset: Float, _ i: Int) -> Float {
        let product =
            kind == .f16
            ? Kernels.dot(weights, half.row(i), dimension) : Kernels.dot(weights, bytes.row(i), dimension) + offset
        return metric == .l2 ? 2 * product - squaredNorms[i] : product
    }

    /// Bytes per vector that the scan reads.
    var bytesPerVector: Int { kind == .f16 ? 2 * dimension : dimension }
}
