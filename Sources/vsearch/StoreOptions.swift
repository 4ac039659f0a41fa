import ArgumentParser
import Catalogue
import Foundation
import VSearchCore

/// The option of every command that uses a catalogue store.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: "Store directory. Default: $VSEARCH_STORE, then ./vsearch-data.")
    var store: String?

    var directory: String { CatalogueStore.resolveDirectory(store) }

    func open(_ mode: CatalogueStore.Mode) throws -> CatalogueStore {
        try CatalogueStore.open(directory: directory, mode: mode)
    }
}

/// Prints a line on standard error, where progress and summaries go so standard output stays data.
func printStatus(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
