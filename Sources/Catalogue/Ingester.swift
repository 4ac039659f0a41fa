import Featurizer
import Foundation
import ImageDecoding
import ImageFetching
import VSearchCore

/// How an ingest runs.
public struct IngestOptions: Sendable {
    public var fetch = FetchOptions()
    /// Remove items that are in the store but in none of the sources.
    public var prune = false
    /// Where the failure report goes; by default a new file in the store's `reports/`.
    public var reportPath: String?
    /// The index the store should keep from now on; nil keeps the store's choice (`.auto` at first).
    public var index: IndexChoice?

    public init() {}
}

/// What an ingest did.
public struct IngestSummary: Sendable {
    public var total = 0
    public var added = 0
    public var updated = 0
    public var unchanged = 0
    /// Items whose title, URL or attributes changed while the image did not: no new vector.
    public var relabelled = 0
    public var pruned = 0
    public var failures: [IngestFailure] = []
    /// Items left without a vector (failed now or in an earlier, interrupted run).
    public var pending = 0
    public var seconds: Double = 0
    /// Time the network spent on batches: the rest of `seconds` it waited for images or for the store.
    public var networkSeconds: Double = 0
    public var reportPath: String?

    /// Items the network ran on per second.
    public var embeddedPerSecond: Double { seconds > 0 ? Double(added + updated) / seconds : 0 }

    public var description: String {
        var text =
            "\(total) items: \(added) added, \(updated) updated, \(unchanged) unchanged, "
            + "\(relabelled) relabelled, \(failures.count) failed"
        if pruned > 0 { text += ", \(pruned) pruned" }
        text += String(format: " in %.1fs (%.1f embedded/s", seconds, embeddedPerSecond)
        if seconds > 0, added + updated > 0 {
            text += String(format: ", network busy %.0f%%", 100 * networkSeconds / seconds)
        }
        text += ")"
        if pending > 0 { text += "; \(pending) items pending" }
        return text
    }
}

/// Fills a store from catalogue sources: fetch, decode and featurize, overlapped.
///
/// Downloads and decodes run `fetch.concurrency` at a time ahead of the network, which takes
/// decoded images in batches of the featurizer's `maxBatch`; a semaphore bounds how far ahead
/// they may run so memory stays flat on large catalogues. Every item's failure is recorded and
/// the rest carry on.
public final class Ingester: Sendable {
    let catalogue: any CatalogueBackend
    /// The catalogue when it is the embedded store, whose index kind and log an ingest also looks after.
    let store: CatalogueStore?
    /// Where downloaded images are kept, and where failure reports go.
    let cacheDirectory: String
    let reportDirectory: String
    let featurizer: Featurizer
    let options: IngestOptions

    /// An ingest into the embedded store, which keeps its cache and reports in its own directory.
    public convenience init(store: CatalogueStore, featurizer: Featurizer, options: IngestOptions = IngestOptions()) {
        self.init(
            catalogue: store, cacheDirectory: store.cacheDirectory, reportDirectory: store.reportDirectory,
            featurizer: featurizer, options: options)
    }

    /// An ingest into any catalogue; `cacheDirectory` keeps downloaded images (so a re-run does not
    /// fetch them again) and `reportDirectory` the failure reports.
    public init(
        catalogue: any CatalogueBackend, cacheDirectory: String, reportDirectory: String, featurizer: Featurizer,
        options: IngestOptions = IngestOptions()
    ) {
        self.catalogue = catalogue
        self.store = catalogue as? CatalogueStore
        self.cacheDirectory = cacheDirectory
        self.reportDirectory = reportDirectory
        self.featurizer = featurizer
        self.options = options
    }

    /// Ingests the items of `sources`.
    public func ingest(sources: [String], progress: ((Int) -> ProgressReporter)? = nil) async throws(CatalogueError)
        -> IngestSummary
    {
        if let choice = options.index, let store { try store.setIndexChoice(choice) }
        try await catalogue.bind(modelID: featurizer.descriptor.id, dimension: featurizer.dimension, switching: false)
        try store?.conformIndex()
        let fetcher = ImageFetcher(options: options.fetch, cacheDirectory: cacheDirectory)
        let listing = await SourceReader.read(sources, fetcher: fetcher)
        var summary = try await run(
            listing.records, earlierFailures: listing.failures, fetcher: fetcher, progress: progress)
        if options.prune {
            if listing.complete {
                let wanted = Set(listing.records.map(\.id))
                let unwanted = try await catalogue.items().map(\.id).filter { !wanted.contains($0) }
                summary.pruned = try await catalogue.remove(ids: unwanted).count
            } else {
                summary.failures.append(
                    IngestFailure(
                        id: nil, url: nil, source: sources.joined(separator: " "), line: nil,
                        reason: "pruning skipped: a source could not be read, so missing items may not be gone"))
            }
        }
        return try await finish(summary)
    }

