import Foundation
import HTTPTypes
import Hummingbird
import ServiceLifecycle

extension SearchServer {
    func addMatchRoutes(to routes: RouteRecorder) {
        routes.add(.get, "/api/v1/matches/latest") { _, _ in
            guard let event = await self.hub.latest else { return Response(status: .noContent) }
            return try Self.json(event)
        }
        routes.add(.get, "/api/v1/matches/recent") { request, _ in
            let limit = try Self.integer(
                request.uri.queryParameters.get("limit"), name: "limit", default: 20, range: 1...self.hub.capacity)
            return try Self.json(EventList(events: await self.hub.recent(limit: limit)))
        }
        routes.add(.get, "/api/v1/matches/:event_id/query.jpg") { _, context in
            let id = try context.parameters.require("event_id")
            guard let jpeg = await self.hub.queryImage(eventID: id) else {
                throw APIError.notFound("event '\(id)': no query picture kept")
            }
            return Response(
                status: .ok, headers: [.contentType: "image/jpeg", .cacheControl: "public, max-age=3600"],
                body: .init(byteBuffer: ByteBuffer(bytes: jpeg)))
        }
        routes.add(.get, "/api/v1/matches/stream") { request, _ in await self.stream(request) }
        routes.add(.post, "/matches") { request, _ in try await self.seedMatches(request) }
    }

    /// Server-Sent Events: every new match event, and a keep-alive comment when idle.
    ///
    /// A client reconnecting with `Last-Event-ID` first gets the recent events it missed.
    private func stream(_ request: Request) async -> Response {
        let hub = self.hub
        let metrics = self.metrics
        let (id, messages) = await hub.subscribe()
        metrics.sseClients(await hub.subscriberCount)
        var missed: [MatchEvent] = []
        if let last = request.headers[.lastEventID] {
            missed = await hub.recent(limit: hub.capacity).reversed().filter { $0.eventID > last }
        }
        let keepAlive = configuration.keepAliveInterval
        let body = ResponseBody { [missed] writer in
            let pinger = Task {
                while !Task.isCancelled {
                    try await Task.sleep(for: keepAlive)
                    await hub.keepAlive(id)
                }
            }
            // On graceful shutdown the stream ends, so the server can drain and stop.
            await withGracefulShutdownHandler {
                do {
                    try await writer.write(ByteBuffer(string: ": connected\nretry: 3000\n\n"))
                    for event in missed { try await writer.write(Self.sse(event)) }
                    for await message in messages {
                        switch message {
                        case .event(let event): try await writer.write(Self.sse(event))
                        case .keepAlive: try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                        }
                    }
                    try await writer.finish(nil)
                } catch {
                    // The client went away; nothing to answer.
                }
            } onGracefulShutdown: {
                Task { await hub.unsubscribe(id) }
            }
            pinger.cancel()
            await hub.unsubscribe(id)
            metrics.sseClients(await hub.subscriberCount)
        }
        return Response(
            status: .ok,
            headers: [
                .contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-cache",
                .init("X-Accel-Buffering")!: "no",
            ],
            body: body)
    }

    static func sse(_ event: MatchEvent) -> ByteBuffer {
        let json = (try? APIJSON.encode(event)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return ByteBuffer(string: "event: match\nid: \(event.eventID)\ndata: \(json)\n\n")
    }

    /// How this server's absolute URLs start, for answers to pages on other origins.
    var publicURL: PublicURL {
        PublicURL(
            configured: configuration.publicURL.flatMap(PublicURL.normalized),
            fallback: "http://\(configuration.host):\(configuration.port)")
    }

    /// The original page's `POST /matches`: the matches of the latest search that found any.
    ///
    /// The original search Lambda stored a result only when it had matches, so an empty search
    /// leaves the previous matches on the page, as it did there.
    private func seedMatches(_ request: Request) async throws -> Response {
        let latest = await hub.recent(limit: hub.capacity).first { !$0.matches.isEmpty }
        guard let latest else { return try Self.json(SeedAnswer.noMatches) }
        return try Self.json(try SeedAnswer.matches(latest.matches, baseURL: publicURL.base(for: request.head)))
    }
}

struct EventList: Encodable {
    var events: [MatchEvent]
}

extension HTTPField.Name {
    static var lastEventID: Self { .init("Last-Event-ID")! }
}
