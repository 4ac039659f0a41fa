import Catalogue
import Foundation

/// One catalogue item found by a search, as the API shows it.
public struct MatchResult: Codable, Sendable, Equatable {
    public var id: String
    public var title: String
    public var url: String
    public var score: Float
    /// The item's thumbnail path on this server.
    public var thumbnail: String

    public init(id: String, title: String, url: String, score: Float) {
        self.id = id
        self.title = title
        self.url = url
        self.score = score
        thumbnail = Self.thumbnailPath(id: id)
    }

    init(_ match: CatalogueMatch) {
        self.init(id: match.id, title: match.title, url: match.url, score: match.score)
    }

    static func thumbnailPath(id: String) -> String {
        let escaped = id.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(["/"])) ?? id
        return "/api/v1/items/\(escaped)/thumbnail"
    }
}

/// Where a search's time went, in milliseconds.
public struct SearchTiming: Codable, Sendable, Equatable {
    public var fetchMS: Double?
    public var decodeMS: Double
    public var featurizeMS: Double
    public var searchMS: Double
    public var totalMS: Double

    public init(fetchMS: Double? = nil, decodeMS: Double, featurizeMS: Double, searchMS: Double, totalMS: Double) {
        self.fetchMS = fetchMS
        self.decodeMS = decodeMS
        self.featurizeMS = featurizeMS
        self.searchMS = searchMS
        self.totalMS = totalMS
    }

    enum CodingKeys: String, CodingKey {
        case fetchMS = "fetch_ms"
        case decodeMS = "decode_ms"
        case featurizeMS = "featurize_ms"
        case searchMS = "search_ms"
        case totalMS = "total_ms"
    }
}

/// The answer to `POST /api/v1/search`.
struct SearchResponse: Encodable {
    var eventID: String
    var matches: [MatchResult]
    var timing: SearchTiming

    enum CodingKeys: String, CodingKey {
        case eventID = "event_id"
        case matches, timing
    }
}

/// A JSON search body.
struct SearchRequestBody: Decodable {
    var url: String?
    var vector: [Double]?
    var k: Int?
    var minScore: Double?
    var filters: [String: JSONValue]?

    enum CodingKeys: String, CodingKey {
        case url, vector, k
        case minScore = "min_score"
        case filters = "where"
    }
}

/// A catalogue item, as the API shows it.
struct ItemResponse: Encodable {
    var id: String
    var title: String
    var url: String
    var attributes: [String: JSONValue]
    var state: String
    var thumbnail: String
    var model: String?
    var updatedAt: String

    init(_ item: CatalogueItem) {
        id = item.id
        title = item.title
        url = item.url
        attributes = JSONValue.object(text: item.attributes)
        state = item.state.rawValue
        thumbnail = MatchResult.thumbnailPath(id: item.id)
        model = item.modelID
        updatedAt = Timestamp.format(item.updatedAt)
    }

    enum CodingKeys: String, CodingKey {
        case id, title, url, attributes, state, thumbnail, model
        case updatedAt = "updated_at"
    }
}

struct ItemPage: Encodable {
    var items: [ItemResponse]
    var total: Int
    var offset: Int
    var limit: Int
}

struct MatchList: Encodable {
    var matches: [MatchResult]
}

/// `POST /api/v1/items` with JSON, and `PATCH /api/v1/items/{id}`.
struct ItemRequestBody: Decodable {
    var id: String?
    var title: String?
    var url: String?
    var attributes: [String: JSONValue]?
}

struct HealthResponse: Encodable {
    var status: String
    var items: Int
    var model: String
    var mode: String
    /// `embedded` or `postgresql`.
    var backend: String
    var catalogue: CatalogueHealth
}

/// Whether the catalogue answered, and how fast: for a database, one round trip from this server.
struct CatalogueHealth: Encodable {
    var reachable: Bool
    var roundTripMS: Double

    enum CodingKeys: String, CodingKey {
        case reachable
        case roundTripMS = "round_trip_ms"
    }
}

/// ISO 8601 with milliseconds, in UTC.
enum Timestamp {
    private static let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    static func format(_ date: Date) -> String { style.format(date) }

    static func parse(_ text: String) -> Date? {
        (try? style.parse(text)) ?? (try? Date.ISO8601FormatStyle().parse(text))
    }
}

/// The JSON coders the API uses: keys as declared, no escaped slashes.
enum APIJSON {
    static func encode(_ value: some Encodable) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return try encoder.encode(value)
    }

    static func decode<T: Decodable>(_ type: T.Type, from data: Data, what: String) throws(APIError) -> T {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch {
            throw .badRequest("bad_json", "\(what): not valid JSON for this request (\(Self.reason(error)))")
        }
    }

    private static func reason(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        switch error {
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .keyNotFound(_, let context),
            .dataCorrupted(let context):
            let path = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }
                .joined(separator: ".")
            return path.isEmpty ? context.debugDescription : "\(path): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}