    /// Recomputes every item's vector with this ingester's model, replacing the store's model.
    public func reindex(progress: ((Int) -> ProgressReporter)? = nil) async throws(CatalogueError) -> IngestSummary {
        try await catalogue.bind(modelID: featurizer.descriptor.id, dimension: featurizer.dimension, switching: true)
        let records = try await catalogue.items().map {
            CatalogueRecord(
                id: $0.id, title: $0.title, url: $0.url, attributes: $0.attributes, source: "store", line: Int($0.key))
        }
        let fetcher = ImageFetcher(options: options.fetch, cacheDirectory: cacheDirectory)
        return try await finish(try await run(records, earlierFailures: [], fetcher: fetcher, progress: progress))
    }

    private func finish(_ summary: IngestSummary) async throws(CatalogueError) -> IngestSummary {
        var summary = summary
        // A rebuilt index is saved whole; otherwise fold this run's log into the snapshot.
        if let store, try !store.conformIndex() { try store.checkpoint() }
        summary.pending = try await catalogue.pendingCount()
        summary.reportPath = writeReport(summary.failures)
        return summary
    }

    // MARK: The pipeline

    private enum Outcome: Sendable {
        case unchanged
        case relabelled
        case failed(IngestFailure)
        case embed(Prepared)
    }

    private struct Prepared: Sendable {
        var record: CatalogueRecord
        var image: Image
        var contentHash: String
        var isNew: Bool
    }

