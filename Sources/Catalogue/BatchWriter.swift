import Foundation
import VSearchCore

/// Stores featurized batches behind the network, so that it never waits for the catalogue: for
/// the embedded store on a thread of its own (SQLite and the index log's fsync block), for other
/// backends (PostgreSQL) in a chain of tasks, each awaiting the one before.
///
/// At most `depth` batches wait to be written; ``submit(_:vectors:isNew:)`` suspends the caller
/// (without blocking a thread) when the writer falls that far behind, so memory stays bounded.
/// Batches are written in the order they were submitted. After the first failure the rest are
/// dropped, and ``finish()`` reports it.
///
/// Every block on the queue is done, and released, by the time ``finish()`` returns: the last
/// one is `finish`'s own, and a serial queue releases each block before it runs the next. So
/// nothing of the writer (nor the store and its writer lock) outlives the ingest that used it.
final class BatchWriter: Sendable {
    /// What the writer stored.
    struct Totals: Sendable {
        var added = 0
        var updated = 0
    }

    private let catalogue: any CatalogueBackend
    /// The ingest's share of the items, when it has one: other backends' batches are stored
    /// through it, so that storing an item and settling its claim are one step.
    private let claims: (any IngestClaims)?
    /// The catalogue when it is the embedded store, whose synchronous writes go to ``queue``.
    private let store: CatalogueStore?
    private let queue = DispatchQueue(label: "vsearch.catalogue.batch-writer", qos: .userInitiated)
    /// The last write of another backend; the next one awaits it, which keeps the order.
    private let last = Locked<Task<Void, Never>?>(nil)
    private let slots: AsyncSemaphore
    /// The first failure and what was stored, written on the queue, read by the ingest.
    private let outcome = Locked<(failure: CatalogueError?, totals: Totals)>((nil, Totals()))
    private let written: (@Sendable (Int) -> Void)?

    /// A writer into `catalogue`, through `claims` when given (the embedded store, with its one
    /// writer, is always written directly); `written` is told how many items each stored batch held.
    init(
        catalogue: any CatalogueBackend, claims: (any IngestClaims)? = nil, depth: Int,
        written: (@Sendable (Int) -> Void)? = nil
    ) {
        self.catalogue = catalogue
        self.claims = claims
        self.store = catalogue as? CatalogueStore
        self.slots = AsyncSemaphore(permits: max(1, depth))
        self.written = written
    }

    /// A writer into the embedded `store`.
    convenience init(store: CatalogueStore, depth: Int, written: (@Sendable (Int) -> Void)? = nil) {
        self.init(catalogue: store, depth: depth, written: written)
    }

    /// The first write error, if any.
    var firstFailure: CatalogueError? { outcome.withLock { $0.failure } }

    /// Queues a batch: `vectors` holds one row per item; `isNew[i]` says whether item i was
    /// absent from the store before this ingest (for the summary).
    func submit(_ items: [StagedItem], vectors: [Float], isNew: [Bool]) async {
        guard !items.isEmpty else { return }
        await slots.acquire()
        if let store {
            queue.async { [self] in
                if firstFailure == nil {
                    record(Result { () throws(CatalogueError) in try store.put(items, vectors: vectors) }, items, isNew)
                }
                slots.release()
            }
            return
        }
        last.withLock { last in
            let previous = last
            last = Task { [self] in
                await previous?.value
                if firstFailure == nil {
                    do throws(CatalogueError) {
                        if let claims {
                            try await claims.store(items, vectors: vectors)
                        } else {
                            try await catalogue.put(items, vectors: vectors, onlyNew: false)
                        }
                        record(.success(()), items, isNew)
                    } catch {
                        record(.failure(error), items, isNew)
                    }
                }
                slots.release()
            }
        }
    }

    /// Waits until every queued batch is written; returns what was stored, or the first failure.
    func finish() async -> Result<Totals, CatalogueError> {
        if store != nil {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                queue.async { done.resume() }
            }
        } else {
            await last.withLock { $0 }?.value
        }
        return outcome.withLock { $0.failure.map { .failure($0) } ?? .success($0.totals) }
    }

    private func record(_ result: Result<Void, CatalogueError>, _ items: [StagedItem], _ isNew: [Bool]) {
        if case .failure(let error) = result {
            outcome.withLock { $0.failure = error }
            return
        }
        let added = isNew.count { $0 }
        outcome.withLock {
            $0.totals.added += added
            $0.totals.updated += items.count - added
        }
        written?(items.count)
    }
}
