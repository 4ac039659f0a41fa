import Foundation
import SwiftProtobuf

// The few ONNX protobuf messages the runtime reads, decoded by SwiftProtobuf's
// wire-format decoder. Field numbers follow onnx.proto (ONNX IR version 3–9);
// fields not listed here (docs, metadata, subgraphs, training info) are
// skipped by the decoder, so a model's unused parts cost nothing and cannot
// trip the parser. `traverse` encodes the same fields, which lets tests build
// hostile model files without Python.

/// `ModelProto`: the graph and the operator sets it was written against.
struct ONNXModelProto: ONNXMessage {
    static let protoMessageName = "onnx.ModelProto"
    var irVersion: Int64 = 0
    var producerName = ""
    var graph: ONNXGraphProto?
    var opsetImport: [ONNXOperatorSetID] = []
    var unknownFields = UnknownStorage()

    mutating func decodeMessage<D: Decoder>(decoder: inout D) throws {
        while let field = try decoder.nextFieldNumber() {
            switch field {
            case 1: try decoder.decodeSingularInt64Field(value: &irVersion)
            case 2: try decoder.decodeSingularStringField(value: &producerName)
            case 7: try decoder.decodeSingularMessageField(value: &graph)
            case 8: try decoder.decodeRepeatedMessageField(value: &opsetImport)
            default: break
            }
        }
    }

    func traverse<V: Visitor>(visitor: inout V) throws {
        if irVersion != 0 { try visitor.visitSingularInt64Field(value: irVersion, fieldNumber: 1) }
        if !producerName.isEmpty { try visitor.visitSingularStringField(value: producerName, fieldNumber: 2) }
        if let graph { try visitor.visitSingularMessageField(value: graph, fieldNumber: 7) }
        if !opsetImport.isEmpty { try visitor.visitRepeatedMessageField(value: opsetImport, fieldNumber: 8) }
    }
}

/// `OperatorSetIdProto`: an operator domain ("" is the default ONNX domain) and its version.
struct ONNXOperatorSetID: ONNXMessage {
    static let protoMessageName = "onnx.OperatorSetIdProto"
    var domain = ""
    var version: Int64 = 0
    var unknownFields = UnknownStorage()

    mutating func decodeMessage<D: Decoder>(decoder: inout D) throws {
        while let field = try decoder.nextFieldNumber() {
            switch field {
            case 1: try decoder.decodeSingularStringField(value: &domain)
            case 2: try decoder.decodeSingularInt64Field(value: &version)
            default: break
            }
        }
    }

    func traverse<V: Visitor>(visitor: inout V) throws {
        if !domain.isEmpty { try visitor.visitSingularStringField(value: domain, fieldNumber: 1) }
        if version != 0 { try visitor.visitSingularInt64Field(value: version, fieldNumber: 2) }
    }
}

/// `GraphProto`: nodes in topological order, weights, and the graph's inputs and outputs.
struct ONNXGraphProto: ONNXMessage {
    static let protoMessageName = "onnx.GraphProto"
    var node: [ONNXNodeProto] = []
    var name = ""
    var initializer: [ONNXTensorProto] = []
    var input: [ONNXValueInfo] = []
    var output: [ONNXValueInfo] = []
    var unknownFields = UnknownStorage()

    mutating func decodeMessage<D: Decoder>(decoder: inout D) throws {
        while let field = try decoder.nextFieldNumber() {
            switch field {
            case 1: try decoder.decodeRepeatedMessageField(value: &node)
            case 2: try decoder.decodeSingularStringField(value: &name)
            case 5: try decoder.decodeRepeatedMessageField(value: &initializer)
            case 11: try decoder.decodeRepeatedMessageField(value: &input)
            case 12: try decoder.decodeRepeatedMessageField(value: &output)
            default: break
            }
        }
    }

