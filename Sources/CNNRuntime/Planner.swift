import CDNNL
import Foundation
import VSearchCore

/// Where a planned value's bytes live.
enum ValueStorage {
    /// A slot of the per-context arena.
    case arena
    /// The same bytes as another value, seen with other dimensions or strides.
    case alias(of: Int)
    /// The caller's input array, bound at each run.
    case input
    /// A plan-owned constant buffer (weights, biases).
    case constant(Int)
}

struct PlanValue {
    /// The ONNX shape ([] for a scalar).
    var dims: [Int]
    var md: dnnl_memory_desc_t
    var storage: ValueStorage
}

enum StepKind {
    case primitive(Primitive)
    case pad(PadParams, input: [Int], output: [Int])
}

struct PlanStep {
    var kind: StepKind
    /// (oneDNN argument number, value index).
    var args: [(Int32, Int)]
}

/// Builds an execution plan for one input shape: infers shapes, fuses
/// convolutions with their activations and residual additions, picks memory
/// layouts, creates oneDNN primitives and reorders weights once.
struct PlanBuilder {
    let backend: Backend
    let layers: [Layer]
    let constants: [String: ConstantTensor]
    let exposed: [String]
    let exposedSet: Set<String>
    let weightCache: WeightCache
    var path: String { backend.path }

    var values: [PlanValue] = []
    var ids: [String: Int] = [:]
    var steps: [PlanStep] = []
    var constantBuffers: [AlignedBuffer] = []
    private var conversions: [Int: [(dnnl_memory_desc_t, Int)]] = [:]
    private var skipped = Set<Int>()
    private let uses: [String: Int]
    private let consumer: [String: Int]
    private let lastUse: [String: Int]
    private let stream: dnnl_stream_t

    init(
        backend: Backend, layers: [Layer], constants: [String: ConstantTensor], exposed: [String],
        weightCache: WeightCache
    ) throws(CNNRuntimeError) {
        self.backend = backend
        self.weightCache = weightCache
        self.layers = layers
        self.constants = constants
        self.exposed = exposed
        exposedSet = Set(exposed)
        uses = useCounts(layers)
        var consumer: [String: Int] = [:]
        var lastUse: [String: Int] = [:]
        for (index, layer) in layers.enumerated() {
            for input in layer.inputs {
                consumer[input] = index
                lastUse[input] = index
            }
        }
        self.consumer = consumer
        self.lastUse = lastUse
        var stream: dnnl_stream_t?
        try backend.check(
            dnnl_stream_create(&stream, backend.engine, UInt32(dnnl_stream_default_flags.rawValue)), "creating a stream"
        )
        guard let stream else { throw .backend(path: backend.path, operation: "stream", status: -1) }
        self.stream = stream
    }

    func finish() { dnnl_stream_destroy(stream) }

    // MARK: values

    func unsupported(_ layer: Layer, _ reason: String) -> CNNRuntimeError {
        .unsupportedNode(path: path, node: layer.name, reason: reason)
    }

    func badInput(_ layer: Layer, _ reason: String) -> CNNRuntimeError {
        .invalidInput(path: path, reason: "node '\(layer.name)': \(reason)")
    }

    static func mdDims(_ dims: [Int]) -> [Int] { dims.isEmpty ? [1] : dims }

    func root(_ id: Int) -> Int {
        var id = id
        while case .alias(let of) = values[id].storage { id = of }
        return id
    }

    mutating func addValue(_ dims: [Int], _ md: dnnl_memory_desc_t, _ storage: ValueStorage = .arena) -> Int {
        values.append(PlanValue(dims: dims, md: md, storage: storage))
        return values.count - 1
    }

    /// A plain view of a plain value with other dimensions (Reshape, Flatten, Squeeze).
    mutating func reshaped(_ id: Int, to dims: [Int]) -> Int {
        addValue(dims, MemoryDesc.plain(Self.mdDims(dims)), .alias(of: id))
    }

