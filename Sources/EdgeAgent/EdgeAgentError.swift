import VSearchCore

/// Why the edge agent could not read its source or handle a frame.
public enum EdgeAgentError: VSearchError {
    /// ffmpeg is missing or could not open the input.
    case ffmpeg(input: String, reason: String)
    /// The watched directory or standard input cannot be read.
    case source(name: String, reason: String)
    /// One frame could not be decoded or featurized (the agent carries on).
    case frame(name: String, reason: String)

    public var description: String {
        switch self {
        case .ffmpeg(let input, let reason): return "\(input): ffmpeg: \(reason)"
        case .source(let name, let reason): return "\(name): \(reason)"
        case .frame(let name, let reason): return "\(name): \(reason)"
        }
    }
}
