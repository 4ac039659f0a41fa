import Catalogue
import Foundation
import Logging

/// Opens the catalogue a `--store` value (or `$VSEARCH_STORE`) names, whichever backend keeps it.
///
/// A `postgres://` or `postgresql://` URL opens ``PostgresCatalogue``; anything else is a store
/// directory, opened as ``CatalogueStore`` in `mode`. PostgreSQL has no single-writer lock, so
/// `mode` does not apply to it. This is the one place that knows both backends: the commands that
/// call it hold `any CatalogueBackend` and never ask which one they got.
public enum CatalogueOpener {
    /// Whether `location` names a PostgreSQL catalogue rather than a directory.
    public static func isPostgres(_ location: String) -> Bool { PostgresAddress.isPostgres(location) }

    public static func open(
        _ location: String, mode: CatalogueStore.Mode,
        logger: Logger = Logger(label: "vsearch.catalogue.postgres")
    ) async throws(CatalogueError) -> any CatalogueBackend {
        if isPostgres(location) { return try await PostgresCatalogue.open(url: location, logger: logger) }
        return try CatalogueStore.open(directory: location, mode: mode)
    }
}
