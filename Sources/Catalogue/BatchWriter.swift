import Foundation

/// Stores featurized batches on a thread of its own, so that the network never waits for SQLite
/// or for the index log's fsync.
///
/// At most `depth` batches wait to be written; ``submit(_:vectors:isNew:)`` suspends the caller
/// (without blocking a thread) when the writer falls that far behind, so memory stays bounded.
/// Batches are written in the order they were submitted. After the first failure the rest are
/// dropped, and ``finish()`` reports it.
final class BatchWriter: @unchecked Sendable {
    /// What the writer stored.
    struct Totals: Sendable {
        var added = 0
        var updated = 0
    }

    private let store: CatalogueStore
    private let queue = DispatchQueue(label: "vsearch.catalogue.batch-writer", qos: .userInitiated)
    private let slots: AsyncSemaphore
    private let lock = NSLock()
    private var failure: CatalogueError?
    private var totals = Totals()
    private let written: (@Sendable (Int) -> Void)?

    /// A writer into `store`; `written` is told how many items each stored batch held.
    init(store: CatalogueStore, depth: Int, written: (@Sendable (Int) -> Void)? = nil) {
        self.store = store
        self.slots = AsyncSemaphore(permits: max(1, depth))
        self.written = written
    }

    /// The first write error, if any.
    var firstFailure: CatalogueError? { lock.withLock { failure } }

    /// Queues a batch: `vectors` holds one row per item; `isNew[i]` says whether item i was
    /// absent from the store before this ingest (for the summary).
    func submit(_ items: [StagedItem], vectors: [Float], isNew: [Bool]) async {
        guard !items.isEmpty else { return }
        await slots.acquire()
        queue.async { [self] in
            write(items, vectors: vectors, isNew: isNew)
            Task { await slots.release() }
        }
    }

    /// Waits until every queued batch is written; returns what was stored, or the first failure.
    func finish() async -> Result<Totals, CatalogueError> {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            queue.async { done.resume() }
        }
        return lock.withLock { failure.map { .failure($0) } ?? .success(totals) }
    }

    private func write(_ items: [StagedItem], vectors: [Float], isNew: [Bool]) {
        guard firstFailure == nil else { return }
        do {
            try store.put(items, vectors: vectors)
        } catch {
            lock.withLock { failure = error }
            return
        }
        let added = isNew.count { $0 }
        lock.withLock {
            totals.added += added
            totals.updated += items.count - added
        }
        written?(items.count)
    }
}
