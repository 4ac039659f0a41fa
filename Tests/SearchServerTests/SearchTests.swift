import Catalogue
import CataloguePostgres
import Featurizer
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import VSearchCore
import VSearchTesting

@testable import SearchServer

@Suite(.serialized, PostgresScope()) struct SearchTests {
    @Test(arguments: Backend.allCases) func aRawJPEGFindsItsOwnItemFirstAndBecomesAnEvent(_ backend: Backend)
        async throws
    {
        let (server, dir) = try await makeServer(backend)
        defer { _ = dir }
        _ = await server.hub.subscribe()  // a live-stream client watches, so the event keeps its query picture
        try await server.makeApplication().test(.router) { client in
            let eventID = try await client.execute(
                uri: "/api/v1/search?k=3", method: .post, headers: .contentType("image/jpeg"),
                body: try photoBytes("skimage/rocket.jpg")
            ) { response in
                #expect(response.status == .ok)
                let body = try json(response.body)
                let matches = try #require(body["matches"] as? [[String: Any]])
                #expect(matches.count == 3)
                #expect(matches.first?["id"] as? String == "rocket")
                #expect(matches.first?["thumbnail"] as? String == "/api/v1/items/rocket/thumbnail")
                let score = try #require(matches.first?["score"] as? Double)
                #expect(score > 0.99)
                let timing = try #require(body["timing"] as? [String: Any])
                #expect((timing["featurize_ms"] as? Double ?? 0) > 0)
                return try #require(body["event_id"] as? String)
            }
            try await client.execute(uri: "/api/v1/matches/latest", method: .get) { response in
                #expect(response.status == .ok)
                let event = try json(response.body)
                #expect(event["event_id"] as? String == eventID)
                #expect(event["source"] as? String == "api")
                #expect(event["device"] is NSNull)
                #expect(event["query_image"] as? String == "/api/v1/matches/\(eventID)/query.jpg")
            }
            try await client.execute(uri: "/api/v1/matches/\(eventID)/query.jpg", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "image/jpeg")
                #expect(Array(response.body.readableBytesView.prefix(2)) == [0xFF, 0xD8])
            }
            try await client.execute(uri: "/matches", method: .post) { response in
                #expect(response.status == .ok)
                let seed = try json(response.body)
                #expect(seed["statusCode"] as? String == "200")
                let matches = try SeedPageTests.pageView(response.body).matches
                #expect(matches.first?["id"] as? String == "rocket")
                #expect(Set(matches.first?.keys.map { $0 } ?? []) == ["id", "title", "url"])
            }
        }
    }

    @Test func withNoOneWatchingTheQueryPictureIsNeverMade() async throws {
        let (server, dir) = try await makeServer()
        defer { _ = dir }
        try await server.makeApplication().test(.router) { client in
            let eventID = try await client.execute(
                uri: "/api/v1/search", method: .post, headers: .contentType("image/jpeg"),
                body: try photoBytes("skimage/rocket.jpg")
            ) { response in try #require(try json(response.body)["event_id"] as? String) }
            try await client.execute(uri: "/api/v1/matches/latest", method: .get) { response in
                let event = try json(response.body)
                #expect(event["query_image"] is NSNull)
            }
            try await client.execute(uri: "/api/v1/matches/\(eventID)/query.jpg", method: .get) { response in
                #expect(response.status == .notFound)
            }
        }
    }

    @Test(arguments: Backend.allCases) func multipartUploadWithFieldsAndFilters(_ backend: Backend) async throws {
        let (server, dir) = try await makeServer(backend)
        defer { _ = dir }
        try await server.makeApplication().test(.router) { client in
            let boundary = "vsearch-test-boundary"
            let body = multipart(
                boundary: boundary, fields: [("k", "2"), ("where", "collection=animals")],
                files: [("image", "cat.png", try photoBytes("skimage/chelsea.png"))])
            try await client.execute(
                uri: "/api/v1/search", method: .post,
                headers: .contentType("multipart/form-data; boundary=\(boundary)"), body: body
            ) { response in
                #expect(response.status == .ok)
                let ids = try matchIDs(response.body)
                #expect(ids == ["chelsea", "ladybird"])
            }
            // Query-string filters apply to every body kind; an unknown key matches nothing.
            try await client.execute(
                uri: "/api/v1/search?where=colour%3Dred", method: .post, headers: .contentType("image/png"),
                body: try photoBytes("skimage/chelsea.png")
            ) { response in
                #expect(response.status == .ok)
                let ids = try matchIDs(response.body)
                #expect(ids == [])
            }
            try await client.execute(
                uri: "/api/v1/search?min_score=0.999", method: .post, headers: .contentType("image/png"),
                body: try photoBytes("skimage/chelsea.png")
            ) { response in
                let ids = try matchIDs(response.body)
                #expect(ids == ["chelsea"])
            }
        }
    }

    @Test(arguments: Backend.allCases) func aVectorSearchFindsTheItemWhoseVectorItIs(_ backend: Backend) async throws {
        let (server, dir) = try await makeServer(backend)
        defer { _ = dir }
        let vector = try #require(try await server.catalogue.reader.vector(ofItem: "ladybird"))
        try await server.makeApplication().test(.router) { client in
            let body = try JSONSerialization.data(withJSONObject: [
                "vector": vector, "k": 2, "where": ["collection": "animals"],
            ])
            try await client.execute(
                uri: "/api/v1/search", method: .post, headers: .contentType("application/json"),
                body: ByteBuffer(data: body)
            ) { response in
                #expect(response.status == .ok)
                let ids = try matchIDs(response.body)
                #expect(ids == ["ladybird", "chelsea"])
            }
        }
    }

    @Test(arguments: Backend.allCases) func aPictureIsRefusedByACatalogueOfAnotherModel(_ backend: Backend)
        async throws
    {
        let served = try await ServedCatalogue.fixture(backend)
        let featurizer = try await Fixture.shared.loadFeaturizer()
        let catalogue = try await CatalogueOpener.openForServing(served.location)
        // As `vsearch reindex --model` leaves it: bound to another model, its items pending, no vectors yet.
        try await catalogue.bind(modelID: "other/1", dimension: featurizer.dimension, switching: true)
        let server = SearchServer(configuration: ServerConfiguration(), catalogue: catalogue, featurizer: featurizer)
        try await server.makeApplication().test(.router) { client in
            try await client.execute(
                uri: "/api/v1/search", method: .post, headers: .contentType("image/jpeg"),
                body: try photoBytes("skimage/rocket.jpg")
            ) { response in
                #expect(response.status == .conflict)
                #expect(errorCode(response.body) == "model_mismatch")
                let error = try #require(try json(response.body)["error"] as? [String: Any])
                #expect((error["message"] as? String)?.contains("'other/1'") == true)
            }
            // A client's vector is the catalogue's own model's: searched, and nothing is ready yet.
            let body = try JSONSerialization.data(withJSONObject: [
                "vector": [Double](repeating: 0.01, count: featurizer.dimension)
            ])
            try await client.execute(
                uri: "/api/v1/search", method: .post, headers: .contentType("application/json"),
                body: ByteBuffer(data: body)
            ) { response in
                #expect(response.status == .ok)
                let ids = try matchIDs(response.body)
                #expect(ids == [])
            }
        }
        _ = served
    }

    @Test func badInputGetsAFourHundredWithAJSONError() async throws {
        let (server, dir) = try await makeServer { $0.maxBodyBytes = 64 << 10 }
        defer { _ = dir }
        let dimension = server.featurizer.dimension
        try await server.makeApplication().test(.router) { client in
            func expect(
                _ type: String, _ body: ByteBuffer, _ status: HTTPResponse.Status, _ code: String,
                uri: String = "/api/v1/search", sourceLocation: SourceLocation = #_sourceLocation
            ) async throws {
                try await client.execute(uri: uri, method: .post, headers: .contentType(type), body: body) { response in
                    #expect(
                        response.status == status, "\(String(buffer: response.body))", sourceLocation: sourceLocation)
                    #expect(errorCode(response.body) == code, sourceLocation: sourceLocation)
                }
            }
            let text = ByteBuffer(string: "this is not an image at all")
            try await expect("image/jpeg", text, .unprocessableContent, "bad_image")
            try await expect("image/jpeg", ByteBuffer(), .unprocessableContent, "bad_image")
            try await expect("text/plain", text, .unsupportedMediaType, "unsupported_media_type")
            let short = #"{"vector": [0.1, 0.2, 0.3]}"#
            try await expect("application/json", ByteBuffer(string: short), .badRequest, "bad_vector")
            let huge = "{\"vector\": [1e39" + String(repeating: ",0", count: dimension - 1) + "]}"
            try await expect("application/json", ByteBuffer(string: huge), .badRequest, "bad_vector")
            let nan = "{\"vector\": [NaN" + String(repeating: ",0", count: dimension - 1) + "]}"
            try await expect("application/json", ByteBuffer(string: nan), .badRequest, "bad_json")
            try await expect("application/json", ByteBuffer(string: "{\"vector\": "), .badRequest, "bad_json")
            try await expect("application/json", ByteBuffer(string: "{}"), .badRequest, "bad_request")
            try await expect("application/json", ByteBuffer(string: #"{"url": "/etc/passwd"}"#), .badRequest, "bad_url")
            let vector = "{\"vector\": [1" + String(repeating: ",0", count: dimension - 1) + "]}"
            try await expect(
                "application/json", ByteBuffer(string: vector), .badRequest, "bad_filter",
                uri: "/api/v1/search?where=nokey")
            try await expect(
                "application/json", ByteBuffer(string: vector), .badRequest, "bad_parameter", uri: "/api/v1/search?k=0")
            try await expect(
                "application/json", ByteBuffer(string: vector), .badRequest, "bad_parameter",
                uri: "/api/v1/search?k=abc")
            try await expect(
                "application/json", ByteBuffer(string: vector), .badRequest, "bad_parameter",
                uri: "/api/v1/search?min_score=nan")
            let big = try photoBytes("mate/Storm.jpg")
            try #require(big.readableBytes > 64 << 10)
            try await expect("image/jpeg", big, .contentTooLarge, "body_too_large")
            // Malformed multipart: no boundary, no closing boundary, no image field.
            try await expect("multipart/form-data", text, .badRequest, "bad_multipart")
            try await expect(
                "multipart/form-data; boundary=abc", ByteBuffer(string: "--abc\r\nbroken"), .badRequest, "bad_multipart"
            )
            let noImage = multipart(boundary: "b", fields: [("k", "2")], files: [])
            try await expect("multipart/form-data; boundary=b", noImage, .badRequest, "missing_image")
            try await client.execute(uri: "/api/v1/nothing-here", method: .get) { response in
                #expect(response.status == .notFound)
                #expect(errorCode(response.body) != nil)
            }
        }
    }

    @Test func tooManyPixelsIsRefusedBeforeDecoding() async throws {
        var options = Featurizer.Options()
        options.decoding.maxPixels = 100_000
        let featurizer = try Featurizer(model: ModelDirectory(path: Repository.model), options: options)
        let (server, dir) = try await makeServer(featurizer: featurizer)
        defer { _ = dir }
        try await server.makeApplication().test(.router) { client in
            try await client.execute(
                uri: "/api/v1/search", method: .post, headers: .contentType("image/jpeg"),
                body: try photoBytes("skimage/rocket.jpg")
            ) { response in
                #expect(response.status == .contentTooLarge)
                #expect(errorCode(response.body) == "too_many_pixels")
            }
        }
    }
}
