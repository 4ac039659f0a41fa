import Foundation
import VSearchCore

/// Pools one image's feature map (C × H × W, channels first) into unit-length vectors, as a
/// ``VSearchCore/DescriptorSpec`` says.
///
/// Region vectors come from running sums of `x^power` over the map (an integral image of every
/// channel), so every window costs four reads per channel whatever its size: a query's sixty or so
/// windows cost about as much as pooling the map a few times.
struct FeatureMapPooling: Sendable {
    /// 1 for average pooling.
    let power: Float
    let regions: [Int]
    let overlap: Float
    let keep: Int?

    init(spec: DescriptorSpec) {
        power = spec.pooling == .average ? 1 : spec.power
        regions = spec.regions
        overlap = spec.overlap
        keep = spec.keep
    }

    /// The whole map pooled into one unit vector.
    func whole(_ map: UnsafeBufferPointer<Float>, channels: Int, height: Int, width: Int) -> [Float] {
        let cells = height * width
        var means = [Double](repeating: 0, count: channels)
        for c in 0..<channels {
            var sum: Double = 0
            let base = c * cells
            for i in 0..<cells { sum += lift(map[base + i]) }
            means[c] = sum / Double(cells)
        }
        var vector = lower(means)
        Self.normalize(&vector)
        return vector
    }

    /// The whole map's vector first, then one per distinct window of every region size (the
    /// `keep` strongest, strongest first, when the spec limits them).
    func windows(_ map: UnsafeBufferPointer<Float>, channels: Int, height: Int, width: Int) -> [[Float]] {
        let boxes = Self.boxes(height: height, width: width, sizes: regions, overlap: overlap)
        guard !boxes.isEmpty else { return [whole(map, channels: channels, height: height, width: width)] }
        // sums[corner * channels + c] = Σ lift(map) of channel c over rows < y and columns < x, where corner =
        // y * (width + 1) + x. A corner's sums are side by side, so a window reads four runs of `channels`
        // values, and the table is built from the lifted map in the same cell-major order, a row at a time.
        let corner = { (y: Int, x: Int) in (y * (width + 1) + x) * channels }
        let lifted = liftedCellMajor(map, channels: channels, cells: height * width)
        var sums = [Double](repeating: 0, count: (height + 1) * (width + 1) * channels)
        var row = [Double](repeating: 0, count: channels)
        sums.withUnsafeMutableBufferPointer { table in
            row.withUnsafeMutableBufferPointer { row in
                lifted.withUnsafeBufferPointer { lifted in
                    for y in 0..<height {
                        for c in 0..<channels { row[c] = 0 }
                        for x in 0..<width {
                            let (here, above, cell) = (
                                corner(y + 1, x + 1), corner(y, x + 1), (y * width + x) * channels
                            )
                            for c in 0..<channels {
                                row[c] += lifted[cell + c]
                                table[here + c] = table[above + c] + row[c]
                            }
                        }
                    }
                }
            }
        }
        let all = Box(top: 0, left: 0, height: height, width: width)
        var means = [Double](repeating: 0, count: channels)
        let pooled = ([all] + boxes).map { box in
            let (y0, x0, y1, x1) = (box.top, box.left, box.top + box.height, box.left + box.width)
            let (a, b, c, d) = (corner(y1, x1), corner(y0, x1), corner(y1, x0), corner(y0, x0))
            let cells = Double(box.height * box.width)
            sums.withUnsafeBufferPointer { table in
                means.withUnsafeMutableBufferPointer { out in
                    for k in 0..<channels {
                        let total = table[a + k] - table[b + k] - table[c + k] + table[d + k]
                        out[k] = max(0, total) / cells
                    }
                }
            }
            var vector = lower(means)
            let strength = vector.reduce(0) { $0 + $1 * $1 }
            Self.normalize(&vector)
            return (vector: vector, strength: strength)
        }
        var windows = pooled.dropFirst()
        if let keep, keep < windows.count {
            windows = windows.sorted { $0.strength > $1.strength }.prefix(keep)
        }
        return [pooled[0].vector] + windows.map(\.vector)
    }

    /// A window of the map, in cells.
    struct Box: Equatable, Hashable {
        var top: Int
        var left: Int
        var height: Int
        var width: Int
    }

    /// Every window of each side in `sizes` (clamped to the map) that is not the whole map, each
    /// once, sliding so that neighbours overlap by `overlap` and the last touches the far edge.
    static func boxes(height: Int, width: Int, sizes: [Int], overlap: Float) -> [Box] {
        var seen = Set<Box>()
        var boxes: [Box] = []
        for size in sizes {
            let (h, w) = (min(size, height), min(size, width))
            guard h < height || w < width else { continue }
            for top in positions(extent: height, window: h, overlap: overlap) {
                for left in positions(extent: width, window: w, overlap: overlap) {
                    let box = Box(top: top, left: left, height: h, width: w)
                    if seen.insert(box).inserted { boxes.append(box) }
                }
            }
        }
        return boxes
    }