    /// Runs the pipeline on `records`; `fetcher` is shut down when it ends.
    private func run(
        _ records: [CatalogueRecord], earlierFailures: [IngestFailure], fetcher: ImageFetcher,
        progress: ((Int) -> ProgressReporter)?
    ) async throws(CatalogueError) -> IngestSummary {
        let started = Date()
        var summary = IngestSummary()
        summary.failures = earlierFailures
        let unique = deduplicate(records, failures: &summary.failures)
        summary.total = unique.count + summary.failures.count
        let reporter = progress?(unique.count)
        let existing: [String: CatalogueItem]
        do {
            existing = Dictionary(try await catalogue.items().map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        } catch {
            await fetcher.shutdown()
            throw error
        }
        let batchSize = featurizer.options.maxBatch
        let concurrency = max(1, options.fetch.concurrency)
        let permits = AsyncSemaphore(permits: concurrency + 2 * batchSize)
        let (stream, continuation) = AsyncStream<Outcome>.makeStream()
        let producer = Task {
            await withTaskGroup(of: Void.self) { group in
                var running = 0
                for record in unique {
                    await permits.acquire()
                    if running >= concurrency {
                        await group.next()
                        running -= 1
                    }
                    running += 1
                    group.addTask {
                        continuation.yield(await self.prepare(record, existing: existing[record.id], fetcher: fetcher))
                    }
                }
            }
            continuation.finish()
        }
        // Storage writes go to their own thread, a few batches deep, so the network never waits for them.
        let writer = BatchWriter(catalogue: catalogue, depth: 3) { reporter?.advance(by: $0) }
        var batch: [Prepared] = []
        for await outcome in stream {
            switch outcome {
            case .unchanged:
                summary.unchanged += 1
                reporter?.advance()
            case .relabelled:
                summary.relabelled += 1
                reporter?.advance()
            case .failed(let failure):
                summary.failures.append(failure)
                reporter?.advance(failures: 1)
            case .embed(let prepared):
                batch.append(prepared)
                guard batch.count >= batchSize else { continue }
                await embed(&batch, into: writer, summary: &summary, reporter: reporter)
                permits.release(batchSize)
                continue
            }
            permits.release()
        }
        await embed(&batch, into: writer, summary: &summary, reporter: reporter)
        await producer.value
        await fetcher.shutdown()
        let written = await writer.finish()
        reporter?.finish()
        switch written {
        case .success(let totals):
            summary.added += totals.added
            summary.updated += totals.updated
        case .failure(let error):
            throw error
        }
        summary.seconds = Date().timeIntervalSince(started)
        return summary
    }

    /// Keeps the first record of each id; later ones are reported.
    private func deduplicate(_ records: [CatalogueRecord], failures: inout [IngestFailure]) -> [CatalogueRecord] {
        var first: [String: CatalogueRecord] = [:]
        var unique: [CatalogueRecord] = []
        for record in records {
            if let earlier = first[record.id] {
                failures.append(
                    IngestFailure(
                        id: record.id, url: record.url, source: record.source, line: record.line,
                        reason: "duplicate id '\(record.id)': \(earlier.source):\(earlier.line) is kept"))
            } else {
                first[record.id] = record
                unique.append(record)
            }
        }
        return unique
    }

    private func prepare(_ record: CatalogueRecord, existing: CatalogueItem?, fetcher: ImageFetcher) async -> Outcome {
        let fetched: FetchedImage
        do {
            fetched = try await fetcher.fetch(record.url)
        } catch {
            return .failed(failure(record, error.description))
        }
        let hash = ContentHash.hex(fetched.bytes)
        if let existing, existing.state == .ready, existing.modelID == featurizer.descriptor.id,
            existing.contentHash == hash, existing.url == record.url
        {
            if existing.title == record.title, Self.sameJSON(existing.attributes, record.attributes) {
                return .unchanged
            }
            do {
                try await catalogue.updateMetadata(
                    id: record.id, title: record.title, url: record.url, attributes: record.attributes)
                return .relabelled
            } catch {
                return .failed(failure(record, error.description))
            }
        }
        let image: Image
        do {
            image = try featurizer.decode(bytes: fetched.bytes, name: record.url)
        } catch {
            return .failed(failure(record, "not a usable image: \(error.description)"))
        }
        if fetched.isRemote, !fetched.cached { fetcher.remember(fetched.bytes, for: record.url) }
        return .embed(Prepared(record: record, image: image, contentHash: hash, isNew: existing == nil))
    }

    /// Runs the network on a batch and queues it for storing; a batch that fails is handled as the
    /// featurizer's retry policy says (by default one image at a time, so one bad image fails
    /// alone). After a store error nothing more is computed: the batch is dropped, and the writer
    /// reports the error at the end.
    private func embed(
        _ batch: inout [Prepared], into writer: BatchWriter, summary: inout IngestSummary, reporter: ProgressReporter?
    ) async {
        defer { batch.removeAll(keepingCapacity: true) }
        guard !batch.isEmpty, writer.firstFailure == nil else { return }
        var done: [(Prepared, [Float])] = []
        let started = DispatchTime.now().uptimeNanoseconds
        defer { summary.networkSeconds += Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9 }
        let results = featurizer.options.retry.run(batch.map(\.image)) { images throws(FeaturizerError) in
            try featurizer.features(images)
        }
        for (prepared, result) in zip(batch, results) {
            switch result {
            case .success(let vector): done.append((prepared, vector))
            case .failure(let error):
                summary.failures.append(failure(prepared.record, error.description))
                reporter?.advance(failures: 1)
            }
        }
        let staged = done.map { prepared, _ in
            StagedItem(
                id: prepared.record.id, title: prepared.record.title, url: prepared.record.url,
                attributes: prepared.record.attributes, contentHash: prepared.contentHash)
        }
        await writer.submit(staged, vectors: done.flatMap(\.1), isNew: done.map(\.0.isNew))
    }

    /// Whether two JSON texts hold the same value: PostgreSQL keeps attributes as JSONB and gives
    /// them back in its own spelling (key order, spaces), which must not count as a change.
    static func sameJSON(_ a: String, _ b: String) -> Bool {
        if a == b { return true }
        guard let x = try? JSONSerialization.jsonObject(with: Data(a.utf8)) as? NSObject,
            let y = try? JSONSerialization.jsonObject(with: Data(b.utf8)) as? NSObject
        else { return false }
        return x.isEqual(y)
    }

    private func failure(_ record: CatalogueRecord, _ reason: String) -> IngestFailure {
        IngestFailure(id: record.id, url: record.url, source: record.source, line: record.line, reason: reason)
    }

    private func writeReport(_ failures: [IngestFailure]) -> String? {
        let path: String
        if let explicit = options.reportPath {
            path = explicit
        } else {
            let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
            try? FileManager.default.createDirectory(atPath: reportDirectory, withIntermediateDirectories: true)
            path = reportDirectory + "/ingest-\(stamp).jsonl"
        }
        let text = failures.map { $0.jsonLine + "\n" }.joined()
        return FileManager.default.createFile(atPath: path, contents: Data(text.utf8)) ? path : nil
    }
}
