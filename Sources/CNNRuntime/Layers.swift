import CDNNL

/// A graph node translated into what the planner executes: parameters are
/// checked and constants resolved once, at load time.
struct Layer: Sendable {
    var name: String
    var kind: LayerKind
    /// Tensor names read; constants among them are resolved by the planner.
    var inputs: [String]
    var output: String
    var postOps: [PostOp] = []
    /// With a `.sum` post-op: the tensor added to the convolution's result.
    var sumInput: String?
}

enum LayerKind: Sendable {
    case conv(ConvParams)
    case eltwise([Eltwise])
    case add
    case mul
    case pool(PoolParams)
    case globalAveragePool
    case reduceMean(axes: [Int]?, keepDims: Bool)
    case flatten(axis: Int)
    case reshape(shape: [Int64], allowZero: Bool)
    case gemm(GemmParams)
    case matmul
    case concat(axis: Int)
    case softmax(axis: Int, legacy: Bool)
    case pad(PadParams)
    case identity
    case transpose(perm: [Int]?)
}

/// Spatial padding: explicit begin/end, or TF-style 'same' computed from the input size.
enum Padding: Sendable {
    case explicit(begin: [Int], end: [Int])
    case sameUpper
    case sameLower
}

struct ConvParams: Sendable {
    /// [out channels, in channels / group, kh, kw].
    var weightShape: [Int]
    var weights: [Float]
    var bias: [Float]?
    var strides: [Int]
    var dilations: [Int]
    var padding: Padding
    var group: Int
}

struct PoolParams: Sendable {
    var max: Bool
    var kernel: [Int]
    var strides: [Int]
    var dilations: [Int]
    var padding: Padding
    var ceilMode: Bool
    var countIncludePad: Bool
}

struct GemmParams: Sendable {
    var alpha: Float
    var beta: Float
    var transA: Bool
    var transB: Bool
}

struct PadParams: Sendable {
    enum Mode: Sendable { case constant, reflect, edge }
    /// ONNX order: all begins, then all ends.
    var pads: [Int]
    var value: Float
    var mode: Mode
}

extension Eltwise {
    static let relu = Eltwise(algorithm: dnnl_eltwise_relu, alpha: 0, beta: 0)
    static let sigmoid = Eltwise(algorithm: dnnl_eltwise_logistic, alpha: 0, beta: 0)
    static let hardSwish = Eltwise(algorithm: dnnl_eltwise_hardswish, alpha: 0, beta: 0)
    static func clip(_ low: Float, _ high: Float) -> Eltwise {
        Eltwise(algorithm: dnnl_eltwise_clip, alpha: low, beta: high)
    }
    static func linear(_ scale: Float, _ shift: Float) -> Eltwise {
        Eltwise(algorithm: dnnl_eltwise_linear, alpha: scale, beta: shift)
    }
}

/// Translates validated graph nodes into layers, folding what can be folded without shapes.
struct LayerBuilder {
    let graph: ONNXGraph
    let path: String
    /// Tensors the caller asked for; they must survive fusion.
    let exposed: Set<String>

    func build() throws(CNNRuntimeError) -> [Layer] {
        var layers: [Layer] = []
        for node in graph.nodes {
            guard node.outputs.count == 1 || (node.opType == "BatchNormalization" || node.opType == "MaxPool") else {
                throw unsupported(node, "\(node.outputs.count) outputs")
            }
            if node.outputs.count > 1 && node.outputs[1...].contains(where: { !$0.isEmpty }) {
                throw unsupported(node, "only the first output is supported")
            }
            layers.append(try layer(for: node))
        }
        layers = foldBatchNorms(layers)
        return pruned(removeIdentities(layers))
    }

    func unsupported(_ node: GraphNode, _ reason: String) -> CNNRuntimeError {
        .unsupportedNode(path: path, node: node.name, reason: reason)
    }

    func constant(_ node: GraphNode, _ index: Int, _ what: String) throws(CNNRuntimeError) -> ConstantTensor {
        guard index < node.inputs.count, let tensor = graph.constants[node.inputs[index]] else {
            throw unsupported(node, "\(what) must be a constant initializer")
        }
        return tensor
    }

    func optionalConstant(_ node: GraphNode, _ index: Int, _ what: String) throws(CNNRuntimeError) -> ConstantTensor? {
        guard index < node.inputs.count, !node.inputs[index].isEmpty else { return nil }
        return try constant(node, index, what)
    }

