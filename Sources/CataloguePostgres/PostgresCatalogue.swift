import Catalogue
import Foundation
import Logging
import PostgresNIO

/// A catalogue in PostgreSQL with pgvector, which any number of servers and ingest workers share.
///
/// Items, their attributes (JSONB), content hashes and model ids live in `vsearch_items`, each
/// with its vector in a pgvector `vector(d)` column; the model and dimension in `vsearch_settings`;
/// the server's recent match events in `vsearch_match_events`. Opening the catalogue creates or
/// upgrades these tables (`PostgresSchema`).
///
/// Unlike the embedded store, every search asks the database, so a write by any process is seen
/// by the next search of every other. The one thing kept in memory is, for a model of more than
/// 2,000 dimensions (which pgvector cannot index), a copy of the vectors that the change token
/// keeps current (`VectorMirror`). A batch of items is written in
/// one transaction, rows and vectors together, so there is no half-written state to repair after
/// a crash, and items are never `pending` except after a model switch.
///
/// Connections come from a pool (postgres-nio's `PostgresClient`). Opening first connects once on
/// its own, to check the server and migrate, so that a wrong address, password or database fails
/// at once with the server's reason rather than after the pool's retries.
public final class PostgresCatalogue: CatalogueBackend {
    /// pgvector's HNSW index takes vectors of at most this many dimensions; longer ones are
    /// searched by an exact scan.
    public static let maximumIndexedDimension = 2000

    public let address: PostgresAddress
    public var location: String { address.redacted }
    let client: PostgresClient
    /// The pool's background work (`PostgresClient.run()`), cancelled by ``close()``.
    private let running: Task<Void, Never>
    /// The OID of pgvector's `vector` type in this database.
    let vectorType: PostgresDataType
    let logger: Logger
    /// The items whose stored local features were reported as not decoding, each reported once.
    let damagedFeatures = DamagedFeatures()
    /// The vectors of a model pgvector cannot index, searched in this process (``VectorMirror``).
    let vectorMirror = VectorMirror()
    /// This machine's download cache for the catalogue's http(s) images (see ``CatalogueOpener/workDirectory(for:environment:)``).
    public let cacheDirectory: String

    private init(
        address: PostgresAddress, client: PostgresClient, running: Task<Void, Never>, vectorType: PostgresDataType,
        logger: Logger
    ) {
        cacheDirectory = CatalogueOpener.workDirectory(for: address.redacted) + "/cache"
        self.address = address
        self.client = client
        self.running = running
        self.vectorType = vectorType
        self.logger = logger
    }

    deinit { running.cancel() }

