import VSearchCore

/// A model description that cannot drive preprocessing, or a tensor of the wrong shape.
public enum PreprocessingError: VSearchError, Equatable {
    /// `model.json`'s input section is unusable; the reason says which field.
    case invalidSpec(reason: String)
    /// The destination does not have the shape the model's input needs.
    case shapeMismatch(expected: [Int], actual: [Int])
    /// A batch slot past the end of the batch.
    case indexOutOfRange(index: Int, batchSize: Int)

    public var description: String {
        switch self {
        case .invalidSpec(let reason):
            return "model input description: \(reason)"
        case .shapeMismatch(let expected, let actual):
            return "input tensor has shape \(actual), the model needs \(expected)"
        case .indexOutOfRange(let index, let batchSize):
            return "batch slot \(index) is outside a batch of \(batchSize)"
        }
    }
}
