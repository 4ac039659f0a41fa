import VSearchCore

/// Why an image could not be encoded; the case names the image.
public enum ImageEncodingError: VSearchError, Equatable {
    /// libjpeg refused the pixels or ran out of memory.
    case jpeg(name: String)

    public var description: String {
        switch self {
        case .jpeg(let name): return "\(name): cannot encode as JPEG"
        }
    }
}
