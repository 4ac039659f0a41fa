import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@testable import Catalogue
@testable import SearchServer

/// Many clients at once against one real server on loopback, then a look at the store itself.
@Suite(.serialized) struct ConcurrentWriteTests {
    /// What one request was and how the server answered it.
    enum Operation: Sendable {
        case upload(id: String)
        case delete(id: String)
        case search
    }

    /// 200 requests at once: 110 uploads, 50 deletes (the 8 fixture items and 42 items being
    /// uploaded at that moment) and 40 searches. Afterwards every acknowledged item is in the
    /// store exactly once, ready, with its vector; every acknowledged delete is gone with its
    /// vector; and the index holds exactly the ready items' vectors (nothing half-written).
    @Test func twoHundredConcurrentUploadsDeletesAndSearchesLeaveAConsistentStore() async throws {
        let key = "concurrent-key"
        let (server, dir) = try await makeServer { $0.apiKey = key }
        defer { _ = dir }
        let photos = try Fixture.catalogue.map { try photoBytes($0.photo) }
        var operations: [Operation] = (0..<110).map { .upload(id: "up-\($0)") }
        operations += Fixture.catalogue.map { .delete(id: $0.id) }
        operations += (0..<42).map { .delete(id: "up-\($0)") }
        operations += (0..<40).map { _ in .search }
        operations.shuffle()
        let work = operations
        #expect(work.count == 200)

        let answers = try await server.makeApplication().test(.live) { client in
            let port = try #require(client.port)
            var configuration = HTTPClient.Configuration()
            configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 200
            let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
            let result: Result<[(Operation, Int)], any Error>
            do {
                result = .success(
                    try await withThrowingTaskGroup(of: (Operation, Int).self) { group in
                        for (n, operation) in work.enumerated() {
                            let request = Self.request(
                                operation, port: port, key: key, photo: photos[n % photos.count])
                            group.addTask {
                                let response = try await http.execute(request, timeout: .seconds(600))
                                _ = try await response.body.collect(upTo: 1 << 20)
                                return (operation, Int(response.status.code))
                            }
                        }
                        return try await group.reduce(into: []) { $0.append($1) }
                    })
            } catch {
                result = .failure(error)
            }
            try await http.shutdown()
            return try result.get()
        }

        #expect(answers.count == 200)
        var uploaded = Set<String>()
        var deleted = Set<String>()
        for (operation, status) in answers {
            #expect(status < 500, "\(operation) got \(status)")
            switch operation {
            case .upload(let id):
                // 404: the item was stored, then deleted before the response read it back.
                #expect([201, 404].contains(status), "upload \(id) got \(status)")
                if status == 201 { uploaded.insert(id) }
            case .delete(let id):
                #expect([204, 404].contains(status), "delete \(id) got \(status)")
                if status == 204 { deleted.insert(id) }
            case .search:
                #expect(status == 200)
            }
        }
        #expect(deleted.isSuperset(of: Fixture.catalogue.map(\.id)))

        let store = try server.storeAccess.store
        let items = try store.items()
        #expect(Set(items.map(\.id)).count == items.count)
        for item in items {
            #expect(item.state == .ready, "\(item.id) is \(item.state)")
            #expect(try store.vector(ofItem: item.id) != nil, "\(item.id) has no vector")
        }
        let present = Set(items.map(\.id))
        // An upload acknowledged and not deleted afterwards is there; one whose delete was
        // acknowledged may have been stored again by its upload, if that came last.
        for id in uploaded.subtracting(deleted) {
            #expect(present.contains(id), "\(id) was acknowledged but is missing")
        }
        for id in Fixture.catalogue.map(\.id) { #expect(!present.contains(id), "\(id) was deleted but is present") }
        let index = try #require(store.index)
        #expect(index.count == items.count, "the index holds \(index.count) vectors for \(items.count) items")
        var indexed = Set<UInt64>()
        index.forEachItem { id, _ in indexed.insert(id) }
        #expect(indexed == Set(items.map { UInt64(bitPattern: $0.key) }))
    }

    /// Twenty creates of one id at once: exactly one is acknowledged (201), the others are told
    /// the item exists (409), and the store holds the acknowledged one, not a later overwrite.
    @Test func concurrentCreatesOfOneIDAcknowledgeExactlyOne() async throws {
        let key = "same-id-key"
        let (server, dir) = try await makeServer { $0.apiKey = key }
        defer { _ = dir }
        let photos = try Fixture.catalogue.map { try photoBytes($0.photo) }
        let answers = try await server.makeApplication().test(.live) { client in
            let port = try #require(client.port)
            var configuration = HTTPClient.Configuration()
            configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 20
            let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
            let result: Result<[(photo: Int, status: Int, body: String)], any Error>
            do {
                result = .success(
                    try await withThrowingTaskGroup(of: (photo: Int, status: Int, body: String).self) { group in
                        for n in 0..<20 {
                            let photo = n % photos.count
                            let request = Self.request(.upload(id: "same"), port: port, key: key, photo: photos[photo])
                            group.addTask {
                                let response = try await http.execute(request, timeout: .seconds(600))
                                let body = try await response.body.collect(upTo: 1 << 20)
                                return (photo, Int(response.status.code), String(buffer: body))
                            }
                        }
                        return try await group.reduce(into: []) { $0.append($1) }
                    })
            } catch {
                result = .failure(error)
            }
            try await http.shutdown()
            return try result.get()
        }
        let created = answers.filter { $0.status == 201 }
        #expect(created.count == 1, "\(answers.map(\.status))")
        #expect(answers.filter { $0.status == 409 }.count == 19, "\(answers.map(\.status))")
        for answer in answers where answer.status == 409 { #expect(answer.body.contains("item_exists")) }
        // The stored item is the acknowledged one: its vector is that photo's.
        let store = try server.storeAccess.store
        let winner = try #require(created.first)
        let stored = try #require(try store.vector(ofItem: "same"))
        let fixture = try #require(try store.vector(ofItem: Fixture.catalogue[winner.photo].id))
        #expect(zip(stored, fixture).map { $0 * $1 }.reduce(0, +) > 0.999)
        // And so is its picture: the losers' uploads, cached while they raced, are not what it shows.
        let item = try #require(try store.item(id: "same"))
        let picture = try #require(store.imageBytes(for: item, maxBytes: 1 << 26))
        // Compared by hash: a failing byte-array comparison would diff megabytes for its message.
        #expect(CatalogueStore.contentHash(picture) == CatalogueStore.contentHash(Array(buffer: photos[winner.photo])))
    }

    static func request(_ operation: Operation, port: Int, key: String, photo: ByteBuffer) -> HTTPClientRequest {
        let base = "http://127.0.0.1:\(port)/api/v1"
        switch operation {
        case .upload(let id):
            var request = HTTPClientRequest(url: base + "/items")
            request.method = .POST
            let boundary = "concurrent-\(id)"
            request.headers.add(name: "Authorization", value: "Bearer \(key)")
            request.headers.add(name: "Content-Type", value: "multipart/form-data; boundary=\(boundary)")
            request.body = .bytes(
                multipart(
                    boundary: boundary, fields: [("id", id), ("title", "Item \(id)")],
                    files: [("image", "\(id).jpg", photo)]))
            return request
        case .delete(let id):
            var request = HTTPClientRequest(url: base + "/items/\(id)")
            request.method = .DELETE
            request.headers.add(name: "Authorization", value: "Bearer \(key)")
            return request
        case .search:
            var request = HTTPClientRequest(url: base + "/search?k=3")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "image/jpeg")  // the server sniffs PNG too
            request.body = .bytes(photo)
            return request
        }
    }
}
