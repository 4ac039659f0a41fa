import ArgumentParser
import Catalogue
import Foundation

/// `vsearch remove ID...`: delete items and their vectors.
struct RemoveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove", abstract: "Remove catalogue items (metadata and vectors) by id.")

    @OptionGroup var storeOptions: StoreOptions

    @Argument(help: "Item ids.")
    var ids: [String]

    func run() throws {
        let store = try storeOptions.open(.write)
        let removed = try store.remove(ids: ids)
        try store.checkpoint()
        let missing = Set(ids).subtracting(removed)
        printStatus(
            "remove: \(removed.count) removed"
                + (missing.isEmpty ? "" : "; not in the store: \(missing.sorted().joined(separator: ", "))"))
        if !missing.isEmpty { throw ExitCode(1) }
    }
}
