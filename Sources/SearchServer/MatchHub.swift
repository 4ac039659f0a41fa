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
    func save(_ events: [StoredMatchEvent], keepingLast limit: Int) async throws
    func recent(limit: Int) async throws -> [StoredMatchEvent]
}

/// The match events of this server: the latest ones, their query pictures, and the live stream.
///
/// With a `MatchEventChannel` (a catalogue several server replicas share), the events of every
/// replica are this hub's events: the catalogue numbers each event, records it and announces it,
/// and the hub takes the announcements of the other replicas in as if they were published here
/// (its own it already has, so none arrives twice). Without one, the hub numbers its events itself.
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
    private let channel: (any MatchEventChannel)?
    private let onPublish: @Sendable (MatchEvent, Int) -> Void
    /// Reading the archive, once, before the first use: the archive may be a database, which an
    /// initialiser cannot wait for.
    private var restoring: Task<Void, Never>?

    /// A hub that remembers `capacity` events and restores them from `archive` when given.
    ///
    /// `onPublish` is told of every event and the number of subscribers (for metrics).
    ///
    /// With a `channel`, events are numbered and announced through it (see ``receive(_:)``).
    public init(
        capacity: Int = 100, subscriberBuffer: Int = 64, archive: (any MatchEventArchive)? = nil,
        channel: (any MatchEventChannel)? = nil, onPublish: @escaping @Sendable (MatchEvent, Int) -> Void = { _, _ in }
    ) {
        self.capacity = max(1, capacity)
        self.subscriberBuffer = max(1, subscriberBuffer)
        self.archive = archive
        self.channel = channel
        self.onPublish = onPublish
    }

    /// Reads the archive's events the first time the hub is used; later calls wait for that read.
    private func restoreIfNeeded() async {
        if let restoring { return await restoring.value }
        let task = Task { await self.catchUp() }
        restoring = task
        await task.value
    }

    /// Adds the archive's recent events that this hub does not have yet: at start, and after a
    /// replica's lost connection to the channel, when other replicas' events may have been missed.
    public func catchUp() async {
        guard let stored = try? await archive?.recent(limit: capacity) else { return }
        var added = false
        for record in stored.reversed() where !events.contains(where: { $0.eventID == record.eventID }) {
            guard let event = try? JSONDecoder().decode(MatchEvent.self, from: Data(record.json.utf8)) else { continue }
            events.append(event)
            if let jpeg = record.queryJPEG { queryImages[event.eventID] = Task { jpeg } }
            added = true
        }
        guard added else { return }
        events.sort { (Self.number(of: $0.eventID) ?? 0) < (Self.number(of: $1.eventID) ?? 0) }
        trim()
        nextNumber = max(nextNumber, (events.compactMap { Self.number(of: $0.eventID) }.max() ?? 0) + 1)
    }

    /// An event another replica announced: kept and sent to this hub's subscribers, unless this
    /// hub published it itself (a replica hears its own announcements too).
    public func receive(_ record: StoredMatchEvent) async {
        await restoreIfNeeded()
        guard !events.contains(where: { $0.eventID == record.eventID }),
            let event = try? JSONDecoder().decode(MatchEvent.self, from: Data(record.json.utf8))
        else { return }
        if let jpeg = record.queryJPEG { queryImages[event.eventID] = Task { jpeg } }
        events.append(event)
        trim()
        // Not counted in this replica's metrics: the replica that published it counts it.
        deliver(event)
    }

    /// Records an event and sends it to every subscriber; returns it with its id and time.
    ///
    /// `queryPicture` is the event's query picture. One to encode is encoded only when a
    /// live-stream client is connected, or with a channel, when another replica's clients may be
    /// (otherwise no one would see it, and a search would pay for nothing: the event then has no
    /// picture), in a task of its own so the search that caused the event does not wait for it.
    ///
    /// With a channel the event is recorded and announced before this returns, so a search is
    /// answered only once every replica can learn of its event.
    @discardableResult
    public func publish(
        source: MatchEvent.Source, device: String? = nil, capturedAt: Date? = nil, matches: [MatchResult],
        timing: SearchTiming, latencyMS: Double? = nil, queryPicture: QueryPicture? = nil
    ) async -> MatchEvent {
        await restoreIfNeeded()
        // A shared catalogue numbers the event, so that replicas never give two events one id; if
        // the database cannot answer, the event still reaches this replica's own clients.
        var number = nextNumber
        if let channel, let shared = try? await channel.nextMatchEventNumber() { number = shared }
        nextNumber = max(nextNumber, number) + 1
        let id = String(format: "e-%06d", number)
        var picture: Task<[UInt8]?, Never>?
        switch queryPicture {
        case .jpeg(let bytes)?: picture = Task { bytes }
        // Another replica's clients may be watching, which this one cannot know: with a channel the
        // picture is always made (off the search's path, as here).
        case .encode(let encode)? where !subscribers.isEmpty || channel != nil:
            picture = Task.detached(priority: .utility) { encode() }
        case .encode?, nil: picture = nil
        }
        let event = MatchEvent(
            eventID: id, source: source, device: device, createdAt: Date(), capturedAt: capturedAt,
            queryImage: picture == nil ? nil : MatchEvent.queryImagePath(eventID: id), matches: matches,
            timing: timing, latencyMS: latencyMS)
        if let picture { queryImages[id] = picture }
        events.append(event)
        trim()
        deliver(event)
        onPublish(event, subscribers.count)
        if let channel, let record = Self.record(event, jpeg: nil) {
            // Recorded and announced before the search answers; the picture follows with the next
            // flush, when it has been made.
            try? await channel.announceMatchEvent(record, keepingLast: capacity)
            if picture != nil { unsaved.append(event) }
        } else if archive != nil {
            unsaved.append(event)
        }
        return event
    }

    /// Sends an event to every subscriber, dropping those too far behind.
    private func deliver(_ event: MatchEvent) {
        for (id, continuation) in subscribers {
            if case .dropped = continuation.yield(.event(event)) {
                continuation.finish()
                subscribers[id] = nil
            }
        }
    }

    /// Keeps the newest `capacity` events.
    private func trim() {
        guard events.count > capacity else { return }
        let excess = events.count - capacity
        for old in events.prefix(excess) { queryImages[old.eventID] = nil }
        events.removeFirst(excess)
    }

    /// The newest event, if any.
    public var latest: MatchEvent? {
        get async {
            await restoreIfNeeded()
            return events.last
        }
    }

    /// Up to `limit` events, newest first.
    public func recent(limit: Int) async -> [MatchEvent] {
        await restoreIfNeeded()
        return Array(events.suffix(max(0, limit)).reversed())
    }

    /// The JPEG of an event's query picture, when it was kept: in memory for the recent events,
    /// else, with a channel, from the shared history (another replica's event, once that replica
    /// has saved its picture).
    public func queryImage(eventID: String) async -> [UInt8]? {
        await restoreIfNeeded()
        if let task = queryImages[eventID] { return await task.value }
        guard let channel else { return nil }
        return try? await channel.matchEvent(id: eventID)?.queryJPEG
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
            let jpeg = await queryImages[event.eventID]?.value
            if let record = Self.record(event, jpeg: jpeg) { records.append(record) }
        }
        // In a task of its own, which does not inherit cancellation: the background loop that
        // flushes is cancelled at shutdown, and a cancelled database write would lose the batch.
        let limit = capacity
        await Task { try? await archive.save(records, keepingLast: limit) }.value
    }

    /// An event as the archive keeps it.
    private static func record(_ event: MatchEvent, jpeg: [UInt8]?) -> StoredMatchEvent? {
        guard let json = try? APIJSON.encode(event) else { return nil }
        return StoredMatchEvent(
            eventID: event.eventID, json: String(decoding: json, as: UTF8.self), queryJPEG: jpeg,
            createdAt: event.createdAt)
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
