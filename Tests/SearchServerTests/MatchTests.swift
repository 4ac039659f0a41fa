import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import VSearchTesting

@testable import SearchServer

/// Runs `body`, failing if it takes longer than `seconds` (so a broken stream cannot hang the suite).
func withTimeout<T: Sendable>(_ seconds: Double, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else {
            throw TestFailure("timed out after \(seconds) s")
        }
        return value
    }
}

/// Reads a streaming body until `done` holds for the text read so far.
struct StreamReader {
    var iterator: HTTPClientResponse.Body.AsyncIterator
    var text = ""

    mutating func read(until done: (String) -> Bool) async throws -> String {
        while !done(text) {
            guard let chunk = try await iterator.next() else { throw TestFailure("the stream ended: \(text)") }
            text += String(buffer: chunk)
        }
        return text
    }
}

@Suite(.serialized, PostgresScope()) struct MatchTests {
    @Test(arguments: Backend.allCases) func theLiveStreamDeliversASearchMadeThroughTheAPI(_ backend: Backend)
        async throws
    {
        let (server, dir) = try await makeServer(backend) { $0.keepAliveInterval = .milliseconds(300) }
        defer { _ = dir }
        try await server.makeApplication().test(.live) { client in
            let port = try #require(client.port)
            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            var failure: (any Error)?
            do {
                // Both limits only keep a broken stream from hanging the suite: under the load of the whole
                // suite in one process a search can take many seconds, and the test waits for its event.
                try await withTimeout(300) {
                    let response = try await http.execute(
                        HTTPClientRequest(url: "http://127.0.0.1:\(port)/api/v1/matches/stream"), timeout: .seconds(300)
                    )
                    #expect(response.status == .ok)
                    #expect(response.headers.first(name: "content-type")?.hasPrefix("text/event-stream") == true)
                    var reader = StreamReader(iterator: response.body.makeAsyncIterator())
                    let preamble = try await reader.read { $0.contains(": keep-alive\n\n") }
                    #expect(preamble.hasPrefix(": connected"))
                    let eventID = try await client.execute(
                        uri: "/api/v1/search?k=2", method: .post, headers: .contentType("image/png"),
                        body: try photoBytes("skimage/coffee.png")
                    ) { response in try #require(try json(response.body)["event_id"] as? String) }
                    let streamed = try await reader.read {
                        $0.contains("event: match\nid: \(eventID)\ndata: ") && $0.hasSuffix("\n\n")
                    }
                    let dataLine = try #require(streamed.components(separatedBy: "\n").last { $0.hasPrefix("data: ") })
                    let event = try json(ByteBuffer(string: String(dataLine.dropFirst(6))))
                    #expect(event["event_id"] as? String == eventID)
                    #expect((event["matches"] as? [[String: Any]])?.first?["id"] as? String == "coffee")
                }
            } catch {
                failure = error
            }
            try await http.shutdown()
            if let failure { throw failure }
        }
    }

    @Test func aSlowSubscriberIsDroppedAndOthersCarryOn() async throws {
        let hub = MatchHub(capacity: 10, subscriberBuffer: 2)
        let (_, slow) = await hub.subscribe()
        let timing = SearchTiming(decodeMS: 0, featurizeMS: 0, searchMS: 0, totalMS: 0)
        for _ in 0..<3 { await hub.publish(source: .api, matches: [], timing: timing) }
        #expect(await hub.subscriberCount == 0)
        var received: [String] = []
        for await message in slow {
            if case .event(let event) = message { received.append(event.eventID) }
        }
        #expect(received == ["e-000001", "e-000002"])
        let (_, fresh) = await hub.subscribe()
        await hub.publish(source: .device, device: "cam-1", matches: [], timing: timing, latencyMS: 12)
        var iterator = fresh.makeAsyncIterator()
        guard case .event(let event) = await iterator.next() else { throw TestFailure("no event") }
        #expect(event.eventID == "e-000004")
        #expect(event.device == "cam-1")
        #expect(await hub.recent(limit: 2).map(\.eventID) == ["e-000004", "e-000003"])
    }

    @Test(arguments: Backend.allCases) func recentEventsAndTheirQueryPicturesSurviveARestart(_ backend: Backend)
        async throws
    {
        let dir: ServedCatalogue
        let eventID: String
        do {
            let (server, storeDir) = try await makeServer(backend)
            dir = storeDir
            _ = await server.hub.subscribe()  // someone watches, so the query picture is made and kept
            eventID = try await server.makeApplication().test(.router) { client in
                try await client.execute(
                    uri: "/api/v1/search", method: .post, headers: .contentType("image/jpeg"),
                    body: try photoBytes("mate/LadyBird.jpg")
                ) { response in try #require(try json(response.body)["event_id"] as? String) }
            }
            await server.shutdown()
        }
        let restarted = try await serve(dir, configuration: ServerConfiguration())
        #expect(restarted.isWritable)
        try await restarted.makeApplication().test(.router) { client in
            try await client.execute(uri: "/api/v1/matches/recent?limit=5", method: .get) { response in
                let events = try #require(try json(response.body)["events"] as? [[String: Any]])
                #expect(events.map { $0["event_id"] as? String } == [eventID])
            }
            try await client.execute(uri: "/api/v1/matches/\(eventID)/query.jpg", method: .get) { response in
                #expect(response.status == .ok)
            }
            // The next event continues the numbering.
            let next = try await client.execute(
                uri: "/api/v1/search", method: .post, headers: .contentType("image/png"),
                body: try photoBytes("skimage/coffee.png")
            ) { response in try json(response.body)["event_id"] as? String }
            #expect(next != eventID)
            #expect((next ?? "") > eventID)
        }
    }

    @Test(arguments: Backend.allCases) func noEventYetIsNoContent(_ backend: Backend) async throws {
        let (server, dir) = try await makeServer(backend)
        defer { _ = dir }
        try await server.makeApplication().test(.router) { client in
            try await client.execute(uri: "/api/v1/matches/latest", method: .get) { response in
                #expect(response.status == .noContent)
            }
            try await client.execute(uri: "/api/v1/matches/e-999999/query.jpg", method: .get) { response in
                #expect(response.status == .notFound)
            }
            try await client.execute(uri: "/matches", method: .post) { response in
                let body = try json(response.body)
                #expect(body["body"] as? String == "NO MATCHES")
            }
        }
    }
}
