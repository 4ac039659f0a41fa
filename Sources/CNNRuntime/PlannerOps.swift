import CDNNL

// Lowering of the layers other than convolution and activations.
extension PlanBuilder {
    func normalized(_ axis: Int, rank: Int, _ layer: Layer, inclusive: Bool = false) throws(CNNRuntimeError) -> Int {
        let limit = inclusive ? rank + 1 : rank
        let resolved = axis < 0 ? axis + (inclusive ? rank + 1 : rank) : axis
        guard resolved >= 0, resolved < limit else {
            throw badInput(layer, "axis \(axis) is out of range for rank \(rank)")
        }
        return resolved
    }

    /// Checks that a shape's element count stays within bounds.
    func checkedCount(_ dims: [Int], _ layer: Layer) throws(CNNRuntimeError) -> Int {
        var count = 1
        for d in dims {
            guard d >= 0 else { throw badInput(layer, "negative dimension in \(dims)") }
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow, product <= ONNXGraph.maxElements else {
                throw badInput(layer, "shape \(dims) is too large")
            }
            count = product
        }
        return count
    }

    mutating func emitBinary(_ layer: Layer, _ algorithm: dnnl_alg_kind_t) throws(CNNRuntimeError) {
        var a = try value(layer.inputs[0], for: layer)
        var b = try value(layer.inputs[1], for: layer)
        let ad = values[a].dims
        let bd = values[b].dims
        let rank = max(ad.count, bd.count)
        let pa = [Int](repeating: 1, count: rank - ad.count) + ad
        let pb = [Int](repeating: 1, count: rank - bd.count) + bd
        var outDims: [Int] = []
        for (x, y) in zip(pa, pb) {
            guard x == y || x == 1 || y == 1 else { throw badInput(layer, "cannot broadcast \(ad) with \(bd)") }
            outDims.append(x == 1 ? y : x)
        }
        // oneDNN broadcasts only its second operand; both operators commute.
        if pa != outDims || (isConstant(a) && !isConstant(b) && pb == outDims) { swap(&a, &b) }
        let fullRank = values[a].dims
        guard [Int](repeating: 1, count: rank - fullRank.count) + fullRank == outDims else {
            throw unsupported(layer, "both operands need broadcasting (\(ad), \(bd))")
        }
        if fullRank.count != rank { a = try reshaped(plain(a, what: layer.name), to: outDims) }
        if values[b].dims == outDims {
            b = try ensure(b, values[a].md, what: layer.name)
        } else {
            let aligned = [Int](repeating: 1, count: rank - values[b].dims.count) + values[b].dims
            b = try reshaped(plain(b, what: layer.name), to: aligned)
        }
        func create(_ srcMD: dnnl_memory_desc_t) throws(CNNRuntimeError) -> Primitive {
            var src0 = srcMD
            var src1 = values[b].md
            var dst = srcMD
            var desc = dnnl_binary_desc_t()
            try backend.check(dnnl_binary_desc_init(&desc, algorithm, &src0, &src1, &dst), layer.name)
            return try backend.primitive(&desc, attr: Attributes(backend: backend), what: layer.name)
        }
        var primitive: Primitive
        do {
            primitive = try create(values[a].md)
        } catch {
            a = try plain(a, what: layer.name)
            primitive = try create(values[a].md)
        }
        let out = addValue(outDims, values[a].md)
        append(primitive, [(DNNLArg.src, a), (DNNLArg.src1, b), (DNNLArg.dst, out)])
        ids[layer.output] = out
    }

