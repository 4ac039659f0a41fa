import Catalogue
import Logging
import PostgresNIO

/// The catalogue's tables in PostgreSQL, created and upgraded by numbered migrations that vsearch
/// runs itself when it opens a catalogue.
///
/// `vsearch_schema_migrations` records each applied version. Migrations run in one transaction
/// under an advisory lock, so servers and ingest workers starting together migrate once, and a
/// failed migration leaves the schema as it was. A database migrated by a newer vsearch (a
/// version this one does not know) is refused rather than used: this vsearch could misread or
/// damage tables it does not know.
///
/// Every table starts with `vsearch_`, so the catalogue can share a database with other programs.
enum PostgresSchema {
    /// The advisory lock key of schema changes: migrations and a model switch (an arbitrary constant,
    /// "vsearch" in ASCII).
    static let lockKey: Int64 = 0x76_73_65_61_72_63_68

    struct Migration {
        var version: Int
        var name: String
        /// One statement each: postgres-nio sends statements through the extended protocol, one at a time.
        var statements: [String]
    }

    static let migrations: [Migration] = [
        Migration(
            version: 1, name: "items, settings and match events",
            statements: [
                "CREATE TABLE vsearch_settings (name text PRIMARY KEY, value text NOT NULL)",
                // `vector` has no dimension until a model is bound; binding sets it (vector(d)) and builds
                // the HNSW index. `key` numbers items as the embedded store does; it is never reused.
                """
                CREATE TABLE vsearch_items (
                    id text PRIMARY KEY,
                    key bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
                    title text NOT NULL,
                    url text NOT NULL,
                    attributes jsonb NOT NULL DEFAULT '{}',
                    content_hash text,
                    model_id text,
                    vector vector,
                    state text NOT NULL CHECK (state IN ('pending', 'ready')),
                    created_at timestamptz NOT NULL DEFAULT now(),
                    updated_at timestamptz NOT NULL DEFAULT now(),
                    CHECK (state = 'pending' OR vector IS NOT NULL)
                )
                """,
                "CREATE INDEX vsearch_items_pending ON vsearch_items (state) WHERE state <> 'ready'",
                // The catalogue order (numeric ids numerically, then the rest by byte order), so a page of
                // the item list walks this index instead of sorting every row.
                "CREATE INDEX vsearch_items_order ON vsearch_items (\(itemOrder))",
                """
                CREATE TABLE vsearch_match_events (
                    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    event_id text NOT NULL UNIQUE,
                    json text NOT NULL,
                    query_jpeg bytea,
                    created_at timestamptz NOT NULL
                )
                """,
                // Bumped after every committed write: the change token.
                "CREATE SEQUENCE vsearch_changes",
            ]),
        Migration(
            version: 2, name: "uploaded images and match event numbers for server replicas",
            statements: [
                // The images uploaded with items, by upload key (their content hash), so that every server
                // replica can show them; images fetched from URLs stay in each machine's download cache.
                """
                CREATE TABLE vsearch_images (
                    key text PRIMARY KEY,
                    bytes bytea NOT NULL,
                    created_at timestamptz NOT NULL DEFAULT now()
                )
                """,
                // Match event ids (`e-000123`), unique and increasing across every replica.
                "CREATE SEQUENCE vsearch_match_event_numbers",
            ]),
        Migration(
            version: 3, name: "ingest claims",
            statements: [
                // One row per item of an ingest's sources: `job` names the sources (a hash of their ids,
                // the same for every worker reading them), `ordinal` keeps their order. A worker claims
                // an item for a lease it renews; an item stays `done` until the next ingest of the job.
                """
                CREATE TABLE vsearch_ingest_claims (
                    job text NOT NULL,
                    id text NOT NULL,
                    ordinal bigint NOT NULL,
                    state text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'claimed', 'done')),
                    claimed_by text,
                    claimed_until timestamptz,
                    done_at timestamptz,
                    PRIMARY KEY (job, id)
                )
                """,
                // What a worker claims next: the unsettled items of its job in source order.
                "CREATE INDEX vsearch_ingest_claims_open ON vsearch_ingest_claims (job, ordinal) WHERE state <> 'done'",
            ]),
        Migration(
            version: 4, name: "local features",
            statements: [
                // Each item's local features (`LocalFeatures.encoded`), for the models that verify a search's
                // best candidates by them; null for the others.
                "ALTER TABLE vsearch_items ADD COLUMN local_features bytea"
            ]),
    ]

    /// The newest schema version this vsearch knows.
    static var latestVersion: Int { migrations.last?.version ?? 0 }

