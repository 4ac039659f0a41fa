import Foundation
import GRDB

/// A match event as the store keeps it: the server's JSON, and the query picture when there was one.
public struct StoredMatchEvent: Sendable, Equatable {
    public var eventID: String
    /// The event exactly as the server serialised it.
    public var json: String
    /// A small JPEG of the query image.
    public var queryJPEG: [UInt8]?
    public var createdAt: Date

    public init(eventID: String, json: String, queryJPEG: [UInt8]?, createdAt: Date) {
        self.eventID = eventID
        self.json = json
        self.queryJPEG = queryJPEG
        self.createdAt = createdAt
    }
}

extension CatalogueStore {
    /// Appends events (oldest first) and keeps only the newest `limit`, in one transaction.
    public func saveMatchEvents(_ events: [StoredMatchEvent], keepingLast limit: Int) throws(CatalogueError) {
        guard !events.isEmpty else { return }
        try exclusive { () throws(CatalogueError) in try saveExclusively(events, keepingLast: limit) }
    }

    private func saveExclusively(_ events: [StoredMatchEvent], keepingLast limit: Int) throws(CatalogueError) {
        try write(itemsUnchanged: true) { db in
            for event in events {
                try db.execute(
                    sql: """
                        INSERT OR REPLACE INTO match_event(eventId, json, queryJpeg, createdAt) VALUES (?, ?, ?, ?)
                        """,
                    arguments: [
                        event.eventID, event.json, event.queryJPEG.map { Data($0) },
                        event.createdAt.timeIntervalSince1970,
                    ])
            }
            try db.execute(
                sql: "DELETE FROM match_event WHERE seq <= (SELECT max(seq) FROM match_event) - ?",
                arguments: [max(0, limit)])
        }
    }

    /// The newest `limit` events, newest first; none when the store predates match events.
    public func recentMatchEvents(limit: Int) throws(CatalogueError) -> [StoredMatchEvent] {
        try read { db in
            guard try db.tableExists("match_event") else { return [] }
            return try Row.fetchAll(
                db,
                sql: "SELECT eventId, json, queryJpeg, createdAt FROM match_event ORDER BY seq DESC LIMIT ?",
                arguments: [max(0, limit)]
            ).map { row in
                let jpeg: Data? = row["queryJpeg"]
                return StoredMatchEvent(
                    eventID: row["eventId"], json: row["json"], queryJPEG: jpeg.map { [UInt8]($0) },
                    createdAt: Date(timeIntervalSince1970: row["createdAt"]))
            }
        }
    }
}
