import Foundation
import SwiftProtobuf

/// A constant tensor (an initializer or a tensor attribute), kept as floats;
/// integer tensors (shapes, pads, axes) also keep their exact values.
struct ConstantTensor: Sendable {
    var shape: [Int]
    var floats: [Float]
    var ints: [Int64]?

    var count: Int { floats.count }
}

/// An attribute value of a node.
enum AttributeValue: Sendable {
    case int(Int64)
    case float(Float)
    case ints([Int64])
    case floats([Float])
    case string(String)
    case tensor(ConstantTensor)
}

/// One node of the graph, with its inputs resolved to tensor names ("" = absent optional input).
struct GraphNode: Sendable {
    var name: String
    var opType: String
    var inputs: [String]
    var outputs: [String]
    var attributes: [String: AttributeValue]

    func int(_ key: String) -> Int64? {
        if case .int(let v) = attributes[key] { return v }
        return nil
    }

    func float(_ key: String) -> Float? {
        if case .float(let v) = attributes[key] { return v }
        return nil
    }

    func ints(_ key: String) -> [Int64]? {
        if case .ints(let v) = attributes[key] { return v }
        return nil
    }

    func string(_ key: String) -> String? {
        if case .string(let v) = attributes[key] { return v }
        return nil
    }
}

/// A validated ONNX graph: nodes in a topological order, constants, one data input.
struct ONNXGraph: Sendable {
    var nodes: [GraphNode]
    var constants: [String: ConstantTensor]
    /// Graph inputs that are not initializers (the data the caller provides).
    var inputs: [String]
    var outputs: [String]
    /// The default-domain opset version.
    var opset: Int

    /// Elements a single tensor may have (1 GiB of floats); protects against hostile sizes.
    static let maxElements = 1 << 28

    /// Operators the runtime implements.
    static let supportedOperators: Set<String> = [
        "Conv", "BatchNormalization", "Relu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish", "Add", "Mul",
        "MaxPool", "AveragePool", "GlobalAveragePool", "ReduceMean", "Flatten", "Reshape", "Gemm", "MatMul",
        "Concat", "Softmax", "Pad", "Identity", "Transpose",
    ]

    /// Decodes and validates a model file's bytes.
    init(data: Data, path: String) throws(CNNRuntimeError) {
        let model: ONNXModelProto
        do {
            var options = BinaryDecodingOptions()
            options.messageDepthLimit = 32
            model = try ONNXModelProto(serializedBytes: data, options: options)
        } catch {
            throw .invalidModel(path: path, reason: "protobuf decoding failed (\(error))")
        }
        guard let graph = model.graph else { throw .invalidModel(path: path, reason: "the file has no graph") }
        let defaultOpset = model.opsetImport.first { $0.domain.isEmpty || $0.domain == "ai.onnx" }?.version
        guard let opsetVersion = defaultOpset else {
            throw .invalidModel(path: path, reason: "no opset import for the default ONNX domain")
        }
        guard (7...21).contains(opsetVersion) else {
            throw .invalidModel(path: path, reason: "opset \(opsetVersion) is outside the supported 7–21")
        }
        opset = Int(opsetVersion)

        var constants: [String: ConstantTensor] = [:]
        for tensor in graph.initializer {
            constants[tensor.name] = try Self.constant(tensor, path: path, what: "initializer '\(tensor.name)'")
        }
        self.constants = constants
        inputs = graph.input.map(\.name).filter { constants[$0] == nil }
        outputs = graph.output.map(\.name)
        guard !graph.node.isEmpty else { throw .invalidModel(path: path, reason: "the graph has no nodes") }

        var converted: [GraphNode] = []
        converted.reserveCapacity(graph.node.count)
        for (index, node) in graph.node.enumerated() {
            let name = node.name.isEmpty ? "#\(index) \(node.opType)" : node.name
            guard node.domain.isEmpty || node.domain == "ai.onnx" else {
                throw .unsupportedOperator(path: path, operator: "\(node.domain).\(node.opType)", node: name)
            }
            guard Self.supportedOperators.contains(node.opType) else {
                throw .unsupportedOperator(path: path, operator: node.opType, node: name)
            }
            guard !node.output.isEmpty, node.output.allSatisfy({ !$0.isEmpty }) else {
                throw .invalidModel(path: path, reason: "node '\(name)' has no output name")
            }
            var attributes: [String: AttributeValue] = [:]
            for attribute in node.attribute {
                attributes[attribute.name] = try Self.attribute(attribute, node: name, path: path)
            }
            converted.append(
                GraphNode(
                    name: name, opType: node.opType, inputs: node.input, outputs: node.output,
                    attributes: attributes))
        }
        nodes = try Self.topologicallySorted(converted, available: Set(inputs).union(constants.keys), path: path)
        let produced = Set(nodes.flatMap(\.outputs)).union(inputs).union(constants.keys)
        for output in outputs where !produced.contains(output) {
            throw .invalidModel(path: path, reason: "graph output '\(output)' is produced by no node")
        }
        guard inputs.count == 1 else {
            throw .invalidModel(path: path, reason: "expected one data input, found \(inputs.count)")
        }
    }

