import ArgumentParser
import Catalogue
import Foundation
import VSearchCore

/// `vsearch ingest SOURCE...`: fetch, decode and featurize catalogue items into a store.
struct IngestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Add catalogue items to a store: seed `title, url` text, metadata.json, CSV, JSON Lines or a folder.",
        discussion: """
            Unchanged items (same URL, image bytes and model) are skipped, changed ones re-embedded. \
            Failed items are listed, one JSON object per line, in a report file under the store's reports/.
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

    @Argument(help: "Sources: .txt (seed `title, url`), .json (metadata.json), .csv, .jsonl, or a folder of images.")
    var sources: [String]

    func run() async throws {
        let featurizer = try modelOptions.loadFeaturizer()
        let store = try storeOptions.open(.write)
        var options = IngestOptions()
        options.fetch.concurrency = max(1, concurrency)
        options.fetch.retries = max(0, retries)
        options.fetch.connectTimeout = .milliseconds(Int(connectTimeout * 1000))
        options.fetch.readTimeout = .milliseconds(Int(readTimeout * 1000))
        options.fetch.maxBytes = maxBytes
        options.fetch.refresh = refresh
        options.prune = prune
        options.reportPath = report
        let summary = try await Ingester(store: store, featurizer: featurizer, options: options)
            .ingest(sources: sources) { VSearchCore.ProgressReporter(label: "ingest", total: $0) }
        printStatus("ingest: \(summary.description)")
        if let path = summary.reportPath, !summary.failures.isEmpty {
            printStatus("ingest: \(summary.failures.count) failures listed in \(path)")
        }
    }
}
