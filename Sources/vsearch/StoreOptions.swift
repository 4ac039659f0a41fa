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
            "Store directory, or a postgres://USER@HOST:PORT/DB URL (search and export so far). "
                + "Default: $VSEARCH_STORE, then ./vsearch-data."))
    var store: String?

    var directory: String { CatalogueStore.resolveDirectory(store) }

    /// The embedded store in ``directory``, for the commands that do not work on PostgreSQL yet;
    /// a `postgres://` address gets a one-line error saying so.
    func open(_ mode: CatalogueStore.Mode) throws -> CatalogueStore {
        guard !CatalogueOpener.isPostgres(directory) else {
            throw CatalogueError.store(
                path: (try? PostgresAddress(directory).redacted) ?? "postgres://",
                reason: "this command does not work on a PostgreSQL catalogue yet (search and export do)")
        }
        return try CatalogueStore.open(directory: directory, mode: mode)
    }

    /// Runs `body` on the catalogue ``directory`` names, a store directory or a `postgres://` URL,
    /// and closes it (a PostgreSQL catalogue's connections) however `body` ends.
    func withCatalogue<T>(_ mode: CatalogueStore.Mode, _ body: (any CatalogueBackend) async throws -> T)
        async throws -> T
    {
        let catalogue = try await CatalogueOpener.open(directory, mode: mode)
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
