import Catalogue
import Foundation
import ImageFetching
import Logging
import PostgresNIO
import VSearchCore

extension PostgresCatalogue {
    public var kind: String { "postgresql" }

    /// One round trip to the database through the pool, within `pingTimeout`.
    ///
    /// While the server is away, postgres-nio's pool keeps a request waiting (up to a minute) and
    /// retries in the background. So a ping that gets no answer in time connects once on its own,
    /// which fails at once with the reason (connection refused, a wrong password…).
    public func ping() async throws(CatalogueError) {
        let (client, logger) = (self.client, self.logger)
        let outcome = await Self.race(within: Self.pingTimeout) {
            _ = try await client.query("SELECT 1", logger: logger).collect()
        }
        switch outcome {
        case .success?: return
        case .failure(let error)?: throw PostgresFailure.error(error, at: location, "cannot reach the database")
        case nil: break
        }
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .warning)
        do {
            let connection = try await PostgresConnection.connect(
                configuration: try address.connectionConfiguration(), id: 2, logger: quiet)
            try? await connection.close()
        } catch {
            throw PostgresFailure.error(error, at: location, "cannot reach the database")
        }
        throw .store(
            path: location,
            reason: "cannot reach the database: no pooled connection answered within "
                + "\(Self.pingTimeout.components.seconds) s, though a new connection succeeds")
    }

    /// How long ``ping()`` waits for the pool.
    static let pingTimeout: Duration = .seconds(3)

    /// `body`'s outcome, or nil when it takes longer than `limit`; `body` is then cancelled and
    /// not waited for, so a pool that does not answer cannot hold the caller.
    static func race(within limit: Duration, _ body: @escaping @Sendable () async throws -> Void) async -> Result<
        Void, any Error
    >? {
        await withCheckedContinuation { (continuation: CheckedContinuation<Result<Void, any Error>?, Never>) in
            let resumed = Locked(false)
            let finish: @Sendable (Result<Void, any Error>?) -> Void = { outcome in
                let first = resumed.withLock { resumed in
                    defer { resumed = true }
                    return !resumed
                }
                if first { continuation.resume(returning: outcome) }
            }
            let work = Task {
                do {
                    try await body()
                    finish(.success(()))
                } catch {
                    finish(.failure(error))
                }
            }
            Task {
                try? await Task.sleep(for: limit)
                work.cancel()
                finish(nil)
            }
        }
    }

    public var matchEventChannel: (any MatchEventChannel)? { self }

    // MARK: Images

    /// Uploaded images come from `vsearch_images`, which every replica reads; images of http(s)
    /// URLs from this machine's download cache; local paths from the file.
    public func imageBytes(for item: CatalogueItem, maxBytes: Int) async -> [UInt8]? {
        if item.url.isEmpty {
            guard let hash = item.contentHash else { return nil }
            let key = CatalogueStore.uploadedImageKey(contentHash: hash)
            guard
                let found = try? await rows(
                    "cannot read an uploaded image",
                    "SELECT bytes FROM vsearch_images WHERE key = \(key) AND length(bytes) <= \(maxBytes)"),
                let data = try? found.first?.decode(Data.self)
            else { return nil }
            return [UInt8](data)
        }
        let path =
            ImageFetcher.isRemote(item.url)
            ? ImageFetcher.cachePath(for: item.url, in: cacheDirectory) : ImageFetcher.localPath(item.url)
        return CatalogueStore.fileBytes(atPath: path, maxBytes: maxBytes)
    }

    /// An upload key goes into `vsearch_images`, committed before this returns, so the item
    /// written next never names an image another replica cannot find; an http(s) URL goes to
    /// this machine's download cache, which any replica refills by fetching the URL again.
    public func cacheImage(_ bytes: [UInt8], forURL url: String) async throws(CatalogueError) {
        if url.hasPrefix(Self.uploadKeyPrefix) {
            _ = try await rows(
                "cannot store the uploaded image \(url)",
                """
                INSERT INTO vsearch_images (key, bytes) VALUES (\(url), \(ByteBuffer(bytes: bytes)))
                ON CONFLICT (key) DO NOTHING
                """)
            return
        }
        try CatalogueStore.cacheImage(bytes, forURL: url, in: cacheDirectory)
    }

    /// How upload keys start; an upload key names the image by its content hash.
    static var uploadKeyPrefix: String { CatalogueStore.uploadedImageKey(contentHash: "") }
}