    /// Orders nodes so every input is produced before use; rejects cycles, duplicate
    /// producers and tensors that nothing produces.
    private static func topologicallySorted(
        _ nodes: [GraphNode], available: Set<String>, path: String
    ) throws(CNNRuntimeError) -> [GraphNode] {
        var producer: [String: Int] = [:]
        for (index, node) in nodes.enumerated() {
            for output in node.outputs {
                if producer[output] != nil || available.contains(output) {
                    throw .invalidModel(path: path, reason: "tensor '\(output)' is produced twice")
                }
                producer[output] = index
            }
        }
        // Depth-first from each node in file order: the file's order is kept where it is
        // valid (tensors die as early as the author planned), and a grey node met again is a cycle.
        var state = [UInt8](repeating: 0, count: nodes.count)  // 0 new, 1 on the stack, 2 done
        var order: [GraphNode] = []
        order.reserveCapacity(nodes.count)
        for root in nodes.indices where state[root] == 0 {
            var stack: [(node: Int, nextInput: Int)] = [(root, 0)]
            state[root] = 1
            while let (node, nextInput) = stack.last {
                let inputs = nodes[node].inputs
                if nextInput == inputs.count {
                    stack.removeLast()
                    state[node] = 2
                    order.append(nodes[node])
                    continue
                }
                stack[stack.count - 1].nextInput += 1
                let input = inputs[nextInput]
                if input.isEmpty || available.contains(input) { continue }
                guard let source = producer[input] else {
                    throw .invalidModel(
                        path: path, reason: "node '\(nodes[node].name)' reads '\(input)', which nothing produces")
                }
                switch state[source] {
                case 0:
                    state[source] = 1
                    stack.append((source, 0))
                case 1:
                    throw .invalidModel(
                        path: path, reason: "the graph has a cycle through node '\(nodes[source].name)'")
                default:
                    break
                }
            }
        }
        return order
    }

    private static func attribute(
        _ proto: ONNXAttributeProto, node: String, path: String
    ) throws(CNNRuntimeError) -> AttributeValue {
        switch proto.type {
        case 1: return .float(proto.f)
        case 2: return .int(proto.i)
        case 3: return .string(String(decoding: proto.s, as: UTF8.self))
        case 4:
            guard let tensor = proto.t else {
                throw .invalidModel(path: path, reason: "node '\(node)': tensor attribute '\(proto.name)' is empty")
            }
            return .tensor(try constant(tensor, path: path, what: "attribute '\(proto.name)' of node '\(node)'"))
        case 6: return .floats(proto.floats)
        case 7: return .ints(proto.ints)
        case 8: return .string(proto.strings.map { String(decoding: $0, as: UTF8.self) }.joined(separator: ","))
        default:
            // Untyped (old writers) or graph-valued: infer from the filled field.
            if !proto.ints.isEmpty { return .ints(proto.ints) }
            if !proto.floats.isEmpty { return .floats(proto.floats) }
            if !proto.s.isEmpty { return .string(String(decoding: proto.s, as: UTF8.self)) }
            if proto.f != 0 { return .float(proto.f) }
            return .int(proto.i)
        }
    }

