import Catalogue
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ImageFetching
import NIOCore
import Testing
import VSearchTesting

@testable import SearchServer

/// Says what test names resolve to, without asking any DNS server.
actor FakeResolver: HostResolver {
    static let publicAddress = IPAddress("93.184.215.14")!
    private let names: [String: [IPAddress]] = [
        "images.example.test": [publicAddress],
        // A name that looks public and resolves to loopback, as a hostile DNS answer would.
        "internal.example.test": [IPAddress("127.0.0.1")!],
        "mixed.example.test": [publicAddress, IPAddress("10.0.0.7")!],
    ]
    private(set) var lookups: [String] = []

    func addresses(of host: String) throws -> [IPAddress] {
        lookups.append(host)
        guard let addresses = names[host] else { throw TestFailure("\(host): unknown test name") }
        return addresses
    }
}

/// Records every connection the guard lets through, and makes each of them to 127.0.0.1 whatever
/// address was asked for: a broken guard shows up here as a recorded address, never as traffic.
actor RecordingConnector: FetchConnector {
    struct Attempt: Equatable {
        var url: String
        var address: IPAddress
    }

    private(set) var attempts: [Attempt] = []

    func get(_ url: String, connectingTo address: IPAddress, limit: Int, options: FetchOptions) async throws
        -> FetchResponse
    {
        attempts.append(Attempt(url: url, address: address))
        return try await HTTPClientConnector().get(
            url, connectingTo: IPAddress("127.0.0.1")!, limit: limit, options: options)
    }
}

/// The guard of the server's client-supplied URLs, with the fake resolver and recording connector.
struct GuardedFetch {
    let resolver = FakeResolver()
    let connector = RecordingConnector()

    func configure(_ configuration: inout ServerConfiguration, allowing allowed: [String] = []) {
        configuration.apiKey = "s3cret-key"
        configuration.fetch.fetchGuard = FetchGuard(
            policy: FetchAddressPolicy(allowing: allowed.flatMap { FetchAddressPolicy.blocks(named: $0) ?? [] }),
            resolver: resolver, connector: connector)
    }
}

/// A real image server on 127.0.0.1 (only): `/photo.jpg`, and `/redirect?to=URL`, a 302 to URL.
func withImageServer(_ body: (Int) async throws -> Void) async throws {
    let photo = try photoBytes("skimage/rocket.jpg")
    let router = Router()
    router.get("/photo.jpg") { _, _ in
        Response(status: .ok, headers: [.contentType: "image/jpeg"], body: .init(byteBuffer: photo))
    }
    router.get("/redirect") { request, _ in
        Response(status: .found, headers: [.location: request.uri.queryParameters.get("to") ?? "/"])
    }
    let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
    let app = Application(
        router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
        onServerRunning: { portSink.yield($0.localAddress?.port ?? 0) })
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await app.runService(gracefulShutdownSignals: []) }
        defer { group.cancelAll() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else { throw TestFailure("the image server did not start") }
        try await body(port)
    }
}

@Suite(.serialized) struct FetchGuardTests {
    static let auth: HTTPFields = [.authorization: "Bearer s3cret-key", .contentType: "application/json"]