    mutating func value(_ name: String, for layer: Layer) throws(CNNRuntimeError) -> Int {
        if let id = ids[name] { return id }
        guard let tensor = constants[name] else {
            throw CNNRuntimeError.invalidModel(
                path: path, reason: "node '\(layer.name)' reads unknown tensor '\(name)'")
        }
        let id = try constantValue(tensor.floats, dims: tensor.shape)
        ids[name] = id
        return id
    }

    func isConstant(_ id: Int) -> Bool {
        if case .constant = values[root(id)].storage { return true }
        return false
    }

    /// A constant in plain layout, or reordered into `target` (e.g. blocked weights).
    mutating func constantValue(
        _ floats: [Float], dims: [Int], target: dnnl_memory_desc_t? = nil, cacheKey: String? = nil
    ) throws(CNNRuntimeError) -> Int {
        if let target, let cacheKey, let shared = weightCache.buffer(cacheKey, target) {
            constantBuffers.append(shared)
            return addValue(dims, target, .constant(constantBuffers.count - 1))
        }
        let plain = MemoryDesc.plain(Self.mdDims(dims))
        let source = AlignedBuffer(bytes: max(floats.count * 4, 4))
        floats.withUnsafeBytes { source.pointer.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        guard let target, !MemoryDesc.equal(target, plain) else {
            constantBuffers.append(source)
            return addValue(dims, plain, .constant(constantBuffers.count - 1))
        }
        let destination = AlignedBuffer(bytes: max(MemoryDesc.bytes(target), 4))
        let reorder = try backend.reorder(from: plain, to: target, what: "weights")
        let from = try memory(plain, source.pointer)
        let to = try memory(target, destination.pointer)
        defer {
            dnnl_memory_destroy(from)
            dnnl_memory_destroy(to)
        }
        var args = [
            dnnl_exec_arg_t(arg: DNNLArg.from, memory: from), dnnl_exec_arg_t(arg: DNNLArg.to, memory: to),
        ]
        try backend.check(dnnl_primitive_execute(reorder.primitive, stream, 2, &args), "reordering weights")
        try backend.check(dnnl_stream_wait(stream), "reordering weights")
        if let cacheKey { weightCache.store(cacheKey, target, destination) }
        constantBuffers.append(destination)
        return addValue(dims, target, .constant(constantBuffers.count - 1))
    }

    private func memory(_ md: dnnl_memory_desc_t, _ pointer: UnsafeMutableRawPointer) throws(CNNRuntimeError)
        -> dnnl_memory_t?
    {
        var md = md
        var memory: dnnl_memory_t?
        try backend.check(dnnl_memory_create(&memory, &md, backend.engine, pointer), "creating memory")
        return memory
    }

    /// The value in layout `md`, reordering (once per value and layout) when needed.
    mutating func ensure(_ id: Int, _ md: dnnl_memory_desc_t, what: String) throws(CNNRuntimeError) -> Int {
        if MemoryDesc.equal(values[id].md, md) { return id }
        if let cached = conversions[id]?.first(where: { MemoryDesc.equal($0.0, md) }) { return cached.1 }
        let converted = addValue(values[id].dims, md)
        let reorder = try backend.reorder(from: values[id].md, to: md, what: what)
        steps.append(PlanStep(kind: .primitive(reorder), args: [(DNNLArg.from, id), (DNNLArg.to, converted)]))
        conversions[id, default: []].append((md, converted))
        return converted
    }

    mutating func plain(_ id: Int, what: String) throws(CNNRuntimeError) -> Int {
        try ensure(id, MemoryDesc.plain(Self.mdDims(values[id].dims)), what: what)
    }

    mutating func append(_ primitive: Primitive, _ args: [(Int32, Int)]) {
        steps.append(PlanStep(kind: .primitive(primitive), args: args))
    }

    // MARK: layers

    mutating func build(inputName: String, inputDims: [Int]) throws(CNNRuntimeError) -> Int {
        let input = addValue(inputDims, MemoryDesc.plain(Self.mdDims(inputDims)), .input)
        ids[inputName] = input
        for index in layers.indices where !skipped.contains(index) {
            var layer = layers[index]
            var sumLayer: Int?
            if case .conv(let params) = layer.kind {
                let srcDims = values[try value(layer.inputs[0], for: layer)].dims
                let outDims = try convOutputDims(layer, params, srcDims)
                sumLayer = absorbFollowers(&layer, outDims: outDims)
                try emitConv(layer, params, sumLayer: sumLayer, index: index)
            } else {
                try emit(layer)
            }
        }
        return input
    }

    /// Fuses single-consumer activations and one residual addition into a convolution.
    private mutating func absorbFollowers(_ layer: inout Layer, outDims: [Int]) -> Int? {
        var sumLayer: Int?
        while uses[layer.output] == 1, !exposedSet.contains(layer.output), let next = consumer[layer.output],
            !skipped.contains(next)
        {
            let follower = layers[next]
            if case .eltwise(let ops) = follower.kind {
                layer.postOps += ops.map { PostOp.eltwise($0) }
            } else if case .add = follower.kind, sumLayer == nil, follower.inputs.count == 2,
                follower.inputs[0] != follower.inputs[1]
            {
                let other = follower.inputs[0] == layer.output ? follower.inputs[1] : follower.inputs[0]
                guard let otherID = ids[other], !isConstant(otherID), values[otherID].dims == outDims else { break }
                layer.postOps.append(.sum)
                layer.sumInput = other
                sumLayer = next
            } else {
                break
            }
            layer.output = follower.output
            skipped.insert(next)
        }
        return sumLayer
    }

    private mutating func emit(_ layer: Layer) throws(CNNRuntimeError) {
        switch layer.kind {
        case .conv(let params): try emitConv(layer, params, sumLayer: nil, index: nil)
        case .eltwise(let ops): try emitEltwise(layer, ops)
        case .add: try emitBinary(layer, dnnl_binary_add)
        case .mul: try emitBinary(layer, dnnl_binary_mul)
        case .pool(let params): try emitPool(layer, params)
        case .globalAveragePool: try emitGlobalAveragePool(layer)
        case .reduceMean(let axes, let keepDims): try emitReduceMean(layer, axes: axes, keepDims: keepDims)
        case .flatten(let axis): try emitFlatten(layer, axis: axis)
        case .reshape(let shape, let allowZero): try emitReshape(layer, shape: shape, allowZero: allowZero)
        case .gemm(let params): try emitGemm(layer, params)
        case .matmul: try emitMatMul(layer)
        case .concat(let axis): try emitConcat(layer, axis: axis)
        case .softmax(let axis, let legacy): try emitSoftmax(layer, axis: axis, legacy: legacy)
        case .pad(let params): try emitPad(layer, params)
        case .identity: try emitIdentity(layer)
        case .transpose(let perm): try emitTranspose(layer, perm: perm)
        }
    }

    /// Output size and begin/end padding of one spatial axis.
    func window(
        _ layer: Layer, size: Int, kernel: Int, stride: Int, dilation: Int, padding: Padding, axis: Int,
        ceilMode: Bool = false
    ) throws(CNNRuntimeError) -> (out: Int, begin: Int, end: Int) {
        let extent = (kernel - 1) * dilation + 1
        var begin = 0
        var end = 0
        switch padding {
        case .explicit(let b, let e):
            begin = b[axis]
            end = e[axis]
        case .sameUpper, .sameLower:
            let out = (size + stride - 1) / stride
            let total = max((out - 1) * stride + extent - size, 0)
            begin = if case .sameUpper = padding { total / 2 } else { total - total / 2 }
            end = total - begin
        }
        let span = size + begin + end - extent
        guard span >= 0 else { throw badInput(layer, "the window (\(extent)) is larger than the padded input") }
        var out = span / stride + 1
        if ceilMode && span % stride != 0 {
            out += 1
            end = (out - 1) * stride + extent - size - begin
        }
        return (out, begin, end)
    }

    func convOutputDims(_ layer: Layer, _ p: ConvParams, _ dims: [Int]) throws(CNNRuntimeError) -> [Int] {
        guard dims.count == 4 else { throw badInput(layer, "Conv needs a 4-D input, got \(dims)") }
        guard dims[1] == p.weightShape[1] * p.group else {
            throw badInput(layer, "expects \(p.weightShape[1] * p.group) channels, got \(dims[1])")
        }
        let h = try window(
            layer, size: dims[2], kernel: p.weightShape[2], stride: p.strides[0], dilation: p.dilations[0],
            padding: p.padding, axis: 0)
        let w = try window(
            layer, size: dims[3], kernel: p.weightShape[3], stride: p.strides[1], dilation: p.dilations[1],
            padding: p.padding, axis: 1)
        return [dims[0], p.weightShape[0], h.out, w.out]
    }

    private mutating func emitConv(
        _ layer: Layer, _ p: ConvParams, sumLayer: Int?, index: Int?
    ) throws(CNNRuntimeError) {
        let src = try value(layer.inputs[0], for: layer)
        let dims = values[src].dims
        let outDims = try convOutputDims(layer, p, dims)
        let h = try window(
            layer, size: dims[2], kernel: p.weightShape[2], stride: p.strides[0], dilation: p.dilations[0],
            padding: p.padding, axis: 0)
        let w = try window(
            layer, size: dims[3], kernel: p.weightShape[3], stride: p.strides[1], dilation: p.dilations[1],
            padding: p.padding, axis: 1)
        let o = p.weightShape[0]
        let weightDims =
            p.group > 1
            ? [p.group, o / p.group, p.weightShape[1], p.weightShape[2], p.weightShape[3]] : p.weightShape
        var weightMD = MemoryDesc.any(weightDims)
        var biasMD = MemoryDesc.any([o])
        let attr = try Attributes(backend: backend, postOps: layer.postOps)
        let strides = p.strides.map(Int64.init)
        let dilations = p.dilations.map { Int64($0 - 1) }
        let padL = [Int64(h.begin), Int64(w.begin)]
        let padR = [Int64(h.end), Int64(w.end)]
        let srcIsPlain = MemoryDesc.isPlain(values[src].md)
        func create(_ srcMD: dnnl_memory_desc_t, _ dstMD: dnnl_memory_desc_t) throws(CNNRuntimeError) -> Primitive {
            var srcMD = srcMD
            var dstMD = dstMD
            var desc = dnnl_convolution_desc_t()
            let status =
                p.bias == nil
                ? dnnl_dilated_convolution_forward_desc_init(
                    &desc, dnnl_forward_inference, dnnl_convolution_auto, &srcMD, &weightMD, nil, &dstMD, strides,
                    dilations, padL, padR)
                : dnnl_dilated_convolution_forward_desc_init(
                    &desc, dnnl_forward_inference, dnnl_convolution_auto, &srcMD, &weightMD, &biasMD, &dstMD, strides,
                    dilations, padL, padR)
            try backend.check(status, "Conv '\(layer.name)'")
            return try backend.primitive(&desc, attr: attr, what: "Conv '\(layer.name)'")
        }
        // Activations stay in oneDNN's 16-channel blocked layout (nChw16c) from conv to conv:
        // measured faster than letting oneDNN choose (it picks NHWC brgemm kernels here) at
        // batch 8, and equal at batch 1. A plain input with few channels (an image) is read
        // directly by the first-layer kernels. If that yields only a reference kernel, oneDNN chooses.
        let srcChoice = !srcIsPlain || dims[1] <= 4 ? values[src].md : MemoryDesc.tagged(dims, dnnl_aBcd16b)
        var primitive = try? create(srcChoice, MemoryDesc.tagged(outDims, dnnl_aBcd16b))
        if primitive == nil || primitive!.implementation.hasPrefix("ref") {
            primitive = try create(MemoryDesc.any(dims), MemoryDesc.any(outDims))
        }
        guard let primitive else { throw .backend(path: path, operation: "Conv '\(layer.name)'", status: -1) }
        let srcReady = try ensure(src, primitive.md(dnnl_query_src_md), what: "Conv '\(layer.name)' input")
        let weights = try constantValue(
            p.weights, dims: weightDims, target: primitive.md(dnnl_query_weights_md), cacheKey: index.map { "\($0)w" })
        var args: [(Int32, Int)] = [(DNNLArg.src, srcReady), (DNNLArg.weights, weights)]
        if let bias = p.bias {
            args.append(
                (
                    DNNLArg.bias,
                    try constantValue(
                        bias, dims: [o], target: primitive.md(dnnl_query_weights_md, 1),
                        cacheKey: index.map { "\($0)b" })
                ))
        }
        let dst = primitive.md(dnnl_query_dst_md)
        let out: Int
        if let sumName = layer.sumInput, let sumLayer {
            let residual = try value(sumName, for: layer)
            let residualRoot = root(residual)
            let reusable =
                (lastUse[sumName] ?? Int.max) <= sumLayer && !exposedSet.contains(sumName)
                && MemoryDesc.equal(values[residual].md, dst) && residualRoot != root(srcReady)
                && { if case .arena = values[residualRoot].storage { return true } else { return false } }()
            if reusable {
                // The residual is dead after this layer: accumulate into its buffer in place.
                out = addValue(outDims, dst, .alias(of: residual))
            } else {
                out = addValue(outDims, dst)
                let copy = try backend.reorder(from: values[residual].md, to: dst, what: "Add '\(layer.name)'")
                append(copy, [(DNNLArg.from, residual), (DNNLArg.to, out)])
            }
        } else {
            out = addValue(outDims, dst)
        }
        args.append((DNNLArg.dst, out))
        append(primitive, args)
        ids[layer.output] = out
    }

    private mutating func emitEltwise(_ layer: Layer, _ ops: [Eltwise]) throws(CNNRuntimeError) {
        let src = try value(layer.inputs[0], for: layer)
        var md = values[src].md
        let out = addValue(values[src].dims, md)
        for (index, op) in ops.enumerated() {
            var desc = dnnl_eltwise_desc_t()
            try backend.check(
                dnnl_eltwise_forward_desc_init(&desc, dnnl_forward_inference, op.algorithm, &md, op.alpha, op.beta),
                "\(layer.name)")
            let primitive = try backend.primitive(&desc, attr: Attributes(backend: backend), what: layer.name)
            append(primitive, [(DNNLArg.src, index == 0 ? src : out), (DNNLArg.dst, out)])
        }
        ids[layer.output] = out
    }
}

/// Weights reordered into oneDNN's layouts, shared by the plans of all input shapes of a
/// model (the weight layout seldom depends on the batch size), keyed by layer and layout.
final class WeightCache: Sendable {
    private struct Entry {
        let md: dnnl_memory_desc_t
        let buffer: AlignedBuffer
    }

    private let entries = Locked<[String: [Entry]]>([:])

    func buffer(_ key: String, _ md: dnnl_memory_desc_t) -> AlignedBuffer? {
        entries.withLock { $0[key]?.first { MemoryDesc.equal($0.md, md) }?.buffer }
    }

    func store(_ key: String, _ md: dnnl_memory_desc_t, _ buffer: AlignedBuffer) {
        entries.withLock { $0[key, default: []].append(Entry(md: md, buffer: buffer)) }
    }
}

/// A 64-byte aligned heap buffer.
// @unchecked: raw memory, written once while a plan is built, then only read.
final class AlignedBuffer: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
    let bytes: Int

    init(bytes: Int) {
        self.bytes = bytes
        pointer = UnsafeMutableRawPointer.allocate(byteCount: max(bytes, 64), alignment: 64)
    }

    deinit { pointer.deallocate() }
}
