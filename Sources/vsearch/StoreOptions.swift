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
            "Store directory, or a postgres://USER@HOST:PORT/DB URL (all commands but eval so far). "
                + "Default: $VSEARCH_STORE, then ./vsearch-data."))
    var store: String?

    var directory: String { CatalogueStore.resolveDirectory(store) }

    /// `location` itself when it is a store directory; a `postgres://` address gets a one-line error
    /// naming it without its password, for the commands that do not work on PostgreSQL yet.
    static func requireDirectory(_ location: String) throws -> String {
        guard CatalogueOpener.isPostgres(location) else { return location }
        throw CatalogueError.store(
            path: (try? PostgresAddress(location).redacted) ?? "postgres://",
            reason: "this command does not work on a PostgreSQL catalogue yet "
                + "(search, ingest, remove, reindex, export and serve do)")
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