extension PostgresCatalogue: MatchEventChannel {
    /// The channel of `LISTEN`/`NOTIFY` that carries match events.
    static let matchEventsChannel = "vsearch_match_events"

    /// PostgreSQL refuses notification payloads of 8,000 bytes or more; an event whose JSON does
    /// not fit is announced by its id alone and read from the history by each listener.
    static let maximumPayload = 7_900

    public func nextMatchEventNumber() async throws(CatalogueError) -> Int {
        try await number("cannot number a match event", "SELECT nextval('vsearch_match_event_numbers')")
    }

    /// The insert, the trim and the notification are one statement, so one transaction and one round
    /// trip: PostgreSQL delivers a notification only when its transaction commits, so no listener hears
    /// of an event it cannot read. An event already recorded (the same id) is neither trimmed for nor
    /// announced again.
    public func announceMatchEvent(_ event: StoredMatchEvent, keepingLast limit: Int) async throws(CatalogueError) {
        let payload =
            event.eventID.utf8.count + 1 + event.json.utf8.count <= Self.maximumPayload
            ? event.eventID + "\n" + event.json : event.eventID
        do {
            _ = try await client.query(
                """
                WITH recorded AS (
                    INSERT INTO vsearch_match_events (event_id, json, query_jpeg, created_at)
                    VALUES (\(event.eventID), \(event.json), \(event.queryJPEG.map { Data($0) }), \(event.createdAt))
                    ON CONFLICT (event_id) DO NOTHING
                    RETURNING seq
                ), trimmed AS (
                    -- The statement sees the table without its own insert: keep the newest limit - 1 of those.
                    DELETE FROM vsearch_match_events
                    WHERE EXISTS (SELECT 1 FROM recorded) AND seq <= (
                        SELECT seq FROM vsearch_match_events ORDER BY seq DESC OFFSET \(max(1, limit) - 1) LIMIT 1)
                )
                SELECT pg_notify(\(Self.matchEventsChannel), \(payload)) FROM recorded
                """, logger: logger
            ).collect()
        } catch {
            throw PostgresFailure.error(error, at: location, "cannot record match event \(event.eventID)")
        }
    }

    public func matchEvent(id: String) async throws(CatalogueError) -> StoredMatchEvent? {
        let doing = "cannot read match event \(id)"
        let rows = try await rows(
            doing, "SELECT event_id, json, query_jpeg, created_at FROM vsearch_match_events WHERE event_id = \(id)")
        do {
            return try rows.first.map { row in
                let (id, json, jpeg, created) = try row.decode((String, String, Data?, Date).self)
                return StoredMatchEvent(
                    eventID: id, json: json, queryJPEG: jpeg.map { [UInt8]($0) }, createdAt: created)
            }
        } catch {
            throw PostgresFailure.error(error, at: location, doing)
        }
    }

    /// Listens on a connection of its own, outside the pool: a listening connection stays busy
    /// for as long as it listens. After a lost connection it tries again every second, and calls
    /// `connected` once listening again, so that the caller reads the events it missed meanwhile.
    public func listenForMatchEvents(
        connected: @escaping @Sendable () async -> Void, received: @escaping @Sendable (StoredMatchEvent) async -> Void
    ) async {
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .warning)
        var lastFailure: String?
        while !Task.isCancelled {
            do {
                let connection = try await PostgresConnection.connect(
                    configuration: try address.connectionConfiguration(), id: 1, logger: quiet)
                do {
                    try await connection.listen(on: Self.matchEventsChannel) { notifications in
                        if lastFailure != nil { logger.notice("\(location): listening for match events again") }
                        lastFailure = nil
                        await connected()
                        for try await notification in notifications {
                            if let event = await event(fromPayload: notification.payload) { await received(event) }
                        }
                    }
                } catch {
                    try? await connection.close()
                    throw error
                }
                try? await connection.close()
            } catch {
                let reason = PostgresFailure.error(error, at: location, "listening for match events").description
                if reason != lastFailure { logger.warning("\(reason); trying again every second") }
                lastFailure = reason
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// The event a notification carries, or the one it names when its JSON did not fit.
    private func event(fromPayload payload: String) async -> StoredMatchEvent? {
        guard let newline = payload.firstIndex(of: "\n") else {
            return try? await matchEvent(id: payload)
        }
        return StoredMatchEvent(
            eventID: String(payload[..<newline]), json: String(payload[payload.index(after: newline)...]),
            queryJPEG: nil, createdAt: Date())
    }
}
