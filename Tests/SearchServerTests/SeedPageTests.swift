import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@testable import SearchServer

/// `POST /matches` as the original AngularJS page reads it: `JSON.parse(body.replace(/'/g, '"')).matches`.
@Suite(.serialized) struct SeedPageTests {
    static let key = "seed-page-key"

    /// What the original page does with an answer: the outer JSON, then `body` with every `'` made `"`.
    static func pageView(_ buffer: ByteBuffer) throws -> (statusCode: String?, matches: [[String: Any]]) {
        let answer = try json(buffer)
        let body = try #require(answer["body"] as? String, "body is not a string: \(answer)")
        let replaced = body.replacingOccurrences(of: "'", with: "\"")
        let parsed = try json(ByteBuffer(string: replaced))
        return (answer["statusCode"] as? String, try #require(parsed["matches"] as? [[String: Any]]))
    }

    static let timing = SearchTiming(decodeMS: 0, featurizeMS: 0, searchMS: 0, totalMS: 0)

    @Test func theBodyIsAJSONStringOfTheLatestMatchesBestFirstAndApostrophesSurviveThePage() async throws {
        let (server, dir) = try await makeServer { $0.apiKey = Self.key }
        defer { _ = dir }
        try await server.makeApplication().test(.router) { client in
            try await client.execute(
                uri: "/api/v1/items/coffee", method: .patch,
                headers: [.authorization: "Bearer \(Self.key)", .contentType: "application/json"],
                body: ByteBuffer(string: #"{"title": "Men's 'Barista' coffee cup"}"#)
            ) { response in #expect(response.status == .ok) }
            let searched = try await client.execute(
                uri: "/api/v1/search?k=4", method: .post, headers: .contentType("image/png"),
                body: try photoBytes("skimage/coffee.png")
            ) { response in try #require(try json(response.body)["matches"] as? [[String: Any]]) }
            let scores = searched.compactMap { $0["score"] as? Double }
            #expect(scores == scores.sorted(by: >))

            try await client.execute(
                uri: "/matches", method: .post,
                headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"ApiCallType": "check-search-results"}"#)
            ) { response in
                #expect(response.status == .ok)
                // The raw body carries no apostrophe, so the page's replace cannot break it.
                #expect(!(try json(response.body)["body"] as? String ?? "'").contains("'"))
                let (statusCode, matches) = try Self.pageView(response.body)
                #expect(statusCode == "200")
                #expect(matches.map { $0["id"] as? String } == searched.map { $0["id"] as? String })
                #expect(matches.first?["title"] as? String == "Men's 'Barista' coffee cup")
                #expect(matches.allSatisfy { Set($0.keys) == ["id", "title", "url"] })
                #expect(matches.first?["url"] as? String == "http://localhost/api/v1/items/coffee/thumbnail")
            }
            // Each picture URL is this server's picture of the item.
            try await client.execute(uri: "/api/v1/items/coffee/thumbnail", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "image/jpeg")
            }
        }
    }

    @Test func withNoMatchYetTheAnswerIsTheOriginalsNoMatches() async throws {
        let (server, dir) = try await makeServer()
        defer { _ = dir }
        try await server.makeApplication().test(.router) { client in
            try await client.execute(uri: "/matches", method: .post) { response in
                // HTTP 200, as API Gateway passed the Lambda's answer on: an HTTP error would stop the page polling.
                #expect(response.status == .ok)
                let answer = try json(response.body)
                #expect(answer["statusCode"] as? String == "400")
                #expect(answer["body"] as? String == "NO MATCHES")
            }
            // A search that matched nothing leaves it so, and then the previous matches stay, as the original's did.
            await server.hub.publish(source: .api, matches: [], timing: Self.timing)
            try await client.execute(uri: "/matches", method: .post) { response in
                let answer = try json(response.body)
                #expect(answer["body"] as? String == "NO MATCHES")
            }
            let found = MatchResult(
                id: "7", title: "Jellycat Bashful Monkey", url: "https://images.example/7.jpg", score: 1)
            await server.hub.publish(source: .device, device: "cam-1", matches: [found], timing: Self.timing)
            await server.hub.publish(source: .api, matches: [], timing: Self.timing)
            try await client.execute(uri: "/matches", method: .post) { response in
                let matches = try Self.pageView(response.body).matches
                #expect(matches.map { $0["id"] as? String } == ["7"])
            }
        }
    }

    /// One remote picture, which stays as it is, and two on this server's disk, which become its picture URL.
    static let mixed = [
        MatchResult(
            id: "41ZmuuKMtmL", title: "Bedtime Originals Plush Monkey Ollie",
            url: "https://images-na.ssl-images-amazon.com/images/I/41ZmuuKMtmL._SL224_.jpg", score: 0.9),
        MatchResult(id: "sock monkey", title: "Sock monkey", url: "/srv/photos/sock.jpg", score: 0.8),
        MatchResult(id: "ollie", title: "Ollie", url: "file:///srv/photos/ollie.png", score: 0.7),
    ]

    @Test func pictureURLsAreAbsoluteFromForwardedHeadersOrHost() async throws {
        let (server, dir) = try await makeServer()
        defer { _ = dir }
        await server.hub.publish(source: .api, matches: Self.mixed, timing: Self.timing)
        try await server.makeApplication().test(.router) { client in
            func urls(_ headers: HTTPFields) async throws -> [String?] {
                try await client.execute(uri: "/matches", method: .post, headers: headers) { response in
                    try Self.pageView(response.body).matches.map { $0["url"] as? String }
                }
            }
            let forwarded = try await urls([
                .init("X-Forwarded-Proto")!: "https, http",
                .init("X-Forwarded-Host")!: "search.shop.example",
            ])
            #expect(
                forwarded == [
                    Self.mixed[0].url, "https://search.shop.example/api/v1/items/sock%20monkey/thumbnail",
                    "https://search.shop.example/api/v1/items/ollie/thumbnail",
                ])
            // The router test's requests are sent to `localhost`: their Host.
            let direct = try await urls([:])
            #expect(direct.last == "http://localhost/api/v1/items/ollie/thumbnail")
            // A forwarded host that is not a host is ignored rather than written into the page.
            let hostile = try await urls([
                .init("X-Forwarded-Host")!: "evil.example/\"><script>",
                .init("X-Forwarded-Proto")!: "javascript",
            ])
            #expect(hostile.last == "http://localhost/api/v1/items/ollie/thumbnail")
        }
    }

    @Test func aConfiguredPublicURLWinsOverTheRequestsHeaders() async throws {
        let (server, dir) = try await makeServer { $0.publicURL = "https://shop.example/visual-search/" }
        defer { _ = dir }
        await server.hub.publish(source: .api, matches: Self.mixed, timing: Self.timing)
        try await server.makeApplication().test(.router) { client in
            try await client.execute(
                uri: "/matches", method: .post,
                headers: [.init("X-Forwarded-Host")!: "other.example"]
            ) { response in
                let urls = try Self.pageView(response.body).matches.map { $0["url"] as? String }
                #expect(urls.first == Self.mixed[0].url)
                #expect(urls.last == "https://shop.example/visual-search/api/v1/items/ollie/thumbnail")
            }
        }
        #expect(ServerConfiguration.normalizedPublicURL("https://shop.example/") == "https://shop.example")
        #expect(ServerConfiguration.normalizedPublicURL("ftp://shop.example") == nil)
        #expect(ServerConfiguration.normalizedPublicURL("https://shop.example/?a=1") == nil)
        #expect(ServerConfiguration.normalizedPublicURL("shop.example") == nil)
    }

    @Test func thePagesPreflightIsAnsweredForAnyOrigin() async throws {
        // Even with an allow-list that names another origin, the original page's route stays open.
        let (server, dir) = try await makeServer { $0.corsOrigins = ["https://shop.example"] }
        defer { _ = dir }
        try await server.makeApplication().test(.router) { client in
            let origin = "http://any-page.example:3000"
            try await client.execute(
                uri: "/matches", method: .options,
                headers: [
                    .origin: origin, .accessControlRequestMethod: "POST",
                    .accessControlRequestHeaders: "content-type",
                ]
            ) { response in
                #expect(response.status == .noContent)
                #expect(response.headers[.accessControlAllowOrigin] == "*")
                #expect(response.headers[.accessControlAllowMethods]?.contains("POST") == true)
                let allowed = response.headers[.accessControlAllowHeaders]?.lowercased() ?? ""
                #expect(
                    allowed.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                        .contains("content-type"))
            }
            try await client.execute(
                uri: "/matches", method: .post, headers: [.origin: origin, .contentType: "application/json"],
                body: ByteBuffer(string: "{}")
            ) { response in
                #expect(response.headers[.accessControlAllowOrigin] == "*")
            }
            // Other routes still follow the allow-list.
            try await client.execute(
                uri: "/api/v1/search", method: .options,
                headers: [.origin: origin, .accessControlRequestMethod: "POST"]
            ) { response in
                #expect(response.headers[.accessControlAllowOrigin] == nil)
            }
        }
    }
}
