import Foundation
import VSearchCore

/// Stores featurized batches on a thread of its own, so that the network never waits for SQLite
/// or for the index log's fsync.
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

    private let store: CatalogueStore
    private let queue = DispatchQueue(label: "vsearch.catalogue.batch-writer", qos: .userInitiated)
    private let slots: AsyncSemaphore
    /// The first failure and what was stored, written on the queue, read by the ingest.
    private let outcome = Locked<(failure: CatalogueError?, totals: Totals)>((nil, Totals()))
    private let written: (@Sendable (Int) -> Void)?

    /// A writer into `store`; `written` is told how many items each stored batch held.
    init(store: CatalogueStore, depth: Int, written: (@Sendable (Int) -> Void)? = nil) {
        self.store = store
        self.slots = AsyncSemaphore(permits: max(1, depth))
        self.written = written
    }

    /// The first write error, if any.
    var firstFailure: CatalogueError? { outcome.withLock { $0.failure } }

    /// Queues a batch: `vectors` holds one row per item; `isNew[i]` says whether item i was
    /// absent from the store before this ingest (for the summary).
    func submit(_ items: [StagedItem], vectors: [Float], isNew: [Bool]) async {
        guard !items.isEmpty else { return }
        await slots.acquire()
        queue.async { [self] in
            write(items, vectors: vectors, isNew: isNew)
            slots.release()
        }
    }

    /// Waits until every queued batch is written; returns what was stored, or the first failure.
    func finish() async -> Result<Totals, CatalogueError> {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            queue.async { done.resume() }
        }
        return outcome.withLock { $0.failure.map { .failure($0) } ?? .success($0.totals) }
    }

    private func write(_ items: [StagedItem], vectors: [Float], isNew: [Bool]) {
        guard firstFailure == nil else { return }
        do {
            try store.put(items, vectors: vectors)
        } catch {
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