    mutating func emitPool(_ layer: Layer, _ p: PoolParams) throws(CNNRuntimeError) {
        let src = try value(layer.inputs[0], for: layer)
        let dims = values[src].dims
        guard dims.count == 4 else { throw badInput(layer, "pooling needs a 4-D input, got \(dims)") }
        let h = try window(
            layer, size: dims[2], kernel: p.kernel[0], stride: p.strides[0], dilation: p.dilations[0],
            padding: p.padding, axis: 0, ceilMode: p.ceilMode)
        let w = try window(
            layer, size: dims[3], kernel: p.kernel[1], stride: p.strides[1], dilation: p.dilations[1],
            padding: p.padding, axis: 1, ceilMode: p.ceilMode)
        let algorithm =
            p.max
            ? dnnl_pooling_max : p.countIncludePad ? dnnl_pooling_avg_include_padding : dnnl_pooling_avg_exclude_padding
        try emitPooling(
            layer, src: src, outDims: [dims[0], dims[1], h.out, w.out], algorithm: algorithm, kernel: p.kernel,
            strides: p.strides, dilations: p.dilations.map { $0 - 1 }, padL: [h.begin, w.begin], padR: [h.end, w.end])
    }

    mutating func emitGlobalAveragePool(_ layer: Layer) throws(CNNRuntimeError) {
        let src = try value(layer.inputs[0], for: layer)
        let dims = values[src].dims
        guard dims.count == 4, dims[2] > 0, dims[3] > 0 else {
            throw badInput(layer, "GlobalAveragePool needs a 4-D input, got \(dims)")
        }
        try emitPooling(
            layer, src: src, outDims: [dims[0], dims[1], 1, 1], algorithm: dnnl_pooling_avg_exclude_padding,
            kernel: [dims[2], dims[3]], strides: [1, 1], dilations: [0, 0], padL: [0, 0], padR: [0, 0])
    }

    private mutating func emitPooling(
        _ layer: Layer, src: Int, outDims: [Int], algorithm: dnnl_alg_kind_t, kernel: [Int], strides: [Int],
        dilations: [Int], padL: [Int], padR: [Int]
    ) throws(CNNRuntimeError) {
        var srcMD = values[src].md
        var dstMD = MemoryDesc.any(outDims)
        var desc = dnnl_pooling_v2_desc_t()
        try backend.check(
            dnnl_pooling_v2_forward_desc_init(
                &desc, dnnl_forward_inference, algorithm, &srcMD, &dstMD, strides.map(Int64.init),
                kernel.map(Int64.init), dilations.map(Int64.init), padL.map(Int64.init), padR.map(Int64.init)),
            layer.name)
        let primitive = try backend.primitive(&desc, attr: Attributes(backend: backend), what: layer.name)
        let out = addValue(outDims, primitive.md(dnnl_query_dst_md))
        append(primitive, [(DNNLArg.src, src), (DNNLArg.dst, out)])
        ids[layer.output] = out
    }

    mutating func emitReduceMean(_ layer: Layer, axes: [Int]?, keepDims: Bool) throws(CNNRuntimeError) {
        let src = try plain(value(layer.inputs[0], for: layer), what: layer.name)
        let dims = values[src].dims
        var reduced = Set<Int>()
        for axis in axes ?? Array(0..<dims.count) { reduced.insert(try normalized(axis, rank: dims.count, layer)) }
        let kept = dims.enumerated().map { reduced.contains($0.offset) ? 1 : $0.element }
        var out: Int
        if kept == dims {
            out = src
        } else {
            var srcMD = values[src].md
            var dstMD = MemoryDesc.plain(kept)
            var desc = dnnl_reduction_desc_t()
            try backend.check(dnnl_reduction_desc_init(&desc, dnnl_reduction_mean, &srcMD, &dstMD, 0, 0), layer.name)
            let primitive = try backend.primitive(&desc, attr: Attributes(backend: backend), what: layer.name)
            out = addValue(kept, dstMD)
            append(primitive, [(DNNLArg.src, src), (DNNLArg.dst, out)])
        }
        if !keepDims {
            out = reshaped(out, to: dims.enumerated().filter { !reduced.contains($0.offset) }.map(\.element))
        }
        ids[layer.output] = out
    }

    mutating func emitFlatten(_ layer: Layer, axis: Int) throws(CNNRuntimeError) {
        let src = try plain(value(layer.inputs[0], for: layer), what: layer.name)
        let dims = values[src].dims
        let split = try normalized(axis, rank: dims.count, layer, inclusive: true)
        let outer = dims[..<split].reduce(1, *)
        let inner = dims[split...].reduce(1, *)
        ids[layer.output] = reshaped(src, to: [outer, inner])
    }

