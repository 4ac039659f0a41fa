import Catalogue
import Foundation

/// The server's catalogue store, reopened when another process changes it.
///
/// The server writes the store itself when it can take the writer lock. When an ingest holds
/// the lock, the server opens the store for reading, answers writes with 409, and reopens the
/// store when the index's files change (``refreshIfChanged()``), so that items the ingest adds
/// become searchable within the refresh interval.
final class StoreAccess: @unchecked Sendable {
    let directory: String
    private let lock = NSLock()
    private var current: CatalogueStore
    private var token: String

    init(_ store: CatalogueStore) {
        directory = store.directory
        current = store
        token = store.indexChangeToken
    }

    /// Opens the store for writing, or for reading when another process is writing it.
    static func open(directory: String) throws(CatalogueError) -> StoreAccess {
        do {
            return StoreAccess(try CatalogueStore.open(directory: directory, mode: .write))
        } catch .busy {
            return StoreAccess(try CatalogueStore.open(directory: directory, mode: .read))
        }
    }

    var store: CatalogueStore { lock.withLock { current } }

    var isWritable: Bool { store.mode == .write }

    /// The store, for a write; 409 when another process holds the writer lock.
    func writableStore() throws(APIError) -> CatalogueStore {
        let store = self.store
        guard store.mode == .write else {
            throw APIError(
                .conflict, "store_read_only",
                "\(directory): another process (an ingest) is writing this store; the server only reads it, "
                    + "so items cannot be changed until that process ends and the server restarts")
        }
        return store
    }

    /// Reopens a read-only store whose index another process changed; returns whether it did.
    @discardableResult
    func refreshIfChanged() -> Bool {
        let store = self.store
        guard store.mode == .read else { return false }
        let now = store.indexChangeToken
        guard now != lock.withLock({ token }) else { return false }
        guard let reopened = try? CatalogueStore.open(directory: directory, mode: .read) else { return false }
        lock.withLock {
            current = reopened
            token = now
        }
        return true
    }
}
