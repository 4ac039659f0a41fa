import Foundation
import VSearchCore

/// Pools one image's feature map (C × H × W, channels first) into unit-length vectors, as a
/// ``VSearchCore/DescriptorSpec`` says.
///
/// Region vectors come from running sums of `x^power` over the map (an integral image per
/// channel), so every window costs four reads per channel whatever its size: a query's twenty
/// or so windows cost about as much as pooling the map once.
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
        var vector = [Float](repeating: 0, count: channels)
        for c in 0..<channels {
            var sum: Double = 0
            let base = c * cells
            for i in 0..<cells { sum += lift(map[base + i]) }
            vector[c] = lower(sum / Double(cells))
        }
        Self.normalize(&vector)
        return vector
    }

    /// The whole map's vector first, then one per distinct window of every region size (the
    /// `keep` strongest, strongest first, when the spec limits them).
    func windows(_ map: UnsafeBufferPointer<Float>, channels: Int, height: Int, width: Int) -> [[Float]] {
        let boxes = Self.boxes(height: height, width: width, sizes: regions, overlap: overlap)
        guard !boxes.isEmpty else { return [whole(map, channels: channels, height: height, width: width)] }
        // sums[c][(y * (width + 1)) + x] = Σ lift(map) over rows < y and columns < x.
        let stride = (height + 1) * (width + 1)
        var sums = [Double](repeating: 0, count: channels * stride)
        sums.withUnsafeMutableBufferPointer { table in
            for c in 0..<channels {
                let base = c * stride
                let source = c * height * width
                for y in 0..<height {
                    var row: Double = 0
                    for x in 0..<width {
                        row += lift(map[source + y * width + x])
                        table[base + (y + 1) * (width + 1) + x + 1] = table[base + y * (width + 1) + x + 1] + row
                    }
                }
            }
        }
        let all = Box(top: 0, left: 0, height: height, width: width)
        let pooled = ([all] + boxes).map { box in
            var vector = [Float](repeating: 0, count: channels)
            let (y0, x0, y1, x1) = (box.top, box.left, box.top + box.height, box.left + box.width)
            let cells = Double(box.height * box.width)
            sums.withUnsafeBufferPointer { table in
                for c in 0..<channels {
                    let base = c * stride
                    let total =
                        table[base + y1 * (width + 1) + x1] - table[base + y0 * (width + 1) + x1]
                        - table[base + y1 * (width + 1) + x0] + table[base + y0 * (width + 1) + x0]
                    vector[c] = lower(max(0, total) / cells)
                }
            }
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

    @inline(__always)
    private func lower(_ mean: Double) -> Float {
        if power == 1 { return Float(mean) }
        return Float(power == 3 ? cbrt(max(mean, 0)) : pow(max(mean, 0), 1 / Double(power)))
    }

    static func normalize(_ vector: inout [Float]) {
        var sum: Float = 0
        for x in vector { sum += x * x }
        guard sum > 0 else { return }
        let scale = 1 / sum.squareRoot()
        for i in vector.indices { vector[i] *= scale }
    }
}