    mutating func emitReshape(_ layer: Layer, shape: [Int64], allowZero: Bool) throws(CNNRuntimeError) {
        let src = try plain(value(layer.inputs[0], for: layer), what: layer.name)
        let dims = values[src].dims
        let total = dims.reduce(1, *)
        var out: [Int] = []
        var inferred: Int?
        for (index, requested) in shape.enumerated() {
            if requested == -1 {
                guard inferred == nil else { throw badInput(layer, "Reshape with two -1 entries") }
                inferred = index
                out.append(1)
            } else if requested == 0 && !allowZero {
                guard index < dims.count else { throw badInput(layer, "Reshape copies a missing dimension") }
                out.append(dims[index])
            } else {
                guard requested >= 0, requested <= Int64(ONNXGraph.maxElements) else {
                    throw badInput(layer, "Reshape to \(shape)")
                }
                out.append(Int(requested))
            }
        }
        let known = try checkedCount(out, layer)
        if let inferred {
            guard known > 0, total % known == 0 else { throw badInput(layer, "cannot reshape \(dims) to \(shape)") }
            out[inferred] = total / known
        }
        guard try checkedCount(out, layer) == total else { throw badInput(layer, "cannot reshape \(dims) to \(shape)") }
        ids[layer.output] = reshaped(src, to: out)
    }

    mutating func emitGemm(_ layer: Layer, _ p: GemmParams) throws(CNNRuntimeError) {
        let a = try plain(value(layer.inputs[0], for: layer), what: layer.name)
        let b = try plain(value(layer.inputs[1], for: layer), what: layer.name)
        let ad = values[a].dims
        let bd = values[b].dims
        guard ad.count == 2, bd.count == 2 else { throw badInput(layer, "Gemm needs 2-D inputs, got \(ad) and \(bd)") }
        let (m, k) = p.transA ? (ad[1], ad[0]) : (ad[0], ad[1])
        let (k2, n) = p.transB ? (bd[1], bd[0]) : (bd[0], bd[1])
        guard k == k2 else { throw badInput(layer, "Gemm inner sizes differ: \(ad) and \(bd)") }
        let aView = addValue(
            [m, k], MemoryDesc.strided([m, k], strides: p.transA ? [1, Int64(m)] : [Int64(k), 1]), .alias(of: a))
        let bView = addValue(
            [k, n], MemoryDesc.strided([k, n], strides: p.transB ? [1, Int64(k)] : [Int64(n), 1]), .alias(of: b))
        var args: [(Int32, Int)] = [(DNNLArg.src, aView), (DNNLArg.weights, bView)]
        var biasMD = dnnl_memory_desc_t()
        if layer.inputs.count > 2 && !layer.inputs[2].isEmpty && p.beta != 0 {
            guard let c = constants[layer.inputs[2]] else { throw unsupported(layer, "C must be a constant") }
            let cd = [Int](repeating: 1, count: max(0, 2 - c.shape.count)) + c.shape
            guard cd.count == 2, cd[0] == 1 || cd[0] == m, cd[1] == 1 || cd[1] == n else {
                throw badInput(layer, "C of shape \(c.shape) does not broadcast to [\(m), \(n)]")
            }
            // Materialise β·C so any broadcast form works; oneDNN's output scale α multiplies the
            // bias too, hence β/α. A bias shared by every row stays [1, n]: oneDNN's fast matmul
            // kernels take that form, while a full [m, n] bias sends batches to its reference
            // kernel, which made a classifier layer cost more than the rest of the network.
            guard p.alpha != 0 else { throw unsupported(layer, "Gemm with alpha 0") }
            let rows = cd[0] == 1 ? 1 : m
            var bias = [Float](repeating: 0, count: rows * n)
            for i in 0..<rows {
                for j in 0..<n {
                    bias[i * n + j] = p.beta / p.alpha * c.floats[(cd[0] == 1 ? 0 : i) * cd[1] + (cd[1] == 1 ? 0 : j)]
                }
            }
            let biasID = try constantValue(bias, dims: [rows, n])
            biasMD = values[biasID].md
            args.append((DNNLArg.bias, biasID))
        }
        var srcMD = values[aView].md
        var weightsMD = values[bView].md
        var dstMD = MemoryDesc.plain([m, n])
        var desc = dnnl_matmul_desc_t()
        let status =
            args.count > 2
            ? dnnl_matmul_desc_init(&desc, &srcMD, &weightsMD, &biasMD, &dstMD)
            : dnnl_matmul_desc_init(&desc, &srcMD, &weightsMD, nil, &dstMD)
        try backend.check(status, layer.name)
        let attr = try Attributes(backend: backend, outputScale: p.alpha)
        let primitive = try backend.primitive(&desc, attr: attr, what: layer.name)
        let out = addValue([m, n], dstMD)
        args.append((DNNLArg.dst, out))
        append(primitive, args)
        ids[layer.output] = out
    }

