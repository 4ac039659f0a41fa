import Foundation
import VSearchCore

/// One item an ingest worker has claimed: its id, and the item as the catalogue held it when
/// the claim was made, nil when it is not stored yet.
///
/// The stored item is read after claiming, not from a listing made when the ingest started, so
/// that an item another worker stored in the meantime is recognised as stored (and not embedded
/// a second time) when its content hash, URL and model match.
public struct IngestClaim: Sendable {
    public var id: String
    public var stored: CatalogueItem?

    public init(id: String, stored: CatalogueItem?) {
        self.id = id
        self.stored = stored
    }
}

/// The share of an ingest one process works on, when several processes ingest the same
/// sources into one catalogue at once.
///
/// An ingest registers the ids of its sources when it asks its catalogue for claims (see
/// ``CatalogueBackend/ingestClaims(ids:lease:)``), then takes them a batch at a time with
/// ``claim(limit:)`` until none is left (then ``waitForWork()``); it stores what it embedded with ``store(_:vectors:)``
/// and reports every other claimed item settled (unchanged, relabelled or failed) with
/// ``settle(ids:)``. A backend with a single writer hands one ingest every item
/// (``ClaimEverything``); PostgreSQL shares them among workers through a table, with leases
/// that expire when a worker dies, so that its items go to another.
public protocol IngestClaims: Sendable {
    /// Up to `limit` items for this worker, in the order of the sources; none when nothing is
    /// free to claim now. Never waits for other workers.
    func claim(limit: Int) async throws(CatalogueError) -> [IngestClaim]

    /// After ``claim(limit:)`` found nothing: waits while other live workers hold items, and says
    /// whether any became free to claim (a worker died, or handed its share back). False when
    /// every item is settled or held by this worker, so that an ingest ends only once its
    /// sources are ingested as a whole. The caller stores and settles what it holds first:
    /// workers waiting for each other's unsettled items would otherwise wait for ever.
    func waitForWork() async throws(CatalogueError) -> Bool

    /// Stores claimed items with their vectors (row-major, one per item) and settles them, in one
    /// step: an item is never settled without being stored.
    func store(_ staged: [StagedItem], vectors: [Float]) async throws(CatalogueError)

    /// Settles claimed items that needed no new vector, or failed.
    func settle(ids: [String]) async throws(CatalogueError)

    /// Ends this worker's share: stops renewing its leases and hands back what it claimed and did
    /// not settle, so that another worker takes it at once rather than when the lease expires.
    func end() async
}

/// The claims of a catalogue with a single writer: one ingest takes every item at once, with
/// the catalogue's items as they were when it first claimed.
public final class ClaimEverything: IngestClaims {
    private let catalogue: any CatalogueBackend
    /// The ids still to hand out: all of them until the first claim, then none.
    private let remaining: Locked<[String]>

    public init(catalogue: any CatalogueBackend, ids: [String]) {
        self.catalogue = catalogue
        self.remaining = Locked(ids)
    }

    /// Every item on the first call, whatever `limit`: the ingest bounds its own memory, and one
    /// listing of the catalogue answers for all of them.
    public func claim(limit: Int) async throws(CatalogueError) -> [IngestClaim] {
        let ids = remaining.withLock { ids in
            defer { ids = [] }
            return ids
        }
        guard !ids.isEmpty else { return [] }
        let stored = Dictionary(try await catalogue.items().map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        return ids.map { IngestClaim(id: $0, stored: stored[$0]) }
    }

    public func store(_ staged: [StagedItem], vectors: [Float]) async throws(CatalogueError) {
        try await catalogue.put(staged, vectors: vectors, onlyNew: false)
    }

    public func waitForWork() async throws(CatalogueError) -> Bool { false }

    public func settle(ids: [String]) async throws(CatalogueError) {}

    public func end() async {}
}

extension CatalogueBackend {
    /// Every item to one ingest: the right share for a catalogue that has one writer at a time.
    public func ingestClaims(ids: [String], lease: Duration) async throws(CatalogueError) -> any IngestClaims {
        ClaimEverything(catalogue: self, ids: ids)
    }
}