    func traverse<V: Visitor>(visitor: inout V) throws {
        if !node.isEmpty { try visitor.visitRepeatedMessageField(value: node, fieldNumber: 1) }
        if !name.isEmpty { try visitor.visitSingularStringField(value: name, fieldNumber: 2) }
        if !initializer.isEmpty { try visitor.visitRepeatedMessageField(value: initializer, fieldNumber: 5) }
        if !input.isEmpty { try visitor.visitRepeatedMessageField(value: input, fieldNumber: 11) }
        if !output.isEmpty { try visitor.visitRepeatedMessageField(value: output, fieldNumber: 12) }
    }
}

/// `NodeProto`: one operator application.
struct ONNXNodeProto: ONNXMessage {
    static let protoMessageName = "onnx.NodeProto"
    var input: [String] = []
    var output: [String] = []
    var name = ""
    var opType = ""
    var attribute: [ONNXAttributeProto] = []
    var domain = ""
    var unknownFields = UnknownStorage()

    mutating func decodeMessage<D: Decoder>(decoder: inout D) throws {
        while let field = try decoder.nextFieldNumber() {
            switch field {
            case 1: try decoder.decodeRepeatedStringField(value: &input)
            case 2: try decoder.decodeRepeatedStringField(value: &output)
            case 3: try decoder.decodeSingularStringField(value: &name)
            case 4: try decoder.decodeSingularStringField(value: &opType)
            case 5: try decoder.decodeRepeatedMessageField(value: &attribute)
            case 7: try decoder.decodeSingularStringField(value: &domain)
            default: break
            }
        }
    }

    func traverse<V: Visitor>(visitor: inout V) throws {
        if !input.isEmpty { try visitor.visitRepeatedStringField(value: input, fieldNumber: 1) }
        if !output.isEmpty { try visitor.visitRepeatedStringField(value: output, fieldNumber: 2) }
        if !name.isEmpty { try visitor.visitSingularStringField(value: name, fieldNumber: 3) }
        if !opType.isEmpty { try visitor.visitSingularStringField(value: opType, fieldNumber: 4) }
        if !attribute.isEmpty { try visitor.visitRepeatedMessageField(value: attribute, fieldNumber: 5) }
        if !domain.isEmpty { try visitor.visitSingularStringField(value: domain, fieldNumber: 7) }
    }
}

/// `AttributeProto`: scalar and list attributes; graph-valued ones are skipped.
struct ONNXAttributeProto: ONNXMessage {
    static let protoMessageName = "onnx.AttributeProto"
    var name = ""
    var type: Int32 = 0
    var f: Float = 0
    var i: Int64 = 0
    var s = Data()
    var t: ONNXTensorProto?
    var floats: [Float] = []
    var ints: [Int64] = []
    var strings: [Data] = []
    var unknownFields = UnknownStorage()

    mutating func decodeMessage<D: Decoder>(decoder: inout D) throws {
        while let field = try decoder.nextFieldNumber() {
            switch field {
            case 1: try decoder.decodeSingularStringField(value: &name)
            case 2: try decoder.decodeSingularFloatField(value: &f)
            case 3: try decoder.decodeSingularInt64Field(value: &i)
            case 4: try decoder.decodeSingularBytesField(value: &s)
            case 5: try decoder.decodeSingularMessageField(value: &t)
            case 7: try decoder.decodeRepeatedFloatField(value: &floats)
            case 8: try decoder.decodeRepeatedInt64Field(value: &ints)
            case 9: try decoder.decodeRepeatedBytesField(value: &strings)
            case 20: try decoder.decodeSingularInt32Field(value: &type)
            default: break
            }
        }
    }

    func traverse<V: Visitor>(visitor: inout V) throws {
        if !name.isEmpty { try visitor.visitSingularStringField(value: name, fieldNumber: 1) }
        if f != 0 { try visitor.visitSingularFloatField(value: f, fieldNumber: 2) }
        if i != 0 { try visitor.visitSingularInt64Field(value: i, fieldNumber: 3) }
        if !s.isEmpty { try visitor.visitSingularBytesField(value: s, fieldNumber: 4) }
        if let t { try visitor.visitSingularMessageField(value: t, fieldNumber: 5) }
        if !floats.isEmpty { try visitor.visitRepeatedFloatField(value: floats, fieldNumber: 7) }
        if !ints.isEmpty { try visitor.visitRepeatedInt64Field(value: ints, fieldNumber: 8) }
        if !strings.isEmpty { try visitor.visitRepeatedBytesField(value: strings, fieldNumber: 9) }
        if type != 0 { try visitor.visitSingularInt32Field(value: type, fieldNumber: 20) }
    }
}

