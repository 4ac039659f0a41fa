import VSearchCore

/// Why an evaluation could not go on, as one line that names the photo, query or file.
public enum EvalError: VSearchError, Equatable {
    /// A query picture could not be made from its photo (`name`).
    case query(name: String, reason: String)
    /// An item's photo is not where the store keeps it.
    case photo(url: String, reason: String)
    /// A file the evaluation writes (a query image) could not be written.
    case write(path: String, reason: String)
    /// The evaluation set cannot make what was asked of it.
    case set(String)

    public var description: String {
        switch self {
        case .query(let name, let reason): return "\(name): \(reason)"
        case .photo(let url, let reason): return "\(url): \(reason)"
        case .write(let path, let reason): return "\(path): \(reason)"
        case .set(let message): return message
        }
    }
}
