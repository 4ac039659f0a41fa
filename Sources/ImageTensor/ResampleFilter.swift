import VSearchCore

/// Pillow's antialiased resampling filters and fixed-point coefficients.
///
/// Pillow widens a filter's support by the downscale factor, so every source
/// pixel contributes when shrinking; weights are normalised to sum to one and
/// turned into integers with 22 fractional bits. Reproducing that arithmetic
/// makes our tensors match Pillow's `Image.resize` to the last bit.
struct ResampleFilter: Sendable {
    /// Half-width of the kernel at scale 1, in source pixels.
    let support: Double
    let weight: @Sendable (Double) -> Double

    static let bilinear = ResampleFilter(support: 1) { x in
        let x = abs(x)
        return x < 1 ? 1 - x : 0
    }

    static let box = ResampleFilter(support: 0.5) { x in
        x > -0.5 && x <= 0.5 ? 1 : 0
    }

    /// Keys' cubic with a = −0.5, as Pillow's BICUBIC.
    static let bicubic = ResampleFilter(support: 2) { x in
        let a = -0.5
        let x = abs(x)
        if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
        if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
        return 0
    }

    init(support: Double, weight: @escaping @Sendable (Double) -> Double) {
        self.support = support
        self.weight = weight
    }

    init(_ resample: ModelDescriptor.Resample) {
        switch resample {
        case .bilinear: self = .bilinear
        case .area: self = .box
        case .bicubic: self = .bicubic
        }
    }
}

/// The integer taps for a run of output positions along one axis.
struct ResampleCoefficients: Sendable {
    /// Fractional bits of each weight; a sum of 255 × weights still fits in Int32.
    static let precisionBits: Int32 = 22

    /// Taps per output position; unused taps are zero.
    let tapCount: Int
    /// First source index for each output position.
    let first: [Int32]
    /// How many taps each output position uses.
    let count: [Int32]
    /// `tapCount` weights per output position.
    let weights: [Int32]
    /// The source range all positions read, `[low, high)`.
    let low: Int
    let high: Int

    /// Taps for output positions `outputs` of a resize from `inputSize` to
    /// `outputSize` samples, computed exactly as Pillow's `precompute_coeffs`
    /// and `normalize_coeffs_8bpc`.
    init(inputSize: Int, outputSize: Int, outputs: Range<Int>, filter: ResampleFilter) {
        let scale = Double(inputSize) / Double(outputSize)
        let filterScale = max(scale, 1)
        let support = filter.support * filterScale
        let taps = Int(support.rounded(.up)) * 2 + 1
        let unit = Double(1 << Self.precisionBits)
        var first = [Int32](repeating: 0, count: outputs.count)
        var count = [Int32](repeating: 0, count: outputs.count)
        var weights = [Int32](repeating: 0, count: outputs.count * taps)
        var low = inputSize
        var high = 0
        var raw = [Double](repeating: 0, count: taps)
        let inverseScale = 1 / filterScale
        for (slot, position) in outputs.enumerated() {
            let center = (Double(position) + 0.5) * scale
            // Pillow truncates toward zero here, then clamps.
            let xmin = max(Int(center - support + 0.5), 0)
            let xmax = min(Int(center + support + 0.5), inputSize)
            let n = min(max(xmax - xmin, 0), taps)
            var total = 0.0
            for x in 0..<n {
                let w = filter.weight((Double(x + xmin) - center + 0.5) * inverseScale)
                raw[x] = w
                total += w
            }
            for x in 0..<n {
                let w = total != 0 ? raw[x] / total : raw[x]
                weights[slot * taps + x] = Int32(w < 0 ? -0.5 + w * unit : 0.5 + w * unit)
            }
            first[slot] = Int32(xmin)
            count[slot] = Int32(n)
            if n > 0 {
                low = min(low, xmin)
                high = max(high, xmin + n)
            }
        }
        self.tapCount = taps
        self.first = first
        self.count = count
        self.weights = weights
        self.low = min(low, high)
        self.high = high
    }
}
