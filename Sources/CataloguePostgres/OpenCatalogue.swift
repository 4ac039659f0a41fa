import Catalogue
import Foundation
import Logging

/// Opens the catalogue a `--store` value (or `$VSEARCH_STORE`) names, whichever backend keeps it.
///
/// A `postgres://` or `postgresql://` URL opens ``PostgresCatalogue``; anything else is a store
/// directory, opened as `CatalogueStore` in `mode`. For PostgreSQL, `mode` says whether opening
/// may create or upgrade the tables (there is no single-writer lock). This is the one place that knows both backends: the commands that
/// call it hold `any CatalogueBackend` and never ask which one they got.
public enum CatalogueOpener {
    /// Whether `location` names a PostgreSQL catalogue rather than a directory.
    public static func isPostgres(_ location: String) -> Bool { PostgresAddress.isPostgres(location) }

    public static func open(
        _ location: String, mode: CatalogueStore.Mode,
        logger: Logger = Logger(label: "vsearch.catalogue.postgres")
    ) async throws(CatalogueError) -> any CatalogueBackend {
        if isPostgres(location) { return try await PostgresCatalogue.open(url: location, mode: mode, logger: logger) }
        return try CatalogueStore.open(directory: location, mode: mode, logger: logger)
    }

    /// Opens the catalogue a server serves: for writing, and a store directory that another
    /// process (an ingest) is writing for reading instead, which the server answers writes with
    /// 409 for until that process ends. A PostgreSQL catalogue has no single writer: every server
    /// writes it.
    public static func openForServing(
        _ location: String, logger: Logger = Logger(label: "vsearch.catalogue.postgres")
    ) async throws(CatalogueError) -> any CatalogueBackend {
        do {
            return try await open(location, mode: .write, logger: logger)
        } catch .busy {
            return try CatalogueStore.open(directory: location, mode: .read)
        }
    }

    /// Where the commands keep what is local to this machine for the catalogue at `location`: the
    /// download cache (`cache/`) and ingest reports (`reports/`).
    ///
    /// A store directory keeps them inside itself. A PostgreSQL catalogue has no directory, so they go
    /// under `$VSEARCH_CACHE`, else `$XDG_CACHE_HOME/vsearch`, else `~/.cache/vsearch`, in a folder
    /// named after the server and database (never the password).
    public static func workDirectory(
        for location: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> String {
        guard isPostgres(location) else { return location }
        let base =
            environment["VSEARCH_CACHE"].flatMap { $0.isEmpty ? nil : $0 }
            ?? environment["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 + "/vsearch" }
            ?? (environment["HOME"] ?? NSHomeDirectory()) + "/.cache/vsearch"
        let name: String
        if let address = try? PostgresAddress(location, environment: [:]) {
            name = "\(address.host)-\(address.port)-\(address.database)"
        } else {
            name = "postgres"
        }
        let safe = String(name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." || $0 == "_" ? $0 : "_" })
        return base + "/postgres/" + safe
    }
}
