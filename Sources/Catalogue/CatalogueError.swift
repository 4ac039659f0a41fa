import VSearchCore

/// Everything that can go wrong with a catalogue store or one of its items, as one readable line.
///
/// Errors about one item name the item (its id or source line), so that a report of many
/// failures can be read without the code.
public enum CatalogueError: VSearchError, Equatable {
    /// The store's database or directory could not be used.
    case store(path: String, reason: String)
    /// Another process holds the store's writer lock.
    case busy(path: String)
    /// The store was built with another model; its vectors cannot be compared with this one's.
    case modelMismatch(store: String, model: String)
    /// A source file could not be read or parsed as a whole.
    case source(path: String, reason: String)
    /// One record of a source is unusable.
    case record(source: String, line: Int, reason: String)
    /// An image could not be fetched.
    case fetch(url: String, reason: String)
    /// A URL was not fetched because it, or a redirect, leads to an address the fetch may not reach.
    case refused(url: String, reason: String)
    /// An image was fetched but is not usable.
    case content(url: String, reason: String)
    /// A search request is not valid.
    case query(String)
    /// An item was to be added as new, but one with its id is already in the store.
    case exists(id: String)

    public var description: String {
        switch self {
        case .store(let path, let reason): return "\(path): \(reason)"
        case .busy(let path):
            return "\(path): another vsearch process is writing this store; wait for it to finish"
        case .modelMismatch(let store, let model):
            return
                "the store holds vectors of model '\(store)', not '\(model)'; run `vsearch reindex` to switch models"
        case .source(let path, let reason): return "\(path): \(reason)"
        case .record(let source, let line, let reason): return "\(source):\(line): \(reason)"
        case .fetch(let url, let reason): return "\(url): cannot fetch: \(reason)"
        case .refused(let url, let reason): return "\(url): refused: \(reason)"
        case .content(let url, let reason): return "\(url): \(reason)"
        case .query(let message): return message
        case .exists(let id): return "item '\(id)': already in the catalogue"
        }
    }
}
