import ArgumentParser
import Catalogue
import CataloguePostgres
import Featurizer
import Foundation
import VSearchCore
import VectorIndex

/// `vsearch ingest SOURCE...`: fetch, decode and featurize catalogue items into a store.
struct IngestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Add catalogue items to a store: seed `title, url` text, metadata.json, CSV, JSON Lines or a folder.",
        discussion: """
            Unchanged items (same URL, image bytes and model) are skipped, changed ones re-embedded. \
            Several ingests of the same sources into one PostgreSQL catalogue share the work: each item is \
            claimed by one of them, and a killed worker's items go to another after --lease seconds. \
            Failed items are listed, one JSON object per line, in a report file under the store's reports/. \
            The store searches exactly (flat) below 20,000 items and switches to HNSW from there (--index).
            """
    )

    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .long, help: "Downloads at once.")
    var concurrency: Int = 8

    @Option(name: .long, help: "Retries for HTTP 5xx answers and timeouts.")
    var retries: Int = 2

    @Option(name: .long, help: "Seconds to wait for a connection.")
    var connectTimeout: Double = 5

    @Option(name: .long, help: "Seconds to wait for the next bytes of an answer.")
    var readTimeout: Double = 15

    @Option(name: .long, help: "Largest image accepted, in bytes.")
    var maxBytes: Int = 20 << 20

    @Flag(name: .long, help: "Download again even when the store's cache has the URL.")
    var refresh = false

    @Flag(name: .long, help: "Remove items that are in the store but in none of the sources.")
    var prune = false

    @Option(name: .long, help: "Write the failure report (JSON Lines) here instead of the store's reports/.")
    var report: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The store's index from now on: flat (exact), hnsw, or auto (flat below --hnsw-threshold items). "
                + "Default: keep the store's choice, auto for a new store."))
    var index: IndexKind?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "With --index auto, the item count from which the store uses HNSW. Default: 20,000; 50,000 for a "
                + "model whose windows share a prefix (the default's) on a CPU with AVX-512 VNNI."))
    var hnswThreshold: Int?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "PostgreSQL: seconds a worker's claim on items lasts unless renewed; a killed worker's items go "
                + "to another worker this long after it died."))
    var lease: Double = 60

    @Argument(
        help: ArgumentHelp(
            "Sources: .txt (seed `title, url`), .json (metadata.json), .csv, .jsonl (local or http(s) URLs), "
                + "or a folder of images."))
    var sources: [String]

    func validate() throws {
        if let hnswThreshold, hnswThreshold < 1 { throw ValidationError("--hnsw-threshold must be at least 1") }
        guard lease >= 1 else { throw ValidationError("--lease must be at least 1 second") }
    }

    func run() async throws {
        let featurizer = try modelOptions.loadFeaturizer()
        try await storeOptions.withCatalogue(.write) { catalogue in try await ingest(into: catalogue, featurizer) }
    }

    private func ingest(into catalogue: any CatalogueBackend, _ featurizer: Featurizer) async throws {
        var options = IngestOptions()
        options.fetch.concurrency = max(1, concurrency)
        options.fetch.retries = max(0, retries)
        options.fetch.connectTimeout = .milliseconds(Int(connectTimeout * 1000))
        options.fetch.readTimeout = .milliseconds(Int(readTimeout * 1000))
        options.fetch.maxBytes = maxBytes
        options.fetch.refresh = refresh
        options.prune = prune
        options.reportPath = report
        options.lease = .milliseconds(Int(lease * 1000))
        // The index kind is the embedded store's choice; PostgreSQL keeps its own (HNSW in pgvector).
        let store = catalogue as? CatalogueStore
        if index != nil || hnswThreshold != nil {
            guard let store else {
                throw CommandError(
                    "--index and --hnsw-threshold choose the embedded store's index; a PostgreSQL catalogue "
                        + "keeps an HNSW index in pgvector (an exact scan over 2,000 dimensions)")
            }
            let current = try store.indexChoice(defaultThreshold: IndexChoice.defaultThreshold(for: featurizer))
            options.index = IndexChoice(
                kind: index ?? current.kind, autoThreshold: hnswThreshold ?? current.autoThreshold)
        }
        let work = CatalogueOpener.workDirectory(for: storeOptions.directory)
        let summary = try await Ingester(
            catalogue: catalogue, cacheDirectory: work + "/cache", reportDirectory: work + "/reports",
            featurizer: featurizer, options: options
        ).ingest(sources: sources) { VSearchCore.ProgressReporter(label: "ingest", total: $0) }
        var status = "ingest: \(summary.description); the store holds \(try await catalogue.count()) items"
        if let kind = store?.indexKind { status += ", \(kind.rawValue) index" }
        printStatus(status)
        if let path = summary.reportPath, !summary.failures.isEmpty {
            printStatus("ingest: \(summary.failures.count) failures listed in \(path)")
        }
    }
}
