import ArgumentParser
import Catalogue
import Foundation

/// `vsearch remove ID...`: delete items and their vectors.
struct RemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove", abstract: "Remove catalogue items (metadata and vectors) by id.")

    @OptionGroup var storeOptions: StoreOptions

    @Argument(help: "Item ids.")
    var ids: [String]

    func run() async throws {
        let removed = try await storeOptions.withCatalogue(.write) { catalogue in
            let removed = try await catalogue.remove(ids: ids)
            // The embedded store folds its index log into a snapshot, so the next open is fast.
            try (catalogue as? CatalogueStore)?.checkpoint()
            return removed
        }
        let missing = Set(ids).subtracting(removed)
        printStatus(
            "remove: \(removed.count) removed"
                + (missing.isEmpty ? "" : "; not in the store: \(missing.sorted().joined(separator: ", "))"))
        if !missing.isEmpty { throw ExitCode(1) }
    }
}
