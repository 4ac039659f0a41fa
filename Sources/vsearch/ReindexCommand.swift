import ArgumentParser
import Catalogue
import CataloguePostgres
import Foundation
import VSearchCore

/// `vsearch reindex`: recompute every vector after a model change.
struct ReindexCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reindex",
        abstract: "Recompute every item's vector with the given model (after a model change)."
    )

    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var modelOptions: ModelOptions

    func run() async throws {
        let featurizer = try modelOptions.loadFeaturizer()
        let work = CatalogueOpener.workDirectory(for: storeOptions.directory)
        let summary = try await storeOptions.withCatalogue(.write) { catalogue in
            try await Ingester(
                catalogue: catalogue, cacheDirectory: work + "/cache", reportDirectory: work + "/reports",
                featurizer: featurizer
            ).reindex { VSearchCore.ProgressReporter(label: "reindex", total: $0) }
        }
        printStatus("reindex (\(featurizer.descriptor.id)): \(summary.description)")
        if let path = summary.reportPath, !summary.failures.isEmpty {
            printStatus("reindex: \(summary.failures.count) failures listed in \(path)")
        }
    }
}
