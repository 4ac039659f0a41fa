import Catalogue
import Foundation

/// What a live-stream subscriber receives.
public enum MatchStreamMessage: Sendable {
    case event(MatchEvent)
    /// Nothing happened for a while; a comment keeps proxies from closing the connection.
    case keepAlive
}

/// The picture of what an event searched for.
public enum QueryPicture: Sendable {
    /// Already a JPEG (a device's thumbnail): kept as it is.
    case jpeg([UInt8])
    /// Made on demand (an uploaded photo, encoded as a JPEG), which costs a few milliseconds, so
    /// it is made only when someone can see it: a live-stream client is connected.
    case encode(@Sendable () -> [UInt8]?)
}

/// Where match events are kept across restarts.
public protocol MatchEventArchive: Sendable {
    func save(_ events: [StoredMatchEvent], keepingLast limit: Int) throws
    func recent(limit: Int) throws -> [StoredMatchEvent]
}

/// The match events of this server: the latest ones, their query pictures, and the live stream.
///
/// Searches publish here; Server-Sent Events subscribers each get a bounded buffer, and a
/// subscriber that falls that far behind is disconnected rather than slowing anyone else. The
/// device link publishes device events the same way:
///
/// ```swift
/// let event = await hub.publish(source: .device, device: "cam-1", capturedAt: frameTime,
///                               matches: matches, timing: timing, latencyMS: 42)
/// ```
public actor MatchHub {
    /// Events kept in memory (and in the archive).
    public let capacity: Int
    /// Messages a slow subscriber may have waiting before it is dropped.
    public let subscriberBuffer: Int

    private var events: [MatchEvent] = []
    private var queryImages: [String: Task<[UInt8]?, Never>] = [:]
    private var subscribers: [UUID: AsyncStream<MatchStreamMessage>.Continuation] = [:]
    private var nextNumber = 1
    private var unsaved: [MatchEvent] = []
    private let archive: (any MatchEventArchive)?
    private let onPublish: @Sendable (MatchEvent, Int) -> Void

    /// A hub that remembers `capacity` events and restores them from `archive` when given.
    ///
    /// `onPublish` is told of every event and the number of subscribers (for metrics).
    public init(
        capacity: Int = 100, subscriberBuffer: Int = 64, archive: (any MatchEventArchive)? = nil,
        onPublish: @escaping @Sendable (MatchEvent, Int) -> Void = { _, _ in }
    ) {
        self.capacity = max(1, capacity)
        self.subscriberBuffer = max(1, subscriberBuffer)
        self.archive = archive
        self.onPublish = onPublish
        let stored = (try? archive?.recent(limit: self.capacity)) ?? []
        for record in stored.reversed() {
            guard let event = try? JSONDecoder().decode(MatchEvent.self, from: Data(record.json.utf8)) else { continue }
            events.append(event)
            if let jpeg = record.queryJPEG { queryImages[event.eventID] = Task { jpeg } }
        }
        nextNumber = (events.compactMap { Self.number(of: $0.eventID) }.max() ?? 0) + 1
    }

    /// Records an event and sends it to every subscriber; returns it with its id and time.
    ///
    /// `queryPicture` is the event's query picture. One to encode is encoded only when a
    /// live-stream client is connected (otherwise no one would see it, and a search would pay
    /// for nothing: the event then has no picture), in a task of its own so the search that
    /// caused the event does not wait for it.
    @discardableResult
    public func publish(
        source: MatchEvent.Source, device: String? = nil, capturedAt: Date? = nil, matches: [MatchResult],
        timing: SearchTiming, latencyMS: Double? = nil, queryPicture: QueryPicture? = nil
    ) -> MatchEvent {
        let id = String(format: "e-%06d", nextNumber)
        nextNumber += 1
        var picture: Task<[UInt8]?, Never>?
        switch queryPicture {
        case .jpeg(let bytes)?: picture = Task { bytes }
        case .encode(let encode)? where !subscribers.isEmpty: picture = Task.detached(priority: .utility) { encode() }
        case .encode?, nil: picture = nil
        }
        let event = MatchEvent(
            eventID: id, source: source, device: device, createdAt: Date(), capturedAt: capturedAt,
            queryImage: picture == nil ? nil : MatchEvent.queryImagePath(eventID: id), matches: matches,
            timing: timing, latencyMS: latencyMS)
        if let picture { queryImages[id] = picture }
        events.append(event)
        if events.count > capacity {
            let excess = events.count - capacity
            for old in events.prefix(excess) { queryImages[old.eventID] = nil }
            events.removeFirst(excess)
        }
        if archive != nil { unsaved.append(event) }
        for (id, continuation) in subscribers {
            if case .dropped = continuation.yield(.event(event)) {
                continuation.finish()
                subscribers[id] = nil
            }
        }
        onPublish(event, subscribers.count)
        return event
    }

    /// The newest event, if any.
    public var latest: MatchEvent? { events.last }

    /// Up to `limit` events, newest first.
    public func recent(limit: Int) -> [MatchEvent] { Array(events.suffix(max(0, limit)).reversed()) }

    /// The JPEG of an event's query picture, when it was kept and is still among the recent events.
    public func queryImage(eventID: String) async -> [UInt8]? {
        guard let task = queryImages[eventID] else { return nil }
        return await task.value
    }

    /// A new live-stream subscription; it ends when ``unsubscribe(_:)`` is called or the
    /// subscriber falls `subscriberBuffer` messages behind.
    public func subscribe() -> (id: UUID, messages: AsyncStream<MatchStreamMessage>) {
        let id = UUID()
        let (stream, continuation) = AsyncStream<MatchStreamMessage>.makeStream(
            bufferingPolicy: .bufferingOldest(subscriberBuffer))
        subscribers[id] = continuation
        return (id, stream)
    }

    public func unsubscribe(_ id: UUID) {
        subscribers.removeValue(forKey: id)?.finish()
    }

    /// Sends a keep-alive to one subscriber.
    func keepAlive(_ id: UUID) {
        if case .dropped = subscribers[id]?.yield(.keepAlive) { unsubscribe(id) }
    }

    /// How many live-stream clients are connected.
    public var subscriberCount: Int { subscribers.count }

    /// Writes the events published since the last call to the archive.
    public func flush() async {
        guard let archive, !unsaved.isEmpty else { return }
        // Only the newest `capacity` survive the archive's pruning, so older ones are not written.
        let batch = unsaved.suffix(capacity)
        unsaved.removeAll()
        var records: [StoredMatchEvent] = []
        for event in batch {
            guard let json = try? APIJSON.encode(event) else { continue }
            let jpeg = await queryImage(eventID: event.eventID)
            records.append(
                StoredMatchEvent(
                    eventID: event.eventID, json: String(decoding: json, as: UTF8.self), queryJPEG: jpeg,
                    createdAt: event.createdAt))
        }
        try? archive.save(records, keepingLast: capacity)
    }

    /// Ends every subscription, so streaming responses finish on shutdown.
    public func closeAll() {
        for continuation in subscribers.values { continuation.finish() }
        subscribers.removeAll()
    }

    private static func number(of eventID: String) -> Int? {
        eventID.hasPrefix("e-") ? Int(eventID.dropFirst(2)) : nil
    }
}