    mutating func emitMatMul(_ layer: Layer) throws(CNNRuntimeError) {
        var a = try plain(value(layer.inputs[0], for: layer), what: layer.name)
        var b = try plain(value(layer.inputs[1], for: layer), what: layer.name)
        let ad = values[a].dims
        let bd = values[b].dims
        guard ad.count >= 2, bd.count >= 2 else { throw unsupported(layer, "MatMul of 1-D tensors") }
        guard ad[ad.count - 1] == bd[bd.count - 2] else { throw badInput(layer, "MatMul sizes \(ad) and \(bd)") }
        let rank = max(ad.count, bd.count)
        let pa = [Int](repeating: 1, count: rank - ad.count) + ad
        let pb = [Int](repeating: 1, count: rank - bd.count) + bd
        var outDims: [Int] = []
        for i in 0..<(rank - 2) {
            guard pa[i] == pb[i] || pa[i] == 1 || pb[i] == 1 else { throw badInput(layer, "MatMul batch \(ad), \(bd)") }
            outDims.append(max(pa[i], pb[i]))
        }
        outDims += [pa[rank - 2], pb[rank - 1]]
        _ = try checkedCount(outDims, layer)
        if pa != ad { a = reshaped(a, to: pa) }
        if pb != bd { b = reshaped(b, to: pb) }
        var srcMD = values[a].md
        var weightsMD = values[b].md
        var dstMD = MemoryDesc.plain(outDims)
        var desc = dnnl_matmul_desc_t()
        try backend.check(dnnl_matmul_desc_init(&desc, &srcMD, &weightsMD, nil, &dstMD), layer.name)
        let primitive = try backend.primitive(&desc, attr: Attributes(backend: backend), what: layer.name)
        let out = addValue(outDims, dstMD)
        append(primitive, [(DNNLArg.src, a), (DNNLArg.weights, b), (DNNLArg.dst, out)])
        ids[layer.output] = out
    }

    mutating func emitConcat(_ layer: Layer, axis: Int) throws(CNNRuntimeError) {
        var sources = try layer.inputs.map { (name) throws(CNNRuntimeError) in try value(name, for: layer) }
        guard let first = sources.first else { throw badInput(layer, "Concat without inputs") }
        let rank = values[first].dims.count
        let axis = try normalized(axis, rank: rank, layer)
        var outDims = values[first].dims
        outDims[axis] = 0
        for s in sources {
            var d = values[s].dims
            guard d.count == rank else { throw badInput(layer, "Concat of ranks \(rank) and \(d.count)") }
            outDims[axis] += d[axis]
            d[axis] = outDims[axis]
            guard d == outDims else { throw badInput(layer, "Concat shapes differ off the axis") }
        }
        _ = try checkedCount(outDims, layer)
        var primitive: Primitive
        do {
            primitive = try backend.concat(
                sources: sources.map { values[$0].md }, axis: axis, dims: outDims, what: layer.name)
        } catch {
            for i in sources.indices { sources[i] = try plain(sources[i], what: layer.name) }
            primitive = try backend.concat(
                sources: sources.map { values[$0].md }, axis: axis, dims: outDims, what: layer.name)
        }
        let out = addValue(outDims, primitive.md(dnnl_query_dst_md))
        var args = sources.enumerated().map { (DNNLArg.multipleSrc + Int32($0.offset), $0.element) }
        args.append((DNNLArg.dst, out))
        append(primitive, args)
        ids[layer.output] = out
    }