    func requireInputs(_ node: GraphNode, _ count: Int) throws(CNNRuntimeError) {
        guard node.inputs.count >= count, node.inputs[0..<count].allSatisfy({ !$0.isEmpty }) else {
            throw CNNRuntimeError.invalidModel(path: path, reason: "node '\(node.name)' needs \(count) inputs")
        }
    }

    private func layer(for node: GraphNode) throws(CNNRuntimeError) -> Layer {
        let data = node.inputs.isEmpty ? [] : [node.inputs[0]]
        func make(_ kind: LayerKind, _ inputs: [String]? = nil) -> Layer {
            Layer(name: node.name, kind: kind, inputs: inputs ?? data, output: node.outputs[0])
        }
        try requireInputs(node, 1)
        switch node.opType {
        case "Conv": return make(.conv(try convParams(node)))
        case "BatchNormalization": return make(.conv(try batchNormAsConv(node)))
        case "Relu": return make(.eltwise([.relu]))
        case "Sigmoid": return make(.eltwise([.sigmoid]))
        case "HardSwish": return make(.eltwise([.hardSwish]))
        case "HardSigmoid":
            let alpha = node.float("alpha") ?? 0.2
            let beta = node.float("beta") ?? 0.5
            return make(.eltwise([.linear(alpha, beta), .clip(0, 1)]))
        case "Clip":
            var low = -Float.greatestFiniteMagnitude
            var high = Float.greatestFiniteMagnitude
            if graph.opset < 11 {
                low = node.float("min") ?? low
                high = node.float("max") ?? high
            } else {
                if let t = try optionalConstant(node, 1, "Clip min"), let v = t.floats.first { low = v }
                if let t = try optionalConstant(node, 2, "Clip max"), let v = t.floats.first { high = v }
            }
            return make(.eltwise([.clip(low, high)]))
        case "Add", "Mul":
            try requireInputs(node, 2)
            return make(node.opType == "Add" ? .add : .mul, Array(node.inputs[0..<2]))
        case "MaxPool", "AveragePool": return make(.pool(try poolParams(node)))
        case "GlobalAveragePool": return make(.globalAveragePool)
        case "ReduceMean":
            var axes = node.ints("axes")?.map { Int($0) }
            if let t = try optionalConstant(node, 1, "ReduceMean axes") { axes = t.ints?.map { Int($0) } }
            if node.int("noop_with_empty_axes") == 1 && axes == nil { return make(.identity) }
            return make(.reduceMean(axes: axes, keepDims: (node.int("keepdims") ?? 1) != 0))
        case "Flatten": return make(.flatten(axis: Int(node.int("axis") ?? 1)))
        case "Reshape":
            try requireInputs(node, 2)
            let shape = try constant(node, 1, "Reshape shape")
            guard let ints = shape.ints else { throw unsupported(node, "the shape must be an integer tensor") }
            return make(.reshape(shape: ints, allowZero: node.int("allowzero") == 1))
        case "Gemm":
            try requireInputs(node, 2)
            let params = GemmParams(
                alpha: node.float("alpha") ?? 1, beta: node.float("beta") ?? 1,
                transA: node.int("transA") == 1, transB: node.int("transB") == 1)
            return make(.gemm(params), node.inputs)
        case "MatMul":
            try requireInputs(node, 2)
            return make(.matmul, Array(node.inputs[0..<2]))
        case "Concat":
            guard let axis = node.int("axis") else { throw unsupported(node, "Concat needs an axis") }
            return make(.concat(axis: Int(axis)), node.inputs.filter { !$0.isEmpty })
        case "Softmax":
            let legacy = graph.opset < 13
            return make(.softmax(axis: Int(node.int("axis") ?? (legacy ? 1 : -1)), legacy: legacy))
        case "Pad": return make(.pad(try padParams(node)))
        case "Identity": return make(.identity)
        case "Transpose": return make(.transpose(perm: node.ints("perm")?.map { Int($0) }))
        default:
            throw .unsupportedOperator(path: path, operator: node.opType, node: node.name)
        }
    }

    private func spatial(_ node: GraphNode, _ key: String, default value: Int) throws(CNNRuntimeError) -> [Int] {
        guard let list = node.ints(key) else { return [value, value] }
        guard list.count == 2, list.allSatisfy({ $0 >= 1 && $0 <= 1 << 16 }) else {
            throw unsupported(node, "\(key) must hold two values in 1...65536 (2-D only)")
        }
        return list.map { Int($0) }
    }