    private static func positions(extent: Int, window: Int, overlap: Float) -> [Int] {
        let step = max(1, Int((Float(window) * (1 - overlap)).rounded()))
        var starts = Array(stride(from: 0, through: extent - window, by: step))
        if starts.last != extent - window { starts.append(extent - window) }
        return starts
    }

    /// x^power, on activations clamped at a tiny positive value as generalised-mean pooling needs.
    @inline(__always)
    private func lift(_ x: Float) -> Double {
        if power == 1 { return Double(x) }
        let v = Double(max(x, 1e-6))
        return power == 3 ? v * v * v : pow(v, Double(power))
    }

    /// `lift` of every cell of a channels-first map, written cell-major (a cell's channels side by side), a
    /// few channels at a time so that the reads and the writes each stay within a few cache lines.
    private func liftedCellMajor(_ map: UnsafeBufferPointer<Float>, channels: Int, cells: Int) -> [Double] {
        // One loop per power, so that the loop holds no branch on it.
        switch power {
        case 1: return Self.transposed(map, channels: channels, cells: cells) { Double($0) }
        case 3:
            return Self.transposed(map, channels: channels, cells: cells) {
                let v = Double(max($0, 1e-6))
                return v * v * v
            }
        default: return Self.transposed(map, channels: channels, cells: cells) { lift($0) }
        }
    }

    @inline(__always)
    private static func transposed(
        _ map: UnsafeBufferPointer<Float>, channels: Int, cells: Int, _ transform: (Float) -> Double
    ) -> [Double] {
        [Double](unsafeUninitializedCapacity: channels * cells) { out, initialized in
            for first in stride(from: 0, to: channels, by: 8) {
                for cell in 0..<cells {
                    for c in first..<min(first + 8, channels) {
                        out[cell * channels + c] = transform(map[c * cells + cell])
                    }
                }
            }
            initialized = channels * cells
        }
    }

    /// Each channel's mean of x^power back to its power-mean.
    private func lower(_ means: [Double]) -> [Float] {
        if power == 1 { return means.map { Float($0) } }
        if power == 3 { return Self.cubeRoots(means) }
        return means.map { Float(pow(max($0, 0), 1 / Double(power))) }
    }

    /// `Float(cbrt(x))` of every value, four at a time. A query's windows need one cube root per channel
    /// and window, about 80,000 at the blend's 480 × 360 input; the C library's `cbrt` took about a
    /// millisecond for them. A value outside the normal positive range goes to `cbrt` itself.
    static func cubeRoots(_ values: [Double]) -> [Float] {
        [Float](unsafeUninitializedCapacity: values.count) { roots, initialized in
            values.withUnsafeBufferPointer { values in
                var start = 0
                while start < values.count {
                    var x = SIMD4<Double>(repeating: 1)
                    if start + 4 <= values.count {
                        x = UnsafeRawPointer(values.baseAddress! + start).loadUnaligned(as: SIMD4<Double>.self)
                    } else {
                        for k in start..<values.count { x[k - start] = values[k] }
                    }
                    let y = all(x .>= 0x1p-1000) && all(x .<= 0x1p1000) ? SIMD4<Float>(cubeRoot(x)) : nil
                    for k in start..<min(start + 4, values.count) {
                        roots[k] = y?[k - start] ?? Float(cbrt(max(values[k], 0)))
                    }
                    start += 4
                }
            }
            initialized = values.count
        }
    }

    /// ∛x for x in [2^-1000, 2^1000], to within a few units in the last place of a Double.
    @inline(__always)
    static func cubeRoot(_ x: SIMD4<Double>) -> SIMD4<Double> {
        // A third of a positive double's bit pattern, plus two thirds of the exponent bias, has a third of its
        // exponent and a third of its mantissa: a first guess within 7 % of the root.
        let bits = unsafeBitCast(x, to: SIMD4<UInt64>.self)
        var y = unsafeBitCast(bits / 3 &+ 0x2AA0_0000_0000_0000, to: SIMD4<Double>.self)
        // Halley's step for y³ = x triples the correct digits: about 7e-2, 3e-4, 2e-11, then exact to rounding.
        for _ in 0..<3 {
            let cube = y * y * y
            y = y * (cube + 2 * x) / (2 * cube + x)
        }
        return y
    }

    static func normalize(_ vector: inout [Float]) {
        var sum: Float = 0
        for x in vector { sum += x * x }
        guard sum > 0 else { return }
        let scale = 1 / sum.squareRoot()
        for i in vector.indices { vector[i] *= scale }
    }
}
