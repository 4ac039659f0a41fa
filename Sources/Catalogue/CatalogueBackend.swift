import Foundation
import LocalFeatures

/// What the command-line tool and the server need from a catalogue, whichever backend keeps it.
///
/// There are two backends: ``CatalogueStore``, SQLite and a vector index in one directory (the
/// default, for one machine), and `PostgresCatalogue` in the `CataloguePostgres` module, PostgreSQL
/// with pgvector, which several servers and ingest workers share. Code written against this
/// protocol does not know which one it talks to.
///
/// The requirements are `async` because a database client is: a PostgreSQL round trip must not hold
/// a thread. The embedded store's synchronous methods satisfy them as they are. Every failure is a
/// ``CatalogueError`` whose description is one line naming the store (its directory, or its URL
/// without the password) and, where there is one, the item.
///
/// The protocol has no overloads with default arguments on purpose: the embedded store's own
/// synchronous methods keep their defaults, and an `async` extension method of the same name would
/// be preferred over them in `async` code, turning existing synchronous calls into errors.
public protocol CatalogueBackend: AnyObject, Sendable {
    /// Where the catalogue is, for messages: a directory, or a `postgres://` URL without its password.
    var location: String { get }

    /// The kind of backend, for operators (`/healthz`, `/metrics`): `embedded` or `postgresql`.
    var kind: String { get }

    /// The directory where this process keeps downloaded images (the download cache); for a
    /// catalogue in a database, a directory of this machine's own.
    var cacheDirectory: String { get }

    /// Checks that the catalogue answers: a query to the database, or a read of the store.
    func ping() async throws(CatalogueError)

    /// The bytes of an item's image: an uploaded image from the catalogue itself, an http(s)
    /// image from the download cache, a local path from its file; nil when they are gone or
    /// larger than `maxBytes`.
    func imageBytes(for item: CatalogueItem, maxBytes: Int) async -> [UInt8]?

    /// Keeps image bytes under `url`: an http(s) URL (in the download cache) or an upload key
    /// (``CatalogueStore/uploadedImageKey(contentHash:)``), which the catalogue keeps where every
    /// process that serves it can read it.
    func cacheImage(_ bytes: [UInt8], forURL url: String) async throws(CatalogueError)

    /// How match events reach every process serving this catalogue; nil when one process serves
    /// it alone (the embedded store, which one server writes).
    var matchEventChannel: (any MatchEventChannel)? { get }

    /// The catalogue's model and vector length, nil before the first ingest.
    func binding() async throws(CatalogueError) -> (model: String, dimension: Int)?

    /// Makes `modelID` the catalogue's model. A catalogue without a model takes it; one with
    /// another model refuses with ``CatalogueError/modelMismatch(store:model:)`` unless
    /// `switching`, which marks every item pending and drops every vector (also for the same
    /// model, so that a reindex recomputes them all).
    func bind(modelID: String, dimension: Int, switching: Bool) async throws(CatalogueError)

    /// Stores items with their vectors (`vectors` row-major, one per item). An item whose id is
    /// stored is replaced, unless `onlyNew`: then nothing is written and the call throws
    /// ``CatalogueError/exists(id:)``; of two writers creating one id at once, exactly one wins.
    func put(_ staged: [StagedItem], vectors: [Float], onlyNew: Bool) async throws(CatalogueError)

    /// Changes an item's title, URL or attributes (a JSON object) without touching its vector.
    func updateMetadata(id: String, title: String, url: String, attributes: String) async throws(CatalogueError)

    /// Removes items and their vectors; returns the ids that were present, in the order given.
    func remove(ids: [String]) async throws(CatalogueError) -> [String]

    /// The item with this id, if any.
    func item(id: String) async throws(CatalogueError) -> CatalogueItem?

    /// Every item in catalogue order: numeric ids numerically first, then the rest by id.
    func items() async throws(CatalogueError) -> [CatalogueItem]

    /// One page of ``items()``, in the same order.
    func items(offset: Int, limit: Int) async throws(CatalogueError) -> [CatalogueItem]

    /// How many items the catalogue holds.
    func count() async throws(CatalogueError) -> Int

    /// How many items wait for a vector.
    func pendingCount() async throws(CatalogueError) -> Int

    /// The vector stored for an item; nil when the item is unknown or pending.
    func vector(ofItem id: String) async throws(CatalogueError) -> [Float]?

    /// The local features stored with an item (`DescriptorSpec.verify`); nil when the item is unknown,
    /// has none, or its stored bytes do not decode.
    func localFeatures(ofItem id: String) async throws(CatalogueError) -> LocalFeatures?

    /// The best matches for each query vector, best first; `modelID` names the model the queries
    /// come from, and a catalogue of another model refuses, because their scores mean nothing.
    func search(_ queries: [[Float]], modelID: String, query: CatalogueQuery) async throws(CatalogueError)
        -> [[CatalogueMatch]]

