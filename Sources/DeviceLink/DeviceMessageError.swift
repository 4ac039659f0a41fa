import VSearchCore

/// Why a device's feature message was not accepted; every case names the topic it came on.
public enum DeviceMessageError: VSearchError, Equatable {
    /// The payload is larger than the limit.
    case tooLarge(topic: String, bytes: Int, limit: Int)
    /// Not JSON, or JSON without the fields of either payload format.
    case malformed(topic: String, reason: String)
    /// The features come from another model than the server's.
    case wrongModel(topic: String, model: String, expected: String)
    /// The vector's length is not the model's dimension.
    case wrongDimension(topic: String, count: Int, expected: Int)
    /// A feature is NaN or infinite.
    case notFinite(topic: String, index: Int)

    public var description: String {
        switch self {
        case .tooLarge(let topic, let bytes, let limit):
            return "\(topic): message of \(bytes) bytes is larger than the limit of \(limit)"
        case .malformed(let topic, let reason): return "\(topic): malformed message: \(reason)"
        case .wrongModel(let topic, let model, let expected):
            return "\(topic): features from model \(model), this server uses \(expected)"
        case .wrongDimension(let topic, let count, let expected):
            return "\(topic): \(count) features, the model gives \(expected)"
        case .notFinite(let topic, let index): return "\(topic): feature \(index) is NaN or infinite"
        }
    }

    /// A short stable name for metrics labels: `too_large`, `malformed`, `wrong_model`, `wrong_dimension`,
    /// `not_finite`.
    public var kind: String {
        switch self {
        case .tooLarge: return "too_large"
        case .malformed: return "malformed"
        case .wrongModel: return "wrong_model"
        case .wrongDimension: return "wrong_dimension"
        case .notFinite: return "not_finite"
        }
    }
}
