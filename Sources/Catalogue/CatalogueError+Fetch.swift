import ImageFetching

extension CatalogueError {
    /// A failed fetch as the catalogue reports it: the same line, in the catalogue's own cases, so that
    /// an ingest's failures and the server's answers keep one vocabulary.
    init(_ error: FetchError) {
        switch error {
        case .failed(let url, let reason): self = .fetch(url: url, reason: reason)
        case .refused(let url, let reason): self = .refused(url: url, reason: reason)
        case .tooLarge(let url, let reason): self = .content(url: url, reason: reason)
        }
    }
}
