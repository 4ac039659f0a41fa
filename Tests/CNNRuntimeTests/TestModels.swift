import Foundation
import SwiftProtobuf

@testable import CNNRuntime

/// Builds small ONNX models in memory with the runtime's own message types.
enum TestModels {
    static func tensor(_ name: String, _ dims: [Int], _ values: [Float]) -> ONNXTensorProto {
        var t = ONNXTensorProto()
        t.name = name
        t.dims = dims.map(Int64.init)
        t.dataType = 1
        t.rawData = values.withUnsafeBytes { Data($0) }
        return t
    }

    static func ints(_ name: String, _ values: [Int64]) -> ONNXTensorProto {
        var t = ONNXTensorProto()
        t.name = name
        t.dims = [Int64(values.count)]
        t.dataType = 7
        t.int64Data = values
        return t
    }

    static func node(
        _ op: String, _ inputs: [String], _ outputs: [String], name: String? = nil,
        ints: [String: [Int64]] = [:], int: [String: Int64] = [:]
    ) -> ONNXNodeProto {
        var n = ONNXNodeProto()
        n.opType = op
        n.input = inputs
        n.output = outputs
        n.name = name ?? "\(op.lowercased())_\(outputs.first ?? "")"
        for (key, value) in ints.sorted(by: { $0.key < $1.key }) {
            var a = ONNXAttributeProto()
            a.name = key
            a.type = 7
            a.ints = value
            n.attribute.append(a)
        }
        for (key, value) in int.sorted(by: { $0.key < $1.key }) {
            var a = ONNXAttributeProto()
            a.name = key
            a.type = 2
            a.i = value
            n.attribute.append(a)
        }
        return n
    }

    static func model(
        nodes: [ONNXNodeProto], initializers: [ONNXTensorProto], inputs: [String] = ["input"],
        outputs: [String], opset: Int64 = 13
    ) -> Data {
        var graph = ONNXGraphProto()
        graph.name = "test"
        graph.node = nodes
        graph.initializer = initializers
        graph.input = inputs.map { name in
            var v = ONNXValueInfo()
            v.name = name
            return v
        }
        graph.output = outputs.map { name in
            var v = ONNXValueInfo()
            v.name = name
            return v
        }
        var model = ONNXModelProto()
        model.irVersion = 8
        model.graph = graph
        var opsetID = ONNXOperatorSetID()
        opsetID.version = opset
        model.opsetImport = [opsetID]
        return try! model.serializedBytes()
    }

    /// input [N,2,H,W] → 1×1 conv (weights swap and scale channels, bias) → Relu → "out";
    /// the conv's output is the internal tensor "conv".
    static func smallConv() -> Data {
        model(
            nodes: [
                node("Conv", ["input", "w", "b"], ["conv"], name: "conv1", ints: ["kernel_shape": [1, 1]]),
                node("Relu", ["conv"], ["out"], name: "relu1"),
            ],
            initializers: [tensor("w", [2, 2, 1, 1], [0, 2, 1, 0]), tensor("b", [2], [-1, 0.5])],
            outputs: ["out"])
    }
}
