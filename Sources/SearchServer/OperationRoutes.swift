import Catalogue
import Foundation
import Hummingbird

extension SearchServer {
    func addOperationRoutes(to routes: RouteRecorder) {
        routes.add(.get, "/healthz") { _, _ in
            // A catalogue that does not answer makes the server unhealthy: 503 with the reason, so
            // a load balancer sends the traffic to another replica until the database is back.
            let roundTrip = try await self.pingCatalogue()
            let store = self.catalogue.reader
            return try Self.json(
                HealthResponse(
                    status: "ok", items: try await store.count(),
                    model: try await store.binding()?.model ?? self.featurizer.descriptor.id,
                    mode: self.catalogue.isWritable ? "write" : "read", backend: store.kind,
                    catalogue: CatalogueHealth(reachable: true, roundTripMS: roundTrip)))
        }
        routes.add(.get, "/metrics") { _, _ in
            let store = self.catalogue.reader
            // Metrics answer while the database is down too, saying so, so that it can be alerted on.
            let roundTrip = try? await self.pingCatalogue()
            self.metrics.catalogueHealth(backend: store.kind, roundTripMS: roundTrip)
            if roundTrip != nil {
                self.metrics.catalogue(
                    items: (try? await store.count()) ?? 0, pending: (try? await store.pendingCount()) ?? 0)
            }
            self.metrics.sseClients(await self.hub.subscriberCount)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: self.metrics.exposition())))
        }
        routes.add(.get, "/openapi.yaml") { _, _ in
            guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml"),
                let data = FileManager.default.contents(atPath: url.path)
            else { throw APIError.notFound("openapi.yaml: not bundled with this build") }
            return Response(
                status: .ok, headers: [.contentType: "application/yaml; charset=utf-8", .cacheControl: "no-cache"],
                body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        routes.add(.get, "/") { _, _ in try self.webFile("") }
        routes.add(.get, "/ui") { _, _ in try self.webFile("") }
        routes.add(.get, "/ui/**") { _, context in
            try self.webFile(context.parameters.getCatchAll().joined(separator: "/"))
        }
    }

    /// One round trip to the catalogue, in milliseconds; 503 with the catalogue's one-line reason
    /// when it does not answer (a database backend bounds its own wait).
    func pingCatalogue() async throws(APIError) -> Double {
        let started = ContinuousClock.now
        do {
            try await catalogue.reader.ping()
        } catch {
            throw APIError.from(catalogue: error)
        }
        return Self.milliseconds(since: started)
    }

    private func webFile(_ path: String) throws -> Response {
        guard let staticFiles else { throw APIError.notFound("the web UI is not bundled with this build") }
        return try staticFiles.response(for: path)
    }
}