    private func padding(_ node: GraphNode) throws(CNNRuntimeError) -> Padding {
        switch node.string("auto_pad") ?? "NOTSET" {
        case "SAME_UPPER": return .sameUpper
        case "SAME_LOWER": return .sameLower
        case "VALID": return .explicit(begin: [0, 0], end: [0, 0])
        case "NOTSET", "":
            guard let pads = node.ints("pads") else { return .explicit(begin: [0, 0], end: [0, 0]) }
            guard pads.count == 4, pads.allSatisfy({ $0 >= 0 && $0 <= 1 << 16 }) else {
                throw unsupported(node, "pads must hold four values in 0...65536 (2-D only)")
            }
            return .explicit(begin: [Int(pads[0]), Int(pads[1])], end: [Int(pads[2]), Int(pads[3])])
        case let other:
            throw unsupported(node, "auto_pad \(other)")
        }
    }

    private func convParams(_ node: GraphNode) throws(CNNRuntimeError) -> ConvParams {
        try requireInputs(node, 2)
        let weights = try constant(node, 1, "Conv weights")
        guard weights.shape.count == 4, weights.shape.allSatisfy({ $0 > 0 }) else {
            throw unsupported(node, "weights of shape \(weights.shape); only 2-D convolution is supported")
        }
        if let kernel = node.ints("kernel_shape"), kernel.map({ Int($0) }) != Array(weights.shape[2...]) {
            throw unsupported(node, "kernel_shape \(kernel) disagrees with the weights \(weights.shape)")
        }
        let bias = try optionalConstant(node, 2, "Conv bias")
        if let bias, bias.count != weights.shape[0] {
            throw CNNRuntimeError.invalidModel(path: path, reason: "node '\(node.name)': bias size mismatch")
        }
        let group = Int(node.int("group") ?? 1)
        guard group >= 1, weights.shape[0] % group == 0 else {
            throw CNNRuntimeError.invalidModel(path: path, reason: "node '\(node.name)': invalid group \(group)")
        }
        return ConvParams(
            weightShape: weights.shape, weights: weights.floats, bias: bias?.floats,
            strides: try spatial(node, "strides", default: 1), dilations: try spatial(node, "dilations", default: 1),
            padding: try padding(node), group: group)
    }

    /// Inference-mode batch normalisation is a per-channel affine map: a depthwise 1×1 convolution.
    private func batchNormAsConv(_ node: GraphNode) throws(CNNRuntimeError) -> ConvParams {
        try requireInputs(node, 5)
        if node.int("training_mode") == 1 { throw unsupported(node, "training mode") }
        let (scale, shift) = try batchNormAffine(node)
        return ConvParams(
            weightShape: [scale.count, 1, 1, 1], weights: scale, bias: shift, strides: [1, 1], dilations: [1, 1],
            padding: .explicit(begin: [0, 0], end: [0, 0]), group: scale.count)
    }

    private func batchNormAffine(_ node: GraphNode) throws(CNNRuntimeError) -> (scale: [Float], shift: [Float]) {
        let gamma = try constant(node, 1, "BatchNormalization scale")
        let beta = try constant(node, 2, "BatchNormalization bias")
        let mean = try constant(node, 3, "BatchNormalization mean")
        let variance = try constant(node, 4, "BatchNormalization variance")
        let channels = gamma.count
        guard channels > 0, beta.count == channels, mean.count == channels, variance.count == channels else {
            throw CNNRuntimeError.invalidModel(path: path, reason: "node '\(node.name)': parameter sizes differ")
        }
        let epsilon = node.float("epsilon") ?? 1e-5
        var scale = [Float](repeating: 0, count: channels)
        var shift = [Float](repeating: 0, count: channels)
        for c in 0..<channels {
            scale[c] = gamma.floats[c] / (variance.floats[c] + epsilon).squareRoot()
            shift[c] = beta.floats[c] - mean.floats[c] * scale[c]
        }
        return (scale, shift)
    }

    private func poolParams(_ node: GraphNode) throws(CNNRuntimeError) -> PoolParams {
        guard let kernel = node.ints("kernel_shape"), kernel.count == 2, kernel.allSatisfy({ $0 >= 1 && $0 <= 1 << 16 })
        else { throw unsupported(node, "kernel_shape must hold two positive values (2-D only)") }
        if (node.int("storage_order") ?? 0) != 0 { throw unsupported(node, "storage_order 1") }
        return PoolParams(
            max: node.opType == "MaxPool", kernel: kernel.map { Int($0) },
            strides: try spatial(node, "strides", default: 1), dilations: try spatial(node, "dilations", default: 1),
            padding: try padding(node), ceilMode: node.int("ceil_mode") == 1,
            countIncludePad: node.int("count_include_pad") == 1)
    }

