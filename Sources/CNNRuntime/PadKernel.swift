/// Pad on plain row-major tensors: constant, reflect and edge modes, any rank.
enum PadKernel {
    static func run(
        _ params: PadParams, input: UnsafePointer<Float>, inputDims: [Int], output: UnsafeMutablePointer<Float>,
        outputDims: [Int]
    ) {
        let rank = inputDims.count
        let total = outputDims.reduce(1, *)
        guard total > 0 else { return }
        guard rank > 0 else {
            output[0] = input[0]
            return
        }
        var inStrides = [Int](repeating: 1, count: rank)
        for i in stride(from: rank - 2, through: 0, by: -1) { inStrides[i] = inStrides[i + 1] * inputDims[i + 1] }
        let last = rank - 1
        let rowLength = outputDims[last]
        let rows = total / rowLength
        var coords = [Int](repeating: 0, count: rank)
        for row in 0..<rows {
            // Offset of the row's source in all but the last dimension, or nil when it lies in constant padding.
            var base: Int? = 0
            for d in 0..<last {
                guard let source = sourceIndex(coords[d] - params.pads[d], size: inputDims[d], mode: params.mode)
                else {
                    base = nil
                    break
                }
                base! += source * inStrides[d]
            }
            let out = output + row * rowLength
            if let base {
                for x in 0..<rowLength {
                    if let source = sourceIndex(x - params.pads[last], size: inputDims[last], mode: params.mode) {
                        out[x] = input[base + source]
                    } else {
                        out[x] = params.value
                    }
                }
            } else {
                out.update(repeating: params.value, count: rowLength)
            }
            var d = last - 1
            while d >= 0 {
                coords[d] += 1
                if coords[d] < outputDims[d] { break }
                coords[d] = 0
                d -= 1
            }
        }
    }

    /// The input index an output coordinate reads, or nil for constant padding.
    static func sourceIndex(_ i: Int, size: Int, mode: PadParams.Mode) -> Int? {
        if i >= 0 && i < size { return i }
        switch mode {
        case .constant:
            return nil
        case .edge:
            return min(max(i, 0), size - 1)
        case .reflect:
            guard size > 1 else { return 0 }
            let period = 2 * (size - 1)
            var j = i % period
            if j < 0 { j += period }
            return j < size ? j : period - j
        }
    }
}
