import Featurizer
import Foundation
import ImageDecoding
import ImageFetching
import LocalFeatures
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
    /// How long a worker's claim on items lasts without being renewed, when several ingest
    /// processes share the sources (PostgreSQL): a worker renews its claims while it runs, so
    /// this is how soon another takes over the items of one that was killed.
    public var lease: Duration = .seconds(60)

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
    /// Items of the sources that other ingest processes took (see ``IngestClaims``).
    public var elsewhere = 0
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
        if elsewhere > 0 { text += ", \(elsewhere) by other workers" }
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
        try store?.conformIndex(defaultThreshold: IndexChoice.defaultThreshold(for: featurizer))
        let fetcher = ImageFetcher(options: options.fetch, cacheDirectory: cacheDirectory)
        let listing = await SourceReader.read(sources, fetcher: fetcher)
        var summary = try await run(
            listing.records, earlierFailures: listing.failures, fetcher: fetcher, shared: true, progress: progress)
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
        let summary = try await run(records, earlierFailures: [], fetcher: fetcher, shared: false, progress: progress)
        return try await finish(summary)
    }

    private func finish(_ summary: IngestSummary) async throws(CatalogueError) -> IngestSummary {
        var summary = summary
        // A rebuilt index is saved whole; otherwise fold this run's log into the snapshot.
        if let store, try !store.conformIndex(defaultThreshold: IndexChoice.defaultThreshold(for: featurizer)) {
            try store.checkpoint()
        }
        summary.pending = try await catalogue.pendingCount()
        summary.reportPath = writeReport(summary.failures)
        return summary
    }

    // MARK: The pipeline

    private enum Outcome: Sendable {
        case unchanged(id: String)
        case relabelled(id: String)
        case failed(IngestFailure)
        case embed(Prepared)
        /// The producer is about to wait for other workers: embed what is waiting for a full
        /// batch and settle what is done, so that no worker waits for items this one holds.
        case flush
    }

    private struct Prepared: Sendable {
        var record: CatalogueRecord
        var image: Image
        var contentHash: String
        var isNew: Bool
        var localFeatures: LocalFeatures?
    }

    /// Runs the pipeline on `records`; `fetcher` is shut down when it ends. When `shared`, the
    /// catalogue's ``IngestClaims`` decide which of them this process does (other ingests of the
    /// same sources do the rest); otherwise it does them all.
    private func run(
        _ records: [CatalogueRecord], earlierFailures: [IngestFailure], fetcher: ImageFetcher, shared: Bool,
        progress: ((Int) -> ProgressReporter)?
    ) async throws(CatalogueError) -> IngestSummary {
        let started = Date()
        var summary = IngestSummary()
        summary.failures = earlierFailures
        let unique = deduplicate(records, failures: &summary.failures)
        let readingFailures = summary.failures.count
        let byID = Dictionary(unique.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let reporter = progress?(unique.count)
        let claims: any IngestClaims
        do throws(CatalogueError) {
            let ids = unique.map(\.id)
            claims =
                shared
                ? try await catalogue.ingestClaims(ids: ids, lease: options.lease)
                : ClaimEverything(catalogue: catalogue, ids: ids)
        } catch {
            await fetcher.shutdown()
            throw error
        }
        let batchSize = featurizer.options.maxBatch
        let concurrency = max(1, options.fetch.concurrency)
        let permits = AsyncSemaphore(permits: concurrency + 2 * batchSize)
        // Storage writes go to their own thread, a few batches deep, so the network never waits for them.
        let writer = BatchWriter(catalogue: catalogue, claims: claims, depth: 3) { reporter?.advance(by: $0) }
        let claimFailure = Locked<CatalogueError?>(nil)
        let (stream, continuation) = AsyncStream<Outcome>.makeStream()
        let producer = Task {
            await withTaskGroup(of: Void.self) { group in
                var running = 0
                while writer.firstFailure == nil {
                    let claimed: [IngestClaim]
                    do throws(CatalogueError) {
                        claimed = try await claims.claim(limit: batchSize)
                        if claimed.isEmpty {
                            await group.waitForAll()
                            running = 0
                            continuation.yield(.flush)
                            guard try await claims.waitForWork() else { break }
                            continue
                        }
                    } catch {
                        claimFailure.withLock { $0 = error }
                        break
                    }
                    for claim in claimed {
                        guard let record = byID[claim.id] else { continue }
                        await permits.acquire()
                        if running >= concurrency {
                            await group.next()
                            running -= 1
                        }
                        running += 1
                        group.addTask {
                            continuation.yield(await self.prepare(record, existing: claim.stored, fetcher: fetcher))
                        }
                    }
                }
            }
            continuation.finish()
        }
        var batch: [Prepared] = []
        var settled: [String] = []
        var handled = 0
        for await outcome in stream {
            switch outcome {
            case .unchanged(let id):
                summary.unchanged += 1
                settled.append(id)
                reporter?.advance()
            case .relabelled(let id):
                summary.relabelled += 1
                settled.append(id)
                reporter?.advance()
            case .failed(let failure):
                summary.failures.append(failure)
                if let id = failure.id { settled.append(id) }
                reporter?.advance(failures: 1)
            case .embed(let prepared):
                handled += 1
                batch.append(prepared)
                guard batch.count >= batchSize else { continue }
                await embed(&batch, into: writer, summary: &summary, settled: &settled, reporter: reporter)
                permits.release(batchSize)
                continue
            case .flush:
                permits.release(batch.count)
                await embed(&batch, into: writer, summary: &summary, settled: &settled, reporter: reporter)
                await settle(&settled, claims, failure: claimFailure)
                continue
            }
            handled += 1
            permits.release()
            if settled.count >= batchSize { await settle(&settled, claims, failure: claimFailure) }
        }
        await embed(&batch, into: writer, summary: &summary, settled: &settled, reporter: reporter)
        await producer.value
        await fetcher.shutdown()
        let written = await writer.finish()
        await settle(&settled, claims, failure: claimFailure)
        await claims.end()
        summary.total = handled + readingFailures
        summary.elsewhere = max(0, unique.count - handled)
        reporter?.advance(by: summary.elsewhere)
        reporter?.finish()
        switch written {
        case .success(let totals):
            summary.added += totals.added
            summary.updated += totals.updated
        case .failure(let error):
            throw error
        }
        if let error = claimFailure.withLock({ $0 }) { throw error }
        summary.seconds = Date().timeIntervalSince(started)
        return summary
    }

    /// Tells the claims that `ids` are settled; a failure is kept for the end of the ingest, and
    /// the items are then taken again by the next worker, which finds them stored.
    private func settle(_ ids: inout [String], _ claims: any IngestClaims, failure: Locked<CatalogueError?>) async {
        guard !ids.isEmpty else { return }
        defer { ids.removeAll(keepingCapacity: true) }
        do throws(CatalogueError) {
            try await claims.settle(ids: ids)
        } catch {
            failure.withLock { $0 = $0 ?? error }
        }
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
                return .unchanged(id: record.id)
            }
            do {
                try await catalogue.updateMetadata(
                    id: record.id, title: record.title, url: record.url, attributes: record.attributes)
                return .relabelled(id: record.id)
            } catch {
                return .failed(failure(record, error.description))
            }
        }
        let decoded: ImageWithAlpha
        do {
            decoded = try featurizer.decodeWithAlpha(bytes: fetched.bytes, name: record.url)
        } catch {
            return .failed(failure(record, "not a usable image: \(error.description)"))
        }
        let image = decoded.image
        if fetched.isRemote, !fetched.cached { fetcher.remember(fetched.bytes, for: record.url) }
        // Described here, on the fetch workers, so the network's thread does not wait for it; a product
        // shot with alpha only inside its outline.
        let features = featurizer.localFeatures(of: image, alpha: decoded.alpha)
        return .embed(
            Prepared(
                record: record, image: image, contentHash: hash, isNew: existing == nil, localFeatures: features))
    }

    /// Runs the network on a batch and queues it for storing; a batch that fails is handled as the
    /// featurizer's retry policy says (by default one image at a time, so one bad image fails
    /// alone). After a store error nothing more is computed: the batch is dropped, and the writer
    /// reports the error at the end.
    private func embed(
        _ batch: inout [Prepared], into writer: BatchWriter, summary: inout IngestSummary, settled: inout [String],
        reporter: ProgressReporter?
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
                settled.append(prepared.record.id)
                reporter?.advance(failures: 1)
            }
        }
        let staged = done.map { prepared, _ in
            StagedItem(
                id: prepared.record.id, title: prepared.record.title, url: prepared.record.url,
                attributes: prepared.record.attributes, contentHash: prepared.contentHash,
                localFeatures: prepared.localFeatures)
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