    /// Converts a tensor after checking that its size fits its shape.
    static func constant(
        _ proto: ONNXTensorProto, path: String, what: String
    ) throws(CNNRuntimeError) -> ConstantTensor {
        guard proto.dataLocation == 0 else {
            throw .invalidModel(path: path, reason: "\(what) uses external data, which is not supported")
        }
        var count = 1
        for dim in proto.dims {
            guard dim >= 0, dim <= Int64(maxElements) else {
                throw .invalidModel(path: path, reason: "\(what) has an invalid dimension \(dim)")
            }
            let (product, overflow) = count.multipliedReportingOverflow(by: Int(dim))
            guard !overflow, product <= maxElements else {
                throw .invalidModel(path: path, reason: "\(what) is too large (dimensions \(proto.dims))")
            }
            count = product
        }
        let shape = proto.dims.map { Int($0) }
        let raw = proto.rawData
        func mismatch(_ found: Int) -> CNNRuntimeError {
            .invalidModel(path: path, reason: "\(what) holds \(found) values but its shape \(shape) needs \(count)")
        }
        switch proto.dataType {
        case 1:  // FLOAT
            if !raw.isEmpty {
                guard raw.count == count * 4 else { throw mismatch(raw.count / 4) }
                // The weights are nearly all of a model's bytes: one copy, not a call per value, which
                // an unoptimised (sanitizer) build made take seconds per model.
                let values = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                    raw.withUnsafeBytes { UnsafeMutableRawBufferPointer(buffer).copyMemory(from: $0) }
                    #if _endian(big)
                        for i in 0..<count { buffer[i] = Float(bitPattern: UInt32(littleEndian: buffer[i].bitPattern)) }
                    #endif
                    initialized = count
                }
                return ConstantTensor(shape: shape, floats: values, ints: nil)
            }
            guard proto.floatData.count == count else { throw mismatch(proto.floatData.count) }
            return ConstantTensor(shape: shape, floats: proto.floatData, ints: nil)
        case 6, 7:  // INT32, INT64
            let width = proto.dataType == 6 ? 4 : 8
            var ints: [Int64]
            if !raw.isEmpty {
                guard raw.count == count * width else { throw mismatch(raw.count / width) }
                ints = raw.withUnsafeBytes { bytes in
                    (0..<count).map { i -> Int64 in
                        width == 4
                            ? Int64(Int32(littleEndian: bytes.loadUnaligned(fromByteOffset: i * 4, as: Int32.self)))
                            : Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: i * 8, as: Int64.self))
                    }
                }
            } else {
                ints = proto.dataType == 6 ? proto.int32Data.map(Int64.init) : proto.int64Data
                guard ints.count == count else { throw mismatch(ints.count) }
            }
            return ConstantTensor(shape: shape, floats: ints.map { Float($0) }, ints: ints)
        case 11:  // DOUBLE
            if !raw.isEmpty {
                guard raw.count == count * 8 else { throw mismatch(raw.count / 8) }
                let values = raw.withUnsafeBytes { bytes in
                    (0..<count).map {
                        Float(
                            Double(
                                bitPattern: UInt64(
                                    littleEndian: bytes.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self))))
                    }
                }
                return ConstantTensor(shape: shape, floats: values, ints: nil)
            }
            guard proto.doubleData.count == count else { throw mismatch(proto.doubleData.count) }
            return ConstantTensor(shape: shape, floats: proto.doubleData.map { Float($0) }, ints: nil)
        default:
            throw .invalidModel(path: path, reason: "\(what) has unsupported data type \(proto.dataType)")
        }
    }
}
