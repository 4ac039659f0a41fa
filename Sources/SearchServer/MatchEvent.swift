import Foundation

/// One search and its matches, as the live page and its clients see it.
///
/// Every search made through the server becomes one, and so does every search a device asks
/// for over MQTT (published into the ``MatchHub`` by the device link).
public struct MatchEvent: Codable, Sendable, Equatable {
    /// Who asked.
    public enum Source: String, Codable, Sendable {
        /// A client of the HTTP API or the web UI.
        case api
        /// A camera device.
        case device
    }

    /// `e-000123`: increasing, unique in one store.
    public var eventID: String
    public var source: Source
    /// The device's name, for device events.
    public var device: String?
    public var createdAt: Date
    /// When the device captured the frame, for device events.
    public var capturedAt: Date?
    /// The path of the query picture on this server, when it was kept.
    public var queryImage: String?
    public var matches: [MatchResult]
    public var timing: SearchTiming
    /// From capture to match, for device events.
    public var latencyMS: Double?

    enum CodingKeys: String, CodingKey {
        case eventID = "event_id"
        case source, device
        case createdAt = "created_at"
        case capturedAt = "captured_at"
        case queryImage = "query_image"
        case matches, timing
        case latencyMS = "latency_ms"
    }

    public init(
        eventID: String, source: Source, device: String?, createdAt: Date, capturedAt: Date?, queryImage: String?,
        matches: [MatchResult], timing: SearchTiming, latencyMS: Double?
    ) {
        self.eventID = eventID
        self.source = source
        self.device = device
        self.createdAt = createdAt
        self.capturedAt = capturedAt
        self.queryImage = queryImage
        self.matches = matches
        self.timing = timing
        self.latencyMS = latencyMS
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        eventID = try container.decode(String.self, forKey: .eventID)
        source = try container.decode(Source.self, forKey: .source)
        device = try container.decodeIfPresent(String.self, forKey: .device)
        createdAt = try Self.date(container, .createdAt) ?? Date(timeIntervalSince1970: 0)
        capturedAt = try Self.date(container, .capturedAt)
        queryImage = try container.decodeIfPresent(String.self, forKey: .queryImage)
        matches = try container.decode([MatchResult].self, forKey: .matches)
        timing = try container.decode(SearchTiming.self, forKey: .timing)
        latencyMS = try container.decodeIfPresent(Double.self, forKey: .latencyMS)
    }

    /// Every key is written, absent values as null, as the contract shows them.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(eventID, forKey: .eventID)
        try container.encode(source, forKey: .source)
        try container.encode(device, forKey: .device)
        try container.encode(Timestamp.format(createdAt), forKey: .createdAt)
        try container.encode(capturedAt.map(Timestamp.format), forKey: .capturedAt)
        try container.encode(queryImage, forKey: .queryImage)
        try container.encode(matches, forKey: .matches)
        try container.encode(timing, forKey: .timing)
        try container.encode(latencyMS, forKey: .latencyMS)
    }

    private static func date(_ container: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) throws -> Date? {
        try container.decodeIfPresent(String.self, forKey: key).flatMap(Timestamp.parse)
    }

    /// The path of an event's query picture.
    static func queryImagePath(eventID: String) -> String { "/api/v1/matches/\(eventID)/query.jpg" }
}
