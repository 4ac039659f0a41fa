import Catalogue
import Foundation
import PostgresNIO

extension PostgresCatalogue {
    public func saveMatchEvents(_ events: [StoredMatchEvent], keepingLast limit: Int) async throws(CatalogueError) {
        guard !events.isEmpty else { return }
        try await transaction("cannot save \(events.count) match events") { connection in
            for event in events {
                try await connection.query(
                    """
                    INSERT INTO vsearch_match_events (event_id, json, query_jpeg, created_at)
                    VALUES (\(event.eventID), \(event.json), \(event.queryJPEG.map { Data($0) }), \(event.createdAt))
                    ON CONFLICT (event_id) DO UPDATE SET json = excluded.json, query_jpeg = excluded.query_jpeg,
                        created_at = excluded.created_at
                    """, logger: logger)
            }
            try await connection.query(
                """
                DELETE FROM vsearch_match_events
                WHERE seq <= (SELECT max(seq) FROM vsearch_match_events) - \(max(0, limit))
                """, logger: logger)
        }
    }

    public func recentMatchEvents(limit: Int) async throws(CatalogueError) -> [StoredMatchEvent] {
        let doing = "cannot read the match events"
        let rows = try await rows(
            doing,
            """
            SELECT event_id, json, query_jpeg, created_at FROM vsearch_match_events ORDER BY seq DESC
            LIMIT \(max(0, limit))
            """)
        do {
            return try rows.map { row in
                let (id, json, jpeg, created) = try row.decode((String, String, Data?, Date).self)
                return StoredMatchEvent(
                    eventID: id, json: json, queryJPEG: jpeg.map { [UInt8]($0) }, createdAt: created)
            }
        } catch {
            throw PostgresFailure.error(error, at: location, doing)
        }
    }

    /// The value of `vsearch_changes`, which every committed write advances.
    ///
    /// Every search reads the database, so a reader needs no reload to see new items; the token
    /// is for what a process keeps besides (thumbnails, a page's cached list).
    public func changeToken() async throws(CatalogueError) -> String {
        let rows = try await rows(
            "cannot read the change counter", "SELECT last_value, is_called FROM vsearch_changes")
        guard let row = rows.first, let (value, called) = try? row.decode((Int64, Bool).self) else {
            throw .store(path: location, reason: "cannot read the change counter: no answer")
        }
        return called ? String(value) : "0"
    }
}
