import Catalogue
import Foundation
import VSearchCore

/// The server's catalogue, whichever backend keeps it: what the routes read and write through.
///
/// The routes call the backend's methods and never ask which backend it is. What differs is who
/// may write and when to look again: an embedded store has one writer at a time and a vector
/// index loaded in memory (``StoreAccess``), while a catalogue in a database is written by every
/// server replica at once and read afresh by every query (``SharedCatalogue``).
protocol ServerCatalogue: Sendable {
    /// The backend to read from now.
    var reader: any CatalogueBackend { get }

    /// The backend for a write; 409 while this server cannot write.
    func writer() async throws(APIError) -> any CatalogueBackend

    /// Whether the server can change the catalogue now.
    var isWritable: Bool { get }

    /// Whether an item's image missing here is fetched again from its URL: each replica of a shared
    /// catalogue has its own download cache, so it may lack images another replica fetched.
    var fetchesMissingImages: Bool { get }

    /// Looks again for other processes' changes; returns whether anything was reloaded.
    @discardableResult
    func refreshIfChanged() async -> Bool
}

/// A catalogue every replica writes and reads directly, such as one in PostgreSQL.
///
/// Nothing of the catalogue is kept in memory here, so a write through any replica is what the
/// next request to any other reads; there is nothing to refresh.
final class SharedCatalogue: ServerCatalogue {
    let backend: any CatalogueBackend

    init(_ backend: any CatalogueBackend) { self.backend = backend }

    var reader: any CatalogueBackend { backend }

    func writer() -> any CatalogueBackend { backend }

    var isWritable: Bool { true }

    var fetchesMissingImages: Bool { true }

    func refreshIfChanged() -> Bool { false }
}

/// The server's catalogue store, reopened when another process changes it.
///
/// The server writes the store itself when it can take the writer lock. When an ingest holds
/// the lock, the server opens the store for reading, answers writes with 409, and reopens the
/// store when the index's files change (``refreshIfChanged()``), so that items the ingest adds
/// become searchable within the refresh interval. Once the ingest has ended (its writer lock is
/// free) the next refresh, or the next write request, opens the store for writing again.
final class StoreAccess: ServerCatalogue {
    private struct Current {
        var store: CatalogueStore
        var token: String
    }

    let directory: String
    private let current: Locked<Current>

    init(_ store: CatalogueStore) {
        directory = store.directory
        current = Locked(Current(store: store, token: store.indexChangeToken))
    }

    /// Opens the store for writing, or for reading when another process is writing it.
    static func open(directory: String) throws(CatalogueError) -> StoreAccess {
        do {
            return StoreAccess(try CatalogueStore.open(directory: directory, mode: .write))
        } catch .busy {
            return StoreAccess(try CatalogueStore.open(directory: directory, mode: .read))
        }
    }

    var store: CatalogueStore { current.withLock { $0.store } }

    var isWritable: Bool { store.mode == .write }

    var reader: any CatalogueBackend { store }

    /// An embedded store's cache holds every image its ingest and its server fetched.
    var fetchesMissingImages: Bool { false }

    func writer() throws(APIError) -> any CatalogueBackend { try writableStore() }

    /// The store, for a write; 409 while another process holds the writer lock.
    func writableStore() throws(APIError) -> CatalogueStore {
        let store = self.store
        if store.mode == .write { return store }
        if upgrade() { return self.store }
        throw APIError(
            .conflict, "store_read_only",
            "\(directory): another process (an ingest) is writing this store; the server only reads it "
                + "until that process ends")
    }

    /// Reopens a read-only store: for writing when the writer lock has become free, or for
    /// reading when another process changed the index. Returns whether it reopened.
    ///
    /// Stores are opened outside the mutex (opening waits for the index lock, which an ingest's
    /// checkpoint may hold for a while), so requests never queue behind a reopen.
    @discardableResult
    func refreshIfChanged() -> Bool {
        let old = current.withLock { $0 }
        guard old.store.mode == .read else { return false }
        if upgrade() { return true }
        let now = old.store.indexChangeToken
        guard now != old.token,
            let reopened = try? CatalogueStore.open(directory: directory, mode: .read, logger: old.store.logger)
        else {
            return false
        }
        return current.withLock { current in
            guard current.store === old.store else { return false }  // someone else reopened meanwhile
            current = Current(store: reopened, token: now)
            return true
        }
    }

    /// Opens the store for writing if no other process holds the writer lock; returns whether
    /// the server can write now. Only one open can succeed while the lock is held, so two
    /// requests upgrading at once cannot both install a store.
    private func upgrade() -> Bool {
        if store.mode == .write { return true }
        // Busy is the expected answer while the ingest runs; any other failure leaves the
        // server reading, as it was, and the next refresh tries again.
        guard let writable = try? CatalogueStore.open(directory: directory, mode: .write, logger: store.logger) else {
            return isWritable
        }
        current.withLock { $0 = Current(store: writable, token: writable.indexChangeToken) }
        return true
    }
}
