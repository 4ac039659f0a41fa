import VSearchCore

/// Why a model could not be loaded or run, as one line naming the file, node or tensor.
public enum CNNRuntimeError: VSearchError, Equatable {
    /// The model file could not be read.
    case unreadable(path: String, reason: String)
    /// The bytes are not a valid ONNX model, or the graph is inconsistent (cycles, missing tensors, bad sizes).
    case invalidModel(path: String, reason: String)
    /// The graph uses an operator this runtime does not implement.
    case unsupportedOperator(path: String, operator: String, node: String)
    /// A supported operator is used in a way this runtime does not implement.
    case unsupportedNode(path: String, node: String, reason: String)
    /// A requested output names no tensor of the graph.
    case unknownTensor(path: String, name: String)
    /// The input given to `run` does not fit the model.
    case invalidInput(path: String, reason: String)
    /// oneDNN refused an operation; `status` is its `dnnl_status_t`.
    case backend(path: String, operation: String, status: Int)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason):
            return "cannot read model \(path): \(reason)"
        case .invalidModel(let path, let reason):
            return "invalid ONNX model \(path): \(reason)"
        case .unsupportedOperator(let path, let op, let node):
            return "model \(path): unsupported operator \(op) in node '\(node)'"
        case .unsupportedNode(let path, let node, let reason):
            return "model \(path): node '\(node)' is not supported: \(reason)"
        case .unknownTensor(let path, let name):
            return "model \(path) has no tensor named '\(name)'"
        case .invalidInput(let path, let reason):
            return "model \(path): invalid input: \(reason)"
        case .backend(let path, let operation, let status):
            return "model \(path): oneDNN failed (status \(status)) in \(operation)"
        }
    }
}
