import VSearchCore

/// Why an image or a source file was not fetched, as one line that names the URL.
public enum FetchError: VSearchError, Equatable {
    /// The bytes could not be had: no such file, a network failure, an HTTP error status, a timeout.
    case failed(url: String, reason: String)
    /// Not fetched because the URL, or a redirect, leads to an address the fetch may not reach.
    case refused(url: String, reason: String)
    /// More bytes than the limit: refused before or while reading them.
    case tooLarge(url: String, reason: String)

    public var description: String {
        switch self {
        case .failed(let url, let reason): return "\(url): cannot fetch: \(reason)"
        case .refused(let url, let reason): return "\(url): refused: \(reason)"
        case .tooLarge(let url, let reason): return "\(url): \(reason)"
        }
    }
}
