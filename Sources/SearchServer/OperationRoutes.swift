import Foundation
import Hummingbird

extension SearchServer {
    func addOperationRoutes(to routes: RouteRecorder) {
        routes.add(.get, "/healthz") { _, _ in
            let store = self.storeAccess.store
            return try Self.json(
                HealthResponse(
                    status: "ok", items: try store.count(), model: store.modelID ?? self.featurizer.descriptor.id,
                    mode: store.mode == .write ? "write" : "read"))
        }
        routes.add(.get, "/metrics") { _, _ in
            let store = self.storeAccess.store
            self.metrics.catalogue(items: (try? store.count()) ?? 0, pending: (try? store.pendingCount()) ?? 0)
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

    private func webFile(_ path: String) throws -> Response {
        guard let staticFiles else { throw APIError.notFound("the web UI is not bundled with this build") }
        return try staticFiles.response(for: path)
    }
}