    mutating func emitSoftmax(_ layer: Layer, axis: Int, legacy: Bool) throws(CNNRuntimeError) {
        var src = try plain(value(layer.inputs[0], for: layer), what: layer.name)
        let dims = values[src].dims
        guard !dims.isEmpty else { throw badInput(layer, "Softmax of a scalar") }
        var axis = try normalized(axis, rank: dims.count, layer)
        if legacy {
            // Before opset 13 Softmax works on the input flattened to 2-D at `axis`.
            src = reshaped(src, to: [dims[..<axis].reduce(1, *), dims[axis...].reduce(1, *)])
            axis = 1
        }
        var md = values[src].md
        var desc = dnnl_softmax_desc_t()
        try backend.check(dnnl_softmax_forward_desc_init(&desc, dnnl_forward_inference, &md, Int32(axis)), layer.name)
        let primitive = try backend.primitive(&desc, attr: Attributes(backend: backend), what: layer.name)
        var out = addValue(values[src].dims, md)
        append(primitive, [(DNNLArg.src, src), (DNNLArg.dst, out)])
        if legacy { out = reshaped(out, to: dims) }
        ids[layer.output] = out
    }

    mutating func emitPad(_ layer: Layer, _ p: PadParams) throws(CNNRuntimeError) {
        let src = try plain(value(layer.inputs[0], for: layer), what: layer.name)
        let dims = values[src].dims
        guard p.pads.count == 2 * dims.count else { throw badInput(layer, "Pad needs \(2 * dims.count) pads") }
        let outDims = dims.indices.map { dims[$0] + p.pads[$0] + p.pads[$0 + dims.count] }
        _ = try checkedCount(outDims, layer)
        if p.mode != .constant {
            for i in dims.indices
            where dims[i] == 0 || (p.mode == .reflect && max(p.pads[i], p.pads[i + dims.count]) >= dims[i]) {
                throw badInput(layer, "\(p.mode) padding larger than the input")
            }
        }
        let out = addValue(outDims, MemoryDesc.plain(Self.mdDims(outDims)))
        steps.append(
            PlanStep(kind: .pad(p, input: dims, output: outDims), args: [(DNNLArg.src, src), (DNNLArg.dst, out)]))
        ids[layer.output] = out
    }

    mutating func emitIdentity(_ layer: Layer) throws(CNNRuntimeError) {
        let src = try value(layer.inputs[0], for: layer)
        let out = addValue(values[src].dims, values[src].md)
        let copy = try backend.reorder(from: values[src].md, to: values[src].md, what: layer.name)
        append(copy, [(DNNLArg.from, src), (DNNLArg.to, out)])
        ids[layer.output] = out
    }

    mutating func emitTranspose(_ layer: Layer, perm: [Int]?) throws(CNNRuntimeError) {
        let src = try plain(value(layer.inputs[0], for: layer), what: layer.name)
        let dims = values[src].dims
        let perm = perm ?? Array(dims.indices.reversed())
        guard perm.count == dims.count, Set(perm) == Set(dims.indices) else {
            throw badInput(layer, "Transpose perm \(perm) for rank \(dims.count)")
        }
        var strides = [Int64](repeating: 1, count: dims.count)
        for i in stride(from: dims.count - 2, through: 0, by: -1) { strides[i] = strides[i + 1] * Int64(dims[i + 1]) }
        let outDims = perm.map { dims[$0] }
        let view = addValue(outDims, MemoryDesc.strided(outDims, strides: perm.map { strides[$0] }), .alias(of: src))
        let outMD = MemoryDesc.plain(outDims)
        let copy = try backend.reorder(from: values[view].md, to: outMD, what: layer.name)
        let out = addValue(outDims, outMD)
        append(copy, [(DNNLArg.from, view), (DNNLArg.to, out)])
        ids[layer.output] = out
    }
}
