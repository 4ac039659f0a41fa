import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import VSearchTesting

@testable import SearchServer

@Suite(.serialized, PostgresScope()) struct OperationsTests {
    @Test(arguments: Backend.allCases) func healthMetricsAndTheOpenAPIDocument(_ backend: Backend) async throws {
        let (server, dir) = try await makeServer(backend)
        defer { _ = dir }
        try await server.makeApplication().test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
                let health = try json(response.body)
                #expect(health["status"] as? String == "ok")
                #expect(health["items"] as? Int == Fixture.catalogue.count)
                #expect(health["model"] as? String == server.featurizer.descriptor.id)
                #expect(health["mode"] as? String == "write")
                #expect(health["backend"] as? String == (backend == .postgres ? "postgresql" : "embedded"))
                let catalogue = try #require(health["catalogue"] as? [String: Any])
                #expect(catalogue["reachable"] as? Bool == true)
                #expect((catalogue["round_trip_ms"] as? Double ?? -1) >= 0)
            }
            try await client.execute(
                uri: "/api/v1/search", method: .post, headers: .contentType("image/png"),
                body: try photoBytes("skimage/coffee.png")
            ) { response in #expect(response.status == .ok) }
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("text/plain") == true)
                let text = String(buffer: response.body)
                #expect(
                    text.contains(#"vsearch_http_requests_total{route="/api/v1/search",method="POST",status="200"} 1"#))
                #expect(text.contains("vsearch_http_request_duration_seconds_bucket"))
                #expect(text.contains("vsearch_featurizer_batch_size_count 1"))
                #expect(text.contains("vsearch_catalogue_items \(Fixture.catalogue.count)"))
                #expect(text.contains(#"vsearch_match_events_total{source="api"} 1"#))
                #expect(text.contains("vsearch_sse_clients 0"))
                let kind = backend == .postgres ? "postgresql" : "embedded"
                #expect(text.contains(#"vsearch_catalogue_up{backend="\#(kind)"} 1"#))
                #expect(text.contains(#"vsearch_catalogue_round_trip_seconds{backend="\#(kind)"}"#))
            }
            try await client.execute(uri: "/openapi.yaml", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).hasPrefix("openapi: 3.1"))
            }
        }
    }

    /// Every route the server registers is described in the OpenAPI document, with its method.
    @Test func theOpenAPIDocumentDescribesEveryRoute() async throws {
        let (server, dir) = try await makeServer()
        defer { _ = dir }
        let text = try String(contentsOfFile: Repository.root + "/Sources/SearchServer/openapi.yaml", encoding: .utf8)
        var described = Set<String>()
        var path: String?
        for line in text.components(separatedBy: "\n") {
            if line.hasPrefix("  /"), line.hasSuffix(":") {
                path = String(line.dropFirst(2).dropLast())
            } else if !line.hasPrefix(" "), !line.isEmpty {
                path = nil
            } else if let path, line.hasPrefix("    "), !line.hasPrefix("     "), line.hasSuffix(":") {
                described.insert(line.trimmingCharacters(in: .whitespaces).dropLast().uppercased() + " " + path)
            }
        }
        let registered = Set(server.routes.map { "\($0.method) \($0.path)" })
        #expect(registered.count >= 18)
        #expect(registered.subtracting(described).isEmpty, "not in openapi.yaml: \(registered.subtracting(described))")
        let operations = described.filter { !$0.hasPrefix("PARAMETERS ") }
        #expect(operations.subtracting(registered).isEmpty, "not served: \(operations.subtracting(registered))")
    }

    @Test func staticFilesWithTypesCachingAndNoTraversal() async throws {
        let web = try TemporaryDirectory()
        try "<!doctype html><title>t</title>".write(toFile: web.path + "/index.html", atomically: true, encoding: .utf8)
        try "export const x = 1;".write(toFile: web.path + "/app.js", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: web.path + "/css", withIntermediateDirectories: true)
        try "body{}".write(toFile: web.path + "/css/style.css", atomically: true, encoding: .utf8)
        try "secret".write(toFile: web.path + "/.env", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(
            atPath: web.path + "/escape.txt", withDestinationPath: Repository.root + "/Package.swift")
        let (server, dir) = try await makeServer { $0.webRoot = web.path }
        defer { _ = dir }
        try await server.makeApplication().test(.router) { client in
            for (uri, type) in [
                ("/", "text/html"), ("/ui", "text/html"), ("/ui/", "text/html"), ("/ui/app.js", "text/javascript"),
                ("/ui/css/style.css", "text/css"),
            ] {
                try await client.execute(uri: uri, method: .get) { response in
                    #expect(response.status == .ok, "\(uri)")
                    #expect(response.headers[.contentType]?.hasPrefix(type) == true, "\(uri)")
                    #expect(response.headers[.cacheControl] != nil)
                }
            }
            for uri in [
                "/ui/../Package.swift", "/ui/%2e%2e/Package.swift", "/ui/.env", "/ui/escape.txt", "/ui/css",
                "/ui/missing.js", "/ui/css/../../Package.swift",
            ] {
                try await client.execute(uri: uri, method: .get) { response in
                    #expect(response.status == .notFound, "\(uri)")
                }
            }
        }
        // The bundled UI is served when no --web-root is given.
        let (bundled, bundledDir) = try await makeServer()
        defer { _ = bundledDir }
        try await bundled.makeApplication().test(.router) { client in
            try await client.execute(uri: "/", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains("<html"))
            }
        }
    }

    @Test func corsPreflightAndHeaders() async throws {
        let (server, dir) = try await makeServer { $0.corsOrigins = ["https://shop.example"] }
        defer { _ = dir }
        try await server.makeApplication().test(.router) { client in
            try await client.execute(
                uri: "/api/v1/search", method: .options,
                headers: [.origin: "https://shop.example", .accessControlRequestMethod: "POST"]
            ) { response in
                #expect(response.status == .noContent)
                #expect(response.headers[.accessControlAllowOrigin] == "https://shop.example")
                #expect(response.headers[.accessControlAllowMethods]?.contains("POST") == true)
                #expect(response.headers[.accessControlAllowHeaders]?.contains("Authorization") == true)
            }
            try await client.execute(
                uri: "/api/v1/search", method: .options,
                headers: [.origin: "https://evil.example", .accessControlRequestMethod: "POST"]
            ) { response in
                #expect(response.headers[.accessControlAllowOrigin] == nil)
            }
            try await client.execute(uri: "/healthz", method: .get, headers: [.origin: "https://shop.example"]) {
                response in
                #expect(response.headers[.accessControlAllowOrigin] == "https://shop.example")
            }
            try await client.execute(
                uri: "/api/v1/items/none", method: .get, headers: [.origin: "https://shop.example"]
            ) {
                response in
                #expect(response.status == .notFound)
                #expect(response.headers[.accessControlAllowOrigin] == "https://shop.example")
            }
        }
        // With no origins configured, only the seed's POST /matches is open to other origins.
        let (closed, closedDir) = try await makeServer()
        defer { _ = closedDir }
        try await closed.makeApplication().test(.router) { client in
            try await client.execute(uri: "/matches", method: .post, headers: [.origin: "http://old-page.example"]) {
                response in
                #expect(response.headers[.accessControlAllowOrigin] == "*")
            }
            try await client.execute(uri: "/healthz", method: .get, headers: [.origin: "http://old-page.example"]) {
                response in
                #expect(response.headers[.accessControlAllowOrigin] == nil)
            }
        }
    }
}