/// `TensorProto`: a constant, stored either as `raw_data` (little-endian) or in a typed field.
struct ONNXTensorProto: ONNXMessage {
    static let protoMessageName = "onnx.TensorProto"
    var dims: [Int64] = []
    var dataType: Int32 = 0
    var floatData: [Float] = []
    var int32Data: [Int32] = []
    var int64Data: [Int64] = []
    var name = ""
    var rawData = Data()
    var doubleData: [Double] = []
    /// `data_location` 1 means the bytes live in an external file, which is not supported.
    var dataLocation: Int32 = 0
    var unknownFields = UnknownStorage()

    mutating func decodeMessage<D: Decoder>(decoder: inout D) throws {
        while let field = try decoder.nextFieldNumber() {
            switch field {
            case 1: try decoder.decodeRepeatedInt64Field(value: &dims)
            case 2: try decoder.decodeSingularInt32Field(value: &dataType)
            case 4: try decoder.decodeRepeatedFloatField(value: &floatData)
            case 5: try decoder.decodeRepeatedInt32Field(value: &int32Data)
            case 7: try decoder.decodeRepeatedInt64Field(value: &int64Data)
            case 8: try decoder.decodeSingularStringField(value: &name)
            case 9: try decoder.decodeSingularBytesField(value: &rawData)
            case 10: try decoder.decodeRepeatedDoubleField(value: &doubleData)
            case 14: try decoder.decodeSingularInt32Field(value: &dataLocation)
            default: break
            }
        }
    }

    func traverse<V: Visitor>(visitor: inout V) throws {
        if !dims.isEmpty { try visitor.visitPackedInt64Field(value: dims, fieldNumber: 1) }
        if dataType != 0 { try visitor.visitSingularInt32Field(value: dataType, fieldNumber: 2) }
        if !floatData.isEmpty { try visitor.visitPackedFloatField(value: floatData, fieldNumber: 4) }
        if !int32Data.isEmpty { try visitor.visitPackedInt32Field(value: int32Data, fieldNumber: 5) }
        if !int64Data.isEmpty { try visitor.visitPackedInt64Field(value: int64Data, fieldNumber: 7) }
        if !name.isEmpty { try visitor.visitSingularStringField(value: name, fieldNumber: 8) }
        if !rawData.isEmpty { try visitor.visitSingularBytesField(value: rawData, fieldNumber: 9) }
        if !doubleData.isEmpty { try visitor.visitPackedDoubleField(value: doubleData, fieldNumber: 10) }
        if dataLocation != 0 { try visitor.visitSingularInt32Field(value: dataLocation, fieldNumber: 14) }
    }
}

/// `ValueInfoProto`: only the name matters; shapes are inferred from the input at run time.
struct ONNXValueInfo: ONNXMessage {
    static let protoMessageName = "onnx.ValueInfoProto"
    var name = ""
    var unknownFields = UnknownStorage()

    mutating func decodeMessage<D: Decoder>(decoder: inout D) throws {
        while let field = try decoder.nextFieldNumber() {
            if field == 1 { try decoder.decodeSingularStringField(value: &name) }
        }
    }

    func traverse<V: Visitor>(visitor: inout V) throws {
        if !name.isEmpty { try visitor.visitSingularStringField(value: name, fieldNumber: 1) }
    }
}

/// What every hand-written message shares: equality through `Equatable`.
protocol ONNXMessage: Message, Equatable {}

extension ONNXMessage {
    func isEqualTo(message: any Message) -> Bool {
        guard let other = message as? Self else { return false }
        return self == other
    }

    static func == (lhs: Self, rhs: Self) -> Bool {
        // Byte equality of the encodings; only tests compare messages.
        let left: [UInt8]? = try? lhs.serializedBytes()
        let right: [UInt8]? = try? rhs.serializedBytes()
        return left == right
    }
}