    private func padParams(_ node: GraphNode) throws(CNNRuntimeError) -> PadParams {
        let modeName = node.string("mode") ?? "constant"
        let mode: PadParams.Mode
        switch modeName {
        case "constant": mode = .constant
        case "reflect": mode = .reflect
        case "edge": mode = .edge
        default: throw unsupported(node, "Pad mode \(modeName)")
        }
        var pads: [Int64]
        var value: Float = 0
        if graph.opset < 11 {
            pads = node.ints("pads") ?? []
            value = node.float("value") ?? 0
        } else {
            guard let t = try optionalConstant(node, 1, "Pad pads"), let ints = t.ints else {
                throw unsupported(node, "pads must be a constant integer tensor")
            }
            pads = ints
            if let v = try optionalConstant(node, 2, "Pad constant_value"), let first = v.floats.first { value = first }
            if node.inputs.count > 3 && !node.inputs[3].isEmpty { throw unsupported(node, "Pad axes") }
        }
        guard pads.allSatisfy({ $0 >= 0 && $0 <= 1 << 16 }) else {
            throw unsupported(node, "pads must be in 0...65536")
        }
        return PadParams(pads: pads.map { Int($0) }, value: value, mode: mode)
    }

    /// Folds a BatchNormalization (already a depthwise 1×1 conv) into the convolution that feeds it alone.
    private func foldBatchNorms(_ layers: [Layer]) -> [Layer] {
        let uses = useCounts(layers)
        var result: [Layer] = []
        var index: [String: Int] = [:]
        for (position, layer) in layers.enumerated() {
            let isBatchNorm = graph.nodes[position].opType == "BatchNormalization"
            if isBatchNorm, case .conv(let affine) = layer.kind, let source = index[layer.inputs[0]],
                uses[layer.inputs[0]] == 1, !exposed.contains(layer.inputs[0]),
                case .conv(var conv) = result[source].kind, result[source].postOps.isEmpty,
                conv.weightShape[0] == affine.weights.count
            {
                let perChannel = conv.weights.count / conv.weightShape[0]
                for o in 0..<conv.weightShape[0] {
                    let s = affine.weights[o]
                    for i in 0..<perChannel { conv.weights[o * perChannel + i] *= s }
                }
                conv.bias = (0..<conv.weightShape[0]).map { o in
                    (conv.bias?[o] ?? 0) * affine.weights[o] + (affine.bias?[o] ?? 0)
                }
                result[source].kind = .conv(conv)
                result[source].output = layer.output
                index[layer.output] = source
                continue
            }
            index[layer.output] = result.count
            result.append(layer)
        }
        return result
    }

    /// Drops layers that no requested tensor depends on (e.g. the classifier when only features are wanted).
    private func pruned(_ layers: [Layer]) -> [Layer] {
        var needed = exposed
        var keep = [Bool](repeating: false, count: layers.count)
        for index in layers.indices.reversed() where needed.contains(layers[index].output) {
            keep[index] = true
            needed.formUnion(layers[index].inputs)
        }
        return layers.indices.filter { keep[$0] }.map { layers[$0] }
    }

    /// Identity nodes become renames, unless their output was asked for by name.
    private func removeIdentities(_ layers: [Layer]) -> [Layer] {
        var rename: [String: String] = [:]
        var result: [Layer] = []
        for var layer in layers {
            layer.inputs = layer.inputs.map { rename[$0] ?? $0 }
            if case .identity = layer.kind, !exposed.contains(layer.output), !graph.outputs.contains(layer.output),
                graph.constants[layer.inputs[0]] == nil
            {
                rename[layer.output] = layer.inputs[0]
                continue
            }
            result.append(layer)
        }
        return result
    }
}

/// How many layers read each tensor.
func useCounts(_ layers: [Layer]) -> [String: Int] {
    var uses: [String: Int] = [:]
    for layer in layers {
        for input in layer.inputs { uses[input, default: 0] += 1 }
        if let sum = layer.sumInput { uses[sum, default: 0] += 1 }
    }
    return uses
}
