import ArgumentParser
import Catalogue
import CataloguePostgres
import Foundation
import VSearchCore

/// The option of every command that uses a catalogue store.
struct StoreOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Store directory, or a postgres://USER@HOST:PORT/DB URL (every command works on either). "
                + "Default: $VSEARCH_STORE, then ./vsearch-data."))
    var store: String?

    var directory: String { CatalogueStore.resolveDirectory(store) }

    /// Runs `body` on the catalogue ``directory`` names, a store directory or a `postgres://` URL,
    /// and closes it (a PostgreSQL catalogue's connections) however `body` ends.
    func withCatalogue<T>(_ mode: CatalogueStore.Mode, _ body: (any CatalogueBackend) async throws -> T)
        async throws -> T
    {
        try await Self.withCatalogue(at: directory, mode, body)
    }

    /// Runs `body` on the catalogue at `location` and closes it however `body` ends.
    static func withCatalogue<T>(
        at location: String, _ mode: CatalogueStore.Mode, _ body: (any CatalogueBackend) async throws -> T
    ) async throws -> T {
        let catalogue = try await CatalogueOpener.open(location, mode: mode)
        do {
            let value = try await body(catalogue)
            await catalogue.close()
            return value
        } catch {
            await catalogue.close()
            throw error
        }
    }
}

/// Prints a line on standard error, where progress and summaries go so standard output stays data.
func printStatus(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
