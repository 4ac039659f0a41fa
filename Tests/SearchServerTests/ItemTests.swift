import Catalogue
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ImageDecoding
import NIOCore
import Testing
import VSearchTesting

@testable import SearchServer

@Suite(.serialized, PostgresScope()) struct ItemTests {
    @Test(arguments: Backend.allCases) func listGetSimilarAndThumbnail(_ backend: Backend) async throws {
        let (server, dir) = try await makeServer(backend)
        defer { _ = dir }
        try await server.makeApplication().test(.router) { client in
            try await client.execute(uri: "/api/v1/items?offset=2&limit=3", method: .get) { response in
                #expect(response.status == .ok)
                let page = try json(response.body)
                #expect(page["total"] as? Int == Fixture.catalogue.count)
                #expect(page["offset"] as? Int == 2)
                let items = try #require(page["items"] as? [[String: Any]])
                #expect(items.count == 3)
            }
            try await client.execute(uri: "/api/v1/items/coffee", method: .get) { response in
                #expect(response.status == .ok)
                let item = try json(response.body)
                #expect(item["title"] as? String == "Coffee")
                #expect(item["state"] as? String == "ready")
                #expect(item["model"] as? String == server.featurizer.descriptor.id)
                #expect((item["attributes"] as? [String: Any])?["collection"] as? String == "kitchen")
                #expect(item["thumbnail"] as? String == "/api/v1/items/coffee/thumbnail")
                #expect((item["updated_at"] as? String)?.hasSuffix("Z") == true)
            }
            try await client.execute(uri: "/api/v1/items/nope", method: .get) { response in
                #expect(response.status == .notFound)
                #expect(errorCode(response.body) == "not_found")
            }
            try await client.execute(uri: "/api/v1/items/rocket/similar?k=3", method: .get) { response in
                #expect(response.status == .ok)
                let ids = try matchIDs(response.body)
                #expect(ids.count == 3)
                #expect(!ids.contains("rocket"))
            }
            try await client.execute(uri: "/api/v1/items/astronaut/thumbnail?size=100", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "image/jpeg")
                #expect(response.headers[.cacheControl] == "public, max-age=86400")
                let image = try ImageDecoder().decode(bytes: Array(response.body.readableBytesView), name: "thumbnail")
                #expect(max(image.width, image.height) == 100)
            }
            for bad in ["size=10", "size=5000", "size=big"] {
                try await client.execute(uri: "/api/v1/items/astronaut/thumbnail?\(bad)", method: .get) { response in
                    #expect(response.status == .badRequest)
                }
            }
            try await client.execute(uri: "/api/v1/items?limit=0", method: .get) { response in
                #expect(response.status == .badRequest)
            }
        }
    }

    @Test func writesAreRefusedWithoutAKeyOrWithAWrongOne() async throws {
        let (open, openDir) = try await makeServer()
        defer { _ = openDir }
        try await open.makeApplication().test(.router) { client in
            try await client.execute(uri: "/api/v1/items/coffee", method: .delete) { response in
                #expect(response.status == .forbidden)
                #expect(errorCode(response.body) == "writes_disabled")
            }
        }
        let (server, dir) = try await makeServer { $0.apiKey = "s3cret-key" }
        defer { _ = dir }
        try await server.makeApplication().test(.router) { client in
            try await client.execute(uri: "/api/v1/items/coffee", method: .delete) { response in
                #expect(response.status == .unauthorized)
                #expect(errorCode(response.body) == "unauthorized")
            }
            try await client.execute(
                uri: "/api/v1/items/coffee", method: .delete, headers: [.authorization: "Bearer wrong-key"]
            ) { response in
                #expect(response.status == .unauthorized)
            }
            try await client.execute(uri: "/api/v1/items/coffee", method: .get) { response in
                #expect(response.status == .ok)
            }
        }
    }

    @Test(arguments: Backend.allCases) func createSearchUpdateAndDeleteAnItem(_ backend: Backend) async throws {
        let (server, dir) = try await makeServer(backend) { $0.apiKey = "s3cret-key" }
        defer { _ = dir }
        let auth: HTTPFields = [.authorization: "Bearer s3cret-key"]
        try await server.makeApplication().test(.router) { client in
            let boundary = "item-boundary"
            let body = multipart(
                boundary: boundary,
                fields: [("id", "horse"), ("title", "A horse"), ("attributes", #"{"collection": "animals"}"#)],
                files: [("image", "horse.png", try photoBytes("skimage/horse.png"))])
            var headers = auth
            headers[.contentType] = "multipart/form-data; boundary=\(boundary)"
            try await client.execute(uri: "/api/v1/items", method: .post, headers: headers, body: body) { response in
                #expect(response.status == .created, "\(String(buffer: response.body))")
                let item = try json(response.body)
                #expect(item["id"] as? String == "horse")
                #expect(item["state"] as? String == "ready")
            }
            try await client.execute(uri: "/api/v1/items", method: .post, headers: headers, body: body) { response in
                #expect(response.status == .conflict)
                #expect(errorCode(response.body) == "item_exists")
            }
            try await client.execute(
                uri: "/api/v1/search?k=1", method: .post, headers: .contentType("image/png"),
                body: try photoBytes("skimage/horse.png")
            ) { response in
                let ids = try matchIDs(response.body)
                #expect(ids == ["horse"])
            }
            try await client.execute(uri: "/api/v1/items/horse/thumbnail", method: .get) { response in
                #expect(response.status == .ok)
            }
            var patchHeaders = auth
            patchHeaders[.contentType] = "application/json"
            try await client.execute(
                uri: "/api/v1/items/horse", method: .patch, headers: patchHeaders,
                body: ByteBuffer(string: #"{"title": "A white horse", "attributes": {"collection": "farm"}}"#)
            ) { response in
                #expect(response.status == .ok)
                let item = try json(response.body)
                #expect(item["title"] as? String == "A white horse")
                #expect((item["attributes"] as? [String: Any])?["collection"] as? String == "farm")
            }
            try await client.execute(
                uri: "/api/v1/items/horse", method: .patch, headers: patchHeaders,
                body: ByteBuffer(string: #"{"url": "ftp://example/x.jpg"}"#)
            ) { response in
                #expect(response.status == .badRequest)
                #expect(errorCode(response.body) == "bad_url")
            }
            try await client.execute(uri: "/api/v1/items/horse", method: .delete, headers: auth) { response in
                #expect(response.status == .noContent)
            }
            try await client.execute(uri: "/api/v1/items/horse", method: .delete, headers: auth) { response in
                #expect(response.status == .notFound)
            }
            try await client.execute(uri: "/api/v1/items/horse", method: .get) { response in
                #expect(response.status == .notFound)
            }
            let bad = multipart(
                boundary: boundary, fields: [("id", "text"), ("title", "Text")],
                files: [("image", "t.jpg", ByteBuffer(string: "not an image"))])
            try await client.execute(uri: "/api/v1/items", method: .post, headers: headers, body: bad) { response in
                #expect(response.status == .unprocessableContent)
                #expect(errorCode(response.body) == "bad_image")
            }
        }
    }

    /// Stands in for an ingest: a write-mode store of this process holding the writer lock until `end()`.
    final class Ingest {
        private(set) var store: CatalogueStore?
        init(directory: String) throws { store = try CatalogueStore.open(directory: directory, mode: .write) }
        func end() { store = nil }
    }

    /// A server over a store whose writer lock an ingest holds.
    static func serverBesideAnIngest() async throws -> (SearchServer, Ingest, TemporaryDirectory) {
        let dir = try await Fixture.shared.store()
        let ingest = try Ingest(directory: dir.path)
        var configuration = ServerConfiguration()
        configuration.apiKey = "k-123456"
        let server = try SearchServer(
            configuration: configuration, storeDirectory: dir.path,
            featurizer: try await Fixture.shared.loadFeaturizer())
        return (server, ingest, dir)
    }

    @Test func aReadOnlyServerBecomesWritableWhenTheIngestEnds() async throws {
        let (server, ingest, dir) = try await Self.serverBesideAnIngest()
        defer { _ = dir }
        #expect(!server.isWritable)
        #expect(ingest.store?.mode == .write)
        #expect(throws: APIError.self) { try server.storeAccess.writableStore() }
        ingest.end()
        #expect(try server.storeAccess.refreshIfChanged())
        #expect(server.isWritable)
        try await server.makeApplication().test(.router) { client in
            try await client.execute(
                uri: "/api/v1/items/coffee", method: .delete, headers: [.authorization: "Bearer k-123456"]
            ) { response in
                #expect(response.status == .noContent)
            }
            try await client.execute(uri: "/healthz", method: .get) { response in
                let body = try json(response.body)
                #expect(body["mode"] as? String == "write")
            }
        }
    }

    @Test func aWriteRequestFindsTheStoreWritableAsSoonAsTheIngestEnds() async throws {
        let (server, ingest, dir) = try await Self.serverBesideAnIngest()
        defer { _ = dir }
        #expect(!server.isWritable)
        ingest.end()
        try await server.makeApplication().test(.router) { client in
            try await client.execute(
                uri: "/api/v1/items/coffee", method: .delete, headers: [.authorization: "Bearer k-123456"]
            ) { response in
                #expect(response.status == .noContent)
            }
        }
        #expect(server.isWritable)
    }

    @Test func theAPIKeyComparisonChecksEveryByte() {
        #expect(SearchServer.constantTimeEqual("s3cret-key", "s3cret-key"))
        #expect(!SearchServer.constantTimeEqual("s3cret-kez", "s3cret-key"))
        #expect(!SearchServer.constantTimeEqual("s3cret-key-and-more", "s3cret-key"))
        #expect(!SearchServer.constantTimeEqual("s3cret", "s3cret-key"))
        #expect(!SearchServer.constantTimeEqual("", "s3cret-key"))
        #expect(!SearchServer.constantTimeEqual("x", ""))
        #expect(SearchServer.constantTimeEqual("", ""))
    }

    @Test func whileAnotherProcessWritesTheServerReadsAndSeesNewItems() async throws {
        // The writer lock is per open file, so the first server's write-mode store stands in for an ingest.
        let (writer, dir) = try await makeServer()
        var configuration = ServerConfiguration()
        configuration.apiKey = "k-123456"
        let server = try SearchServer(
            configuration: configuration, storeDirectory: dir.location,
            featurizer: try await Fixture.shared.loadFeaturizer())
        #expect(!server.isWritable)
        let ingest = try writer.storeAccess.store
        let vector = try #require(try ingest.vector(ofItem: "coffee"))
        try ingest.put(
            [StagedItem(id: "coffee-copy", title: "Copy", url: "/nowhere.png", attributes: "{}", contentHash: "x")],
            vectors: vector)
        #expect(try server.storeAccess.refreshIfChanged())
        try await server.makeApplication().test(.router) { client in
            let body = try JSONSerialization.data(withJSONObject: ["vector": vector, "k": 2])
            try await client.execute(
                uri: "/api/v1/search", method: .post, headers: .contentType("application/json"),
                body: ByteBuffer(data: body)
            ) { response in
                let ids = try matchIDs(response.body)
                #expect(Set(ids) == ["coffee", "coffee-copy"])
            }
            try await client.execute(
                uri: "/api/v1/items/coffee", method: .delete, headers: [.authorization: "Bearer k-123456"]
            ) { response in
                #expect(response.status == .conflict)
                #expect(errorCode(response.body) == "store_read_only")
            }
            try await client.execute(uri: "/healthz", method: .get) { response in
                let body = try json(response.body)
                #expect(body["mode"] as? String == "read")
            }
        }
    }
}