    /// Connects to the catalogue at `address`; in `.write` mode it creates or upgrades the tables,
    /// in `.read` mode (searching, listing) it only checks them, as the embedded store's readers do,
    /// so that a reader needs no right to create tables and a mistyped database name is not
    /// silently turned into an empty catalogue. PostgreSQL itself lets any number of writers in.
    ///
    /// Throws a one-line `CatalogueError.store(path:reason:)` naming the URL without its password
    /// when the server cannot be reached, refuses the login, lacks the database or pgvector, holds a
    /// schema from a newer vsearch, or (reading) holds no catalogue.
    public static func open(
        _ address: PostgresAddress, mode: CatalogueStore.Mode = .write,
        logger: Logger = Logger(label: "vsearch.catalogue.postgres")
    ) async throws(CatalogueError) -> PostgresCatalogue {
        let location = address.redacted
        let configuration = try address.connectionConfiguration()
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .warning)
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: quiet)
        } catch {
            throw PostgresFailure.error(error, at: location)
        }
        let vectorType: PostgresDataType
        do {
            if mode == .write {
                try await PostgresSchema.migrate(connection, location: location, logger: logger)
            } else {
                try await PostgresSchema.check(connection, location: location, logger: quiet)
            }
            vectorType = try await Self.vectorType(connection, location: location, logger: quiet)
        } catch {
            try? await connection.close()
            throw error
        }
        try? await connection.close()
        // The pool warns when a lease comes before `run()` has started, which the first query after
        // opening can do: the lease simply waits for it. Only its errors are worth a line.
        var poolLogger = logger
        poolLogger.logLevel = max(logger.logLevel, .error)
        let client = PostgresClient(configuration: address.clientConfiguration, backgroundLogger: poolLogger)
        let running = Task { await client.run() }
        return PostgresCatalogue(
            address: address, client: client, running: running, vectorType: vectorType, logger: logger)
    }

    /// Opens the catalogue at a `postgres://` URL (see ``PostgresAddress``).
    public static func open(
        url: String, mode: CatalogueStore.Mode = .write, logger: Logger = Logger(label: "vsearch.catalogue.postgres")
    ) async throws(CatalogueError) -> PostgresCatalogue {
        try await open(try PostgresAddress(url), mode: mode, logger: logger)
    }

    /// Closes the pool; queries in flight finish or fail.
    public func close() async {
        running.cancel()
        await running.value
    }

    private static func vectorType(_ connection: PostgresConnection, location: String, logger: Logger)
        async throws(CatalogueError) -> PostgresDataType
    {
        do {
            for try await (oid, ) in try await connection.query(
                "SELECT 'vector'::regtype::oid::bigint", logger: logger
            ).decode((Int64,).self) {
                return PostgresDataType(UInt32(truncatingIfNeeded: oid))
            }
        } catch {
            throw PostgresFailure.error(error, at: location, "cannot look up pgvector's type")
        }
        throw .store(path: location, reason: "cannot look up pgvector's type")
    }

    // MARK: Running statements

    /// Runs `body` on one pooled connection; any failure becomes one line naming the catalogue and `doing`.
    func withConnection<T: Sendable>(
        _ doing: @autoclosure () -> String, _ body: (PostgresConnection) async throws -> T
    ) async throws(CatalogueError) -> T {
        do {
            return try await client.withConnection { connection in try await body(connection) }
        } catch {
            throw PostgresFailure.error(error, at: location, doing())
        }
    }

    /// Runs `body` in one transaction, committed when it returns and rolled back when it throws.
    func transaction<T: Sendable>(
        _ doing: @autoclosure () -> String, _ body: (PostgresConnection) async throws -> T
    ) async throws(CatalogueError) -> T {
        do {
            return try await client.withTransaction(logger: logger) { connection in try await body(connection) }
        } catch {
            throw PostgresFailure.error(error, at: location, doing())
        }
    }

    /// The rows of one statement.
    func rows(_ doing: @autoclosure () -> String, _ query: PostgresQuery) async throws(CatalogueError)
        -> [PostgresRow]
    {
        do {
            return try await client.query(query, logger: logger).collect()
        } catch {
            throw PostgresFailure.error(error, at: location, doing())
        }
    }

    /// What `decode` makes of a row read while `doing`. A row that does not decode means the table is
    /// not what vsearch made (a column changed by hand, say), so it is an error naming the column; skipping
    /// the row would leave items out of every result without a word.
    func decoded<Value>(_ doing: @autoclosure () -> String, _ decode: () throws -> Value) throws(CatalogueError)
        -> Value
    {
        do {
            return try decode()
        } catch {
            throw PostgresFailure.error(error, at: location, doing())
        }
    }

    /// Marks a committed write, so that ``changeToken()`` changes. After the commit, never inside
    /// the transaction: a reader that sees the new token must also see the write.
    func noteChange() async {
        _ = try? await client.query("SELECT nextval('vsearch_changes')", logger: logger).collect()
    }

    // MARK: Settings

    public func binding() async throws(CatalogueError) -> (model: String, dimension: Int)? {
        let rows = try await rows(
            "cannot read the settings",
            "SELECT name, value FROM vsearch_settings WHERE name IN ('model', 'dimension')")
        return try binding(from: rows)
    }

    func binding(from rows: [PostgresRow]) throws(CatalogueError) -> (model: String, dimension: Int)? {
        var values: [String: String] = [:]
        for row in rows {
            let (name, value) = try decoded("cannot read the catalogue's settings") {
                try row.decode((String, String).self)
            }
            values[name] = value
        }
        guard let model = values["model"], let text = values["dimension"] else { return nil }
        guard let dimension = Int(text), dimension > 0 else {
            throw .store(path: location, reason: "vsearch_settings: 'dimension' is '\(text)', not a length")
        }
        return (model, dimension)
    }

    public func bind(modelID: String, dimension: Int, switching: Bool) async throws(CatalogueError) {
        guard dimension > 0, dimension <= PostgresVector.maximumDimension else {
            throw .store(
                path: location,
                reason: "a model of \(dimension) dimensions: pgvector stores 1 to \(PostgresVector.maximumDimension)")
        }
        let changed = try await transaction("cannot bind model '\(modelID)'") { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(PostgresSchema.lockKey))", logger: logger)
            let rows = try await connection.query(
                "SELECT name, value FROM vsearch_settings WHERE name IN ('model', 'dimension')", logger: logger
            ).collect()
            let current = try binding(from: rows)
            if !switching, let current, current.model == modelID, current.dimension == dimension { return false }
            if let current, current.model != modelID, !switching {
                throw CatalogueError.modelMismatch(store: current.model, model: modelID)
            }
            try await connection.query(
                """
                INSERT INTO vsearch_settings (name, value) VALUES ('model', \(modelID)), ('dimension', \(String(dimension)))
                ON CONFLICT (name) DO UPDATE SET value = excluded.value
                """, logger: logger)
            // Every vector goes: the column's type changes, and a switch recomputes them all.
            try await connection.query("DROP INDEX IF EXISTS vsearch_items_hnsw", logger: logger)
            try await connection.query(
                "UPDATE vsearch_items SET vector = NULL, state = 'pending', model_id = \(modelID)", logger: logger)
            try await connection.query(
                PostgresQuery(unsafeSQL: "ALTER TABLE vsearch_items ALTER COLUMN vector TYPE vector(\(dimension))"),
                logger: logger)
            if dimension <= Self.maximumIndexedDimension {
                // Inner product: the models' vectors are L2-normalised, so it ranks as cosine does, and it is
                // the score the embedded store reports.
                try await connection.query(
                    "CREATE INDEX vsearch_items_hnsw ON vsearch_items USING hnsw (vector vector_ip_ops)",
                    logger: logger)
            }
            return true
        }
        guard changed else { return }
        await noteChange()
        if dimension > Self.maximumIndexedDimension {
            logger.notice(
                """
                \(location): \(dimension)-dimensional vectors are over pgvector's HNSW limit of \
                \(Self.maximumIndexedDimension); searches scan every vector exactly
                """)
        }
    }
}

extension PostgresFailure {
    /// `error` as a ``CatalogueError``: one of ours passes through (also from inside a transaction);
    /// anything else names the catalogue, what was being done, and the reason.
    static func error(_ error: any Error, at location: String, _ doing: String? = nil) -> CatalogueError {
        if let error = error as? CatalogueError { return error }
        if let error = error as? PostgresTransactionError, let inner = error.closureError as? CatalogueError {
            return inner
        }
        return .store(path: location, reason: (doing.map { $0 + ": " } ?? "") + reason(error))
    }
}
