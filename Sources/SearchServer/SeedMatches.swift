import Foundation

/// The answer of the original page's `POST /matches`, exactly as that page reads it.
///
/// The page takes `response.data.body`, replaces every `'` with `"` (the original search Lambda
/// stored Python's repr of a dict, which quotes with `'`), parses the result as JSON and reads
/// `matches[i].url` and `.title`. So `body` is a JSON string of `{"matches": [{id, title, url}]}`,
/// best first, in which no `'` may appear: an apostrophe inside a title is written as the JSON
/// escape `\u0027`, which the page's replace leaves alone and `JSON.parse` turns back into `'`,
/// so "Men's …" arrives as it is in the catalogue.
struct SeedAnswer: Encodable, Equatable {
    var statusCode: String
    var headers = ["Content-type": "application/json"]
    var body: String

    /// What the original answered before any search had matched anything. The HTTP status stays
    /// 200, as API Gateway passed the Lambda's answer through: the page stops polling for good on
    /// an HTTP error, while a body it cannot parse only fails that one poll.
    static let noMatches = SeedAnswer(statusCode: "400", body: "NO MATCHES")

    /// The answer for `matches` (best first), with picture URLs a browser on another origin can load.
    static func matches(_ matches: [MatchResult], baseURL: String) throws -> SeedAnswer {
        let list = SeedMatchList(
            matches: matches.map { SeedMatch(id: $0.id, title: $0.title, url: pictureURL(of: $0, baseURL: baseURL)) })
        let json = String(decoding: try APIJSON.encode(list), as: UTF8.self)
        // A `'` can only occur inside a JSON string here, where `\u0027` means the same character.
        return SeedAnswer(statusCode: "200", body: json.replacingOccurrences(of: "'", with: "\\u0027"))
    }

    /// A remote http(s) image URL as it is; anything else (a file on this server's disk, or an
    /// uploaded image) as the absolute URL of this server's picture of the item.
    static func pictureURL(of match: MatchResult, baseURL: String) -> String {
        let lowered = match.url.lowercased()
        if lowered.hasPrefix("http://") || lowered.hasPrefix("https://") { return match.url }
        return baseURL + match.thumbnail
    }
}

struct SeedMatchList: Encodable {
    var matches: [SeedMatch]
}

/// One match as the original search Lambda stored it: the catalogue's id, title and image URL.
struct SeedMatch: Encodable {
    var id: String
    var title: String
    var url: String
}