    /// The best matches for each query of one or more vectors (a picture and its regions), where
    /// an item scores its best score over the query's vectors (see ``CatalogueQuery/mergeRegions(_:sizes:)``).
    func search(regions queries: [[[Float]]], modelID: String, query: CatalogueQuery) async throws(CatalogueError)
        -> [[CatalogueMatch]]

    /// Registers the ids of an ingest's sources and returns this process's share of them (see
    /// ``IngestClaims``). Several processes ingesting the same sources get disjoint shares; a
    /// share whose worker stops renewing it for `lease` goes to another worker. The default,
    /// for a catalogue with a single writer, hands every item to the one ingest
    /// (``ClaimEverything``).
    func ingestClaims(ids: [String], lease: Duration) async throws(CatalogueError) -> any IngestClaims

    /// Appends match events (oldest first) and keeps only the newest `limit`.
    func saveMatchEvents(_ events: [StoredMatchEvent], keepingLast limit: Int) async throws(CatalogueError)

    /// The newest `limit` match events, newest first.
    func recentMatchEvents(limit: Int) async throws(CatalogueError) -> [StoredMatchEvent]

    /// A value that changes when another process changes the catalogue, so a long-lived reader
    /// knows when to reload what it keeps in memory.
    func changeToken() async throws(CatalogueError) -> String

    /// Releases connections and background work; the backend is not used afterwards.
    func close() async
}

extension CatalogueQuery {
    /// Merges the result lists of a region search into one list per query.
    ///
    /// `lists` holds one list per vector, the queries' vectors one after the other; `sizes[i]` says
    /// how many vectors query i has. Every vector but a query's first has ``windowPenalty``
    /// subtracted, ``minScore`` applies to the penalised score, and an item keeps its best score.
    /// Each vector searched for `k` hits is enough: an item among the `k` best by its best score is
    /// among the `k` best of the vector that gives it that score (exactly so for an exact search).
    public func mergeRegions(_ lists: [[CatalogueMatch]], sizes: [Int]) -> [[CatalogueMatch]] {
        var results: [[CatalogueMatch]] = []
        var next = 0
        for size in sizes {
            let best = bestScores(lists[next..<(next + size)], key: \.id, score: \.score)
            next += size
            let ranked = best.values.map { best in
                var match = best.hit
                match.score = best.score
                return match
            }.sorted { $0.score != $1.score ? $0.score > $1.score : $0.id < $1.id }
            results.append(Array(ranked.prefix(k)))
        }
        return results
    }

    /// One query's hits, from one list per vector, each item once with its best score: every list
    /// but the first has ``windowPenalty`` subtracted, and scores under ``minScore`` are dropped.
    /// The rule every backend's region merge follows, whatever its hits are.
    func bestScores<Hit, Key: Hashable>(
        _ lists: some Sequence<[Hit]>, key: (Hit) -> Key, score: (Hit) -> Float
    ) -> [Key: (hit: Hit, score: Float)] {
        var best: [Key: (hit: Hit, score: Float)] = [:]
        for (offset, hits) in lists.enumerated() {
            for hit in hits {
                let penalised = offset > 0 ? score(hit) - windowPenalty : score(hit)
                if let minScore, penalised < minScore { continue }
                if penalised > best[key(hit)]?.score ?? -.infinity { best[key(hit)] = (hit, penalised) }
            }
        }
        return best
    }
}

/// Match events shared by every server process of one catalogue.
///
/// Several replicas of the server serve one catalogue behind a load balancer, and a page connected
/// to one of them must see the searches made through all of them. The catalogue numbers the
/// events, so their ids are unique and ordered across processes, keeps their history, and
/// announces each one to every listening process once it is committed.
public protocol MatchEventChannel: Sendable {
    /// The next event number, never given to any other process.
    func nextMatchEventNumber() async throws(CatalogueError) -> Int

    /// Records an event in the history, keeps the newest `limit`, and announces it to every
    /// listener (this process's too) when the transaction commits.
    func announceMatchEvent(_ event: StoredMatchEvent, keepingLast limit: Int) async throws(CatalogueError)

    /// One event of the history, with its query picture when one was saved.
    func matchEvent(id: String) async throws(CatalogueError) -> StoredMatchEvent?

    /// Listens for announced events until the task is cancelled, reconnecting after a lost
    /// connection. `connected` is called each time listening (re)starts, before any event that
    /// follows it, so that the caller can read the history it may have missed; `received` is
    /// called with every announced event, in commit order.
    func listenForMatchEvents(
        connected: @escaping @Sendable () async -> Void, received: @escaping @Sendable (StoredMatchEvent) async -> Void)
        async
}

extension CatalogueStore: CatalogueBackend {
    public var location: String { directory }

    public var kind: String { "embedded" }

    /// A read of the database file: the store answers when SQLite can read it.
    public func ping() throws(CatalogueError) { _ = try count() }

    /// None: one server writes an embedded store, and its events live in that server.
    public var matchEventChannel: (any MatchEventChannel)? { nil }

    /// The index change token (see ``indexChangeToken``): SQLite readers see every commit, so only
    /// the index, which a reader loads once, needs reloading.
    public func changeToken() -> String { indexChangeToken }

}
