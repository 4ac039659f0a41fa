/// A batch of queries whose first `length` components are each a multiple of the first query's.
///
/// The blend recipe's query is one vector per window, `[a · plain ; b · window]` normalised, so
/// every window repeats the whole picture's plain vector at some scale. A flat scan then needs the
/// rows' prefixes against that vector once, not once per window: half the multiplications.
struct SharedPrefix {
    /// How many leading components are shared.
    let length: Int
    /// Query `q`'s prefix is `scales[q]` times query 0's.
    let scales: [Float]

    /// The scales, when every query's prefix is a multiple of query 0's to within float rounding;
    /// nil when `length` is not a proper prefix or the queries do not share one.
    init?(_ queries: UnsafePointer<Float>, count: Int, dimension: Int, length: Int) {
        guard length > 0, length < dimension, count > 1 else { return nil }
        let first = Kernels.dot(queries, queries, length)
        guard first > 0 else { return nil }
        var scales: [Float] = []
        scales.reserveCapacity(count)
        let along = UnsafeMutablePointer<Float>.allocate(capacity: length)
        defer { along.deallocate() }
        for q in 0..<count {
            let prefix = queries + q * dimension
            let scale = Kernels.dot(prefix, queries, length) / first
            // The part of this prefix that is not along query 0's, measured directly: the shorter
            // ‖p‖² − ⟨p, q₀⟩²/‖q₀‖² cancels to rounding noise larger than the bound. Rounding leaves
            // about 1e-7 of the norm; 1e-4 (1e-8 squared) still moves no score by more than 1e-4.
            for i in 0..<length { along[i] = scale * queries[i] }
            let residual = Kernels.l2Squared(prefix, along, length)
            guard residual <= 1e-8 * Kernels.dot(prefix, prefix, length) else { return nil }
            scales.append(scale)
        }
        self.length = length
        self.scales = scales
    }
}