    @Test func clientURLsToNonPublicAddressesAreRefusedBeforeAnyConnection() async throws {
        let fetch = GuardedFetch()
        let (server, dir) = try await makeServer { fetch.configure(&$0) }
        defer { _ = dir }
        try await withImageServer { port in
            let photo = "http://images.example.test:\(port)/photo.jpg"
            let refused = [
                "http://127.0.0.1:\(port)/photo.jpg",
                "http://10.1.2.3/x.jpg",
                "http://172.16.0.1/x.jpg",
                "http://172.31.255.254/x.jpg",
                "http://192.168.1.1/x.jpg",
                "http://169.254.169.254/latest/meta-data/",
                "http://[::1]:\(port)/photo.jpg",
                "http://[fd12:3456::1]/x.jpg",
                "http://[fe80::1]/x.jpg",
                "http://[::ffff:127.0.0.1]:\(port)/photo.jpg",
                "http://[::ffff:169.254.169.254]/x.jpg",
                "http://0.0.0.0:\(port)/photo.jpg",
                "http://224.0.0.1/x.jpg",
                "http://internal.example.test:\(port)/photo.jpg",
                "http://mixed.example.test:\(port)/photo.jpg",
                "http://images.example.test:\(port)/redirect?to=http://127.0.0.1:\(port)/photo.jpg",
                "http://images.example.test:\(port)/redirect?to=http://internal.example.test:\(port)/photo.jpg",
            ]
            try await server.makeApplication().test(.router) { client in
                for url in refused {
                    let body = ByteBuffer(string: #"{"url": "\#(url)"}"#)
                    try await client.execute(
                        uri: "/api/v1/search", method: .post, headers: .contentType("application/json"), body: body
                    ) { response in
                        #expect(response.status == .forbidden, "\(url): \(String(buffer: response.body))")
                        #expect(errorCode(response.body) == "url_refused", "\(url)")
                        let message = try #require((try json(response.body)["error"] as? [String: Any])?["message"])
                        let text = try #require(message as? String)
                        #expect(text.hasPrefix(url + ": refused: "), "\(text)")
                        #expect(!text.contains("\n"))
                    }
                }
                // The same URLs are refused for items, created or changed.
                for url in [
                    "http://169.254.169.254/latest/meta-data/", "http://internal.example.test:\(port)/photo.jpg",
                ] {
                    let body = ByteBuffer(string: #"{"id": "meta", "title": "Meta", "url": "\#(url)"}"#)
                    try await client.execute(uri: "/api/v1/items", method: .post, headers: Self.auth, body: body) {
                        response in
                        #expect(response.status == .forbidden, "\(String(buffer: response.body))")
                        #expect(errorCode(response.body) == "url_refused")
                    }
                    try await client.execute(
                        uri: "/api/v1/items/rocket", method: .patch, headers: Self.auth,
                        body: ByteBuffer(string: #"{"url": "\#(url)"}"#)
                    ) { response in
                        #expect(response.status == .forbidden, "\(String(buffer: response.body))")
                        #expect(errorCode(response.body) == "url_refused")
                    }
                }
                try await client.execute(uri: "/api/v1/items/meta", method: .get) { response in
                    #expect(response.status == .notFound)
                }
                // A public name is fetched, through the address it was checked at.
                try await client.execute(
                    uri: "/api/v1/search?k=1", method: .post, headers: .contentType("application/json"),
                    body: ByteBuffer(string: #"{"url": "\#(photo)"}"#)
                ) { response in
                    #expect(response.status == .ok, "\(String(buffer: response.body))")
                    let ids = try matchIDs(response.body)
                    #expect(ids == ["rocket"])
                }
            }
            // Only public addresses were ever dialled: the two redirects' first hops and the photo.
            let attempts = await fetch.connector.attempts
            #expect(attempts.map(\.address) == Array(repeating: FakeResolver.publicAddress, count: 3))
            #expect(attempts.last?.url == photo)
        }
    }

    @Test func theAllowFlagLetsLoopbackThroughAndNothingElse() async throws {
        let fetch = GuardedFetch()
        let (server, dir) = try await makeServer { fetch.configure(&$0, allowing: ["loopback"]) }
        defer { _ = dir }
        try await withImageServer { port in
            let loopback = "http://127.0.0.1:\(port)/photo.jpg"
            let allowed = [
                loopback, "http://internal.example.test:\(port)/photo.jpg",
                "http://images.example.test:\(port)/redirect?to=\(loopback)",
            ]
            try await server.makeApplication().test(.router) { client in
                for url in allowed {
                    try await client.execute(
                        uri: "/api/v1/search?k=1", method: .post, headers: .contentType("application/json"),
                        body: ByteBuffer(string: #"{"url": "\#(url)"}"#)
                    ) { response in
                        #expect(response.status == .ok, "\(url): \(String(buffer: response.body))")
                        let ids = try matchIDs(response.body)
                        #expect(ids == ["rocket"])
                    }
                }
                for url in ["http://10.1.2.3/x.jpg", "http://169.254.169.254/latest/meta-data/"] {
                    try await client.execute(
                        uri: "/api/v1/search", method: .post, headers: .contentType("application/json"),
                        body: ByteBuffer(string: #"{"url": "\#(url)"}"#)
                    ) { response in
                        #expect(response.status == .forbidden, "\(url)")
                        #expect(errorCode(response.body) == "url_refused")
                    }
                }
                // An item created from a loopback URL, which the flag allows.
                try await client.execute(
                    uri: "/api/v1/items", method: .post, headers: Self.auth,
                    body: ByteBuffer(string: #"{"id": "local", "title": "Local", "url": "\#(loopback)"}"#)
                ) { response in
                    #expect(response.status == .created, "\(String(buffer: response.body))")
                }
            }
            let addresses = await fetch.connector.attempts.map(\.address)
            #expect(Set(addresses) == [IPAddress("127.0.0.1")!, FakeResolver.publicAddress])
        }
    }

    @Test func theConnectorDialsTheCheckedAddressNotTheURLsHost() async throws {
        // The real connector, given an IPv6 URL and the IPv4 loopback address, must reach the IPv4
        // server: the override holds for bracketed hosts too, so no lookup of its own can happen.
        try await withImageServer { port in
            var options = FetchOptions()
            options.connectTimeout = .seconds(5)
            let response = try await HTTPClientConnector().get(
                "http://[::1]:\(port)/photo.jpg", connectingTo: IPAddress("127.0.0.1")!, limit: 1 << 20,
                options: options)
            #expect(response.status == 200)
            #expect(response.body.prefix(2) == [0xFF, 0xD8])
            let redirect = try await HTTPClientConnector().get(
                "http://localhost:\(port)/redirect?to=/photo.jpg", connectingTo: IPAddress("127.0.0.1")!,
                limit: 1 << 20, options: options)
            #expect(redirect.status == 302)
            #expect(redirect.location == "/photo.jpg")
        }
    }
}
