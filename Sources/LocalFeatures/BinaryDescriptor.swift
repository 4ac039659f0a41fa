import Foundation

/// Describes a corner by 256 brightness comparisons between pairs of pixels of its smoothed surroundings,
/// turned to the corner's own orientation, so that the same spot seen turned gives nearly the same bits.
///
/// The pairs are drawn once, from a fixed seed, from an isotropic gaussian around the corner (σ = a fifth of
/// the patch's width, the distribution found best for such tests), kept inside a disc of radius 15 so that
/// any turn keeps them inside the patch. The orientation is the direction from the corner to the intensity
/// centroid of that disc. Both are computed on every pyramid level, so a descriptor also covers scale.
struct BinaryDescriptor: Sendable {
    /// Radius of the disc that orientation and tests use; corners must lie this far inside the plane.
    static let radius = 15
    /// Orientations are quantised to this many steps (12° each), with a turned copy of the pairs per step.
    static let orientationSteps = 30

    /// For each orientation step, 256 pairs of pixel offsets (the two pixels compared), as row-major offsets
    /// for a plane of `width` columns.
    private let turnedPairs: [[(Int, Int)]]
    /// The disc's rows: for each dy in −radius…radius, the half width of the disc on that row.
    private let halfWidths: [Int]
    let width: Int

    /// A describer for planes `width` pixels wide.
    init(width: Int) {
        self.width = width
        let r = Self.radius
        halfWidths = (-r...r).map { dy in Int(Double(r * r - dy * dy).squareRoot()) }
        turnedPairs = Self.turnedPattern.map { pairs in
            pairs.map { ($0.0.y * width + $0.0.x, $0.1.y * width + $0.1.x) }
        }
    }

    /// The pattern turned to each orientation step, in whole pixels: computed once, for every plane width.
    private static let turnedPattern: [[(SIMD2<Int>, SIMD2<Int>)]] = (0..<orientationSteps).map { step in
        let angle = 2 * Double.pi * Double(step) / Double(orientationSteps)
        let (c, s) = (cos(angle), sin(angle))
        func turned(_ point: (Double, Double)) -> SIMD2<Int> {
            SIMD2(Int((c * point.0 - s * point.1).rounded()), Int((s * point.0 + c * point.1).rounded()))
        }
        return pattern.map { (turned($0.0), turned($0.1)) }
    }

    /// The 256 pairs, unturned: drawn from a gaussian by a fixed generator, so every build has the same.
    static let pattern: [((Double, Double), (Double, Double))] = {
        var generator = PatternGenerator(state: 0x5EED_0F_B1_7E57)
        let sigma = 31.0 / 5
        let limit = Double(radius) - 0.5  // rounding a turned point must not leave the disc
        func point() -> (Double, Double) {
            while true {
                let (x, y) = (generator.gaussian() * sigma, generator.gaussian() * sigma)
                if x * x + y * y <= limit * limit { return (x, y) }
            }
        }
        var pairs: [((Double, Double), (Double, Double))] = []
        while pairs.count < 256 {
            let (a, b) = (point(), point())
            if (a.0 - b.0).magnitude + (a.1 - b.1).magnitude >= 2 { pairs.append((a, b)) }  // not a pixel with itself
        }
        return pairs
    }()

    /// The orientation of the corner at `(x, y)` of `plane`, in radians, from its disc's intensity centroid.
    func orientation(in plane: UnsafeBufferPointer<UInt8>, x: Int, y: Int) -> Float {
        var mx = 0
        var my = 0
        let r = Self.radius
        for dy in -r...r {
            let half = halfWidths[dy + r]
            let row = (y + dy) * width + x
            var sum = 0
            var weighted = 0
            for dx in -half...half {
                let v = Int(plane[row + dx])
                sum += v
                weighted += dx * v
            }
            mx += weighted
            my += dy * sum
        }
        return Float(atan2(Double(my), Double(mx)))
    }

    /// The 256 bits of the corner at `(x, y)`, compared on the smoothed plane, appended to `words` as four
    /// 64-bit words.
    func describe(smoothed plane: UnsafeBufferPointer<UInt8>, x: Int, y: Int, angle: Float, into words: inout [UInt64])
    {
        var step = Int((Double(angle) / (2 * Double.pi) * Double(Self.orientationSteps)).rounded())
        step = ((step % Self.orientationSteps) + Self.orientationSteps) % Self.orientationSteps
        let centre = y * width + x
        let pairs = turnedPairs[step]
        for word in 0..<4 {
            var bits: UInt64 = 0
            for bit in 0..<64 {
                let (a, b) = pairs[word * 64 + bit]
                if plane[centre + a] < plane[centre + b] { bits |= 1 << UInt64(bit) }
            }
            words.append(bits)
        }
    }
}

/// SplitMix64 with Box–Muller: a small generator whose output is fixed by its seed on every platform, for
/// the test pattern and for RANSAC's draws.
struct PatternGenerator: Sendable {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }

    /// Uniform in 0..<n.
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }

    /// A standard normal draw.
    mutating func gaussian() -> Double {
        let u = max(uniform(), 1e-300)
        return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * uniform())
    }
}