    /// The catalogue order; `ORDER BY` spells it exactly so, for PostgreSQL to use `vsearch_items_order`.
    /// `COLLATE "C"` orders ids by bytes, as SQLite does, whatever the database's locale.
    static let itemOrder = """
        (id ~ '^[0-9]+$') DESC, (CASE WHEN id ~ '^[0-9]+$' THEN id::numeric END), (id COLLATE "C")
        """

    /// Makes sure pgvector is installed, then brings the schema to ``latestVersion``; returns the
    /// version found before migrating.
    @discardableResult
    static func migrate(_ connection: PostgresConnection, location: String, logger: Logger) async throws(CatalogueError)
        -> Int
    {
        try await ensureVector(connection, location: location, logger: logger)
        do {
            return try await connection.withTransaction(logger: logger) { connection in
                try await connection.query("SELECT pg_advisory_xact_lock(\(lockKey))", logger: logger)
                try await connection.query(
                    """
                    CREATE TABLE IF NOT EXISTS vsearch_schema_migrations (
                        version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
                    """, logger: logger)
                var found = 0
                for try await (version, ) in try await connection.query(
                    "SELECT coalesce(max(version), 0)::bigint FROM vsearch_schema_migrations", logger: logger
                ).decode((Int,).self) {
                    found = version
                }
                guard found <= latestVersion else { throw newer(found, location) }
                for migration in migrations where migration.version > found {
                    for statement in migration.statements {
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    try await connection.query(
                        "INSERT INTO vsearch_schema_migrations (version, name) VALUES (\(migration.version), \(migration.name))",
                        logger: logger)
                    logger.info("catalogue schema migrated", metadata: ["version": "\(migration.version)"])
                }
                return found
            }
        } catch {
            throw PostgresFailure.error(error, at: location, "cannot prepare the catalogue's tables")
        }
    }

    /// Checks, without changing anything, that the database holds a catalogue of the schema this
    /// vsearch knows: what a reader does.
    static func check(_ connection: PostgresConnection, location: String, logger: Logger)
        async throws(CatalogueError)
    {
        var found: Int?
        do {
            // Two statements: a statement naming a missing table fails when it is parsed.
            let exists = try await connection.query(
                "SELECT to_regclass('vsearch_schema_migrations') IS NOT NULL", logger: logger
            ).collect()
            if try exists.first?.decode(Bool.self) == true {
                let rows = try await connection.query(
                    "SELECT coalesce(max(version), 0)::bigint FROM vsearch_schema_migrations", logger: logger)
                for try await (version, ) in rows.decode((Int,).self) { found = version }
            }
        } catch {
            throw PostgresFailure.error(error, at: location, "cannot read the catalogue's schema version")
        }
        guard let found, found >= 1 else {
            throw .store(path: location, reason: "no catalogue here; build one with `vsearch ingest`")
        }
        guard found <= latestVersion else { throw newer(found, location) }
        guard found == latestVersion else {
            throw .store(
                path: location,
                reason: "the catalogue's schema is version \(found), older than this vsearch's (\(latestVersion)); "
                    + "a command that writes (vsearch ingest) upgrades it")
        }
    }

    /// The error for a schema from a newer vsearch.
    static func newer(_ found: Int, _ location: String) -> CatalogueError {
        .store(
            path: location,
            reason: "the catalogue's schema is version \(found), newer than this vsearch knows "
                + "(\(latestVersion)); upgrade vsearch to use it")
    }

    /// Creates pgvector's extension if it is missing, or says clearly that the server lacks it.
    private static func ensureVector(_ connection: PostgresConnection, location: String, logger: Logger)
        async throws(CatalogueError)
    {
        do {
            let rows = try await connection.query(
                "SELECT 1 FROM pg_extension WHERE extname = 'vector'", logger: logger
            ).collect()
            if !rows.isEmpty { return }
        } catch {
            throw .store(path: location, reason: PostgresFailure.reason(error))
        }
        do {
            // Under the schema lock: processes starting together on a new database (ingest workers) would
            // otherwise both create it, and the second fail on pg_extension's unique index.
            try await connection.withTransaction(logger: logger) { connection in
                try await connection.query("SELECT pg_advisory_xact_lock(\(lockKey))", logger: logger)
                try await connection.query("CREATE EXTENSION IF NOT EXISTS vector", logger: logger)
            }
        } catch {
            throw .store(
                path: location,
                reason: "the pgvector extension ('vector') is not installed in this database and cannot be "
                    + "created (\(PostgresFailure.reason(error))); install pgvector and run CREATE EXTENSION vector")
        }
    }
}
