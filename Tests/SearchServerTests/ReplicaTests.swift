import AsyncHTTPClient
import Foundation
import NIOCore
import Testing
import VSearchCore
import VSearchTesting

/// A running `vsearch serve` over a PostgreSQL catalogue: one replica of several.
final class Replica: Sendable {
    let port: Int
    let log: String
    private let process: SendableProcess

    static let apiKey = "replica-key-1234"

    init(store url: String, scratch: TemporaryDirectory, name: String, arguments: [String] = []) async throws {
        port = try FreePort.find()
        log = scratch.path + "/\(name).log"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Repository.binary())
        process.arguments = ["serve", "--store", url, "--port", String(port)] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["VSEARCH_MODEL"] = Repository.model
        environment["VSEARCH_API_KEY"] = Self.apiKey
        // Each replica keeps its download cache on its own machine; here, in its own folder.
        environment["VSEARCH_CACHE"] = scratch.path + "/\(name)-cache"
        process.environment = environment
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        process.standardOutput = FileHandle(forWritingAtPath: log)
        process.standardError = FileHandle(forWritingAtPath: log)
        try process.run()
        self.process = SendableProcess(process)
        let port = self.port
        try await waitUntil("vsearch serve \(name) accepting connections") {
            FreePort.accepts(port) || !process.isRunning
        }
        guard process.isRunning else {
            throw TestFailure(
                "vsearch serve \(name) did not start: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        }
    }

    var base: String { "http://127.0.0.1:\(port)" }

    /// Kills the replica as a crash would (SIGKILL) and waits for it.
    func crash() {
        guard process.value.isRunning else { return }
        kill(process.value.processIdentifier, SIGKILL)
        process.value.waitUntilExit()
    }

    /// Stops the replica as an operator would (SIGTERM) and waits for it.
    func stop() {
        guard process.value.isRunning else { return }
        process.value.terminate()
        process.value.waitUntilExit()
    }

    deinit {
        if process.value.isRunning {
            kill(process.value.processIdentifier, SIGKILL)
            process.value.waitUntilExit()
        }
    }
}

/// Two replicas, A and B, on a new PostgreSQL copy of the test catalogue, with their logs in `scratch`.
struct ReplicaPair {
    let served: ServedCatalogue
    let scratch: TemporaryDirectory
    let a: Replica
    let b: Replica

    /// Starts both with the same extra `vsearch serve` arguments.
    static func start(_ name: String, arguments: [String] = []) async throws -> ReplicaPair {
        let served = try await ServedCatalogue.fixture(.postgres)
        let scratch = try TemporaryDirectory(name)
        let a = try await Replica(store: served.location, scratch: scratch, name: "a", arguments: arguments)
        let b = try await Replica(store: served.location, scratch: scratch, name: "b", arguments: arguments)
        return ReplicaPair(served: served, scratch: scratch, a: a, b: b)
    }

    /// Stops both replicas (one already killed stays so); a test's `defer` calls it, which also
    /// keeps the catalogue and the replicas' folders alive to the end of the test.
    func stop() {
        a.stop()
        b.stop()
    }
}

/// An HTTP exchange's status and body.
struct Answer {
    var status: Int
    var body: ByteBuffer
    var json: [String: Any] { (try? SearchServerTests.json(body)) ?? [:] }
}

extension HTTPClient {
    func send(
        _ method: String, _ url: String, headers: [(String, String)] = [], body: ByteBuffer? = nil
    ) async throws -> Answer {
        var request = HTTPClientRequest(url: url)
        request.method = .init(rawValue: method)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(body) }
        let response = try await execute(request, timeout: .seconds(300))
        return Answer(status: Int(response.status.code), body: try await response.body.collect(upTo: 20 << 20))
    }

    /// Opens a replica's live stream and reads it up to its preamble, so nothing published later is missed.
    func liveStream(_ base: String) async throws -> StreamReader {
        let response = try await execute(
            HTTPClientRequest(url: base + "/api/v1/matches/stream"), timeout: .seconds(300))
        var reader = StreamReader(iterator: response.body.makeAsyncIterator())
        _ = try await reader.read { $0.contains(": connected\n") }
        return reader
    }
}

/// Two `vsearch serve` processes on one PostgreSQL catalogue, as replicas behind a load balancer.
@Suite(.serialized, PostgresScope()) struct ReplicaTests {
    static let auth = [("Authorization", "Bearer \(Replica.apiKey)")]

    @Test func twoReplicasServeOneCatalogueAndShareTheirMatchEvents() async throws {
        try Repository.requireModelAndPhotos()
        let pair = try await ReplicaPair.start("replicas")
        let (a, b) = (pair.a, pair.b)
        defer { pair.stop() }
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            try await withTimeout(600) { try await Self.exercise(a, b, http) }
        } catch {
            try? await http.shutdown()
            let logs = [a.log, b.log].map { (try? String(contentsOfFile: $0, encoding: .utf8)) ?? "" }
            Issue.record("replica logs:\n\(logs.joined(separator: "\n---\n"))")
            throw error
        }
        try await http.shutdown()
    }

    private static func exercise(_ a: Replica, _ b: Replica, _ http: HTTPClient) async throws {
        for replica in [a, b] {
            let health = try await http.send("GET", replica.base + "/healthz")
            #expect(health.status == 200)
            #expect(health.json["backend"] as? String == "postgresql")
            #expect(health.json["mode"] as? String == "write")
            #expect((health.json["catalogue"] as? [String: Any])?["reachable"] as? Bool == true)
        }

        // An item uploaded through A is found, shown and searchable through B at once.
        let boundary = "replica-boundary"
        let upload = multipart(
            boundary: boundary, fields: [("id", "horse"), ("title", "A horse")],
            files: [("image", "horse.png", try photoBytes("skimage/horse.png"))])
        let created = try await http.send(
            "POST", a.base + "/api/v1/items",
            headers: auth + [("Content-Type", "multipart/form-data; boundary=\(boundary)")], body: upload)
        #expect(created.status == 201, "\(String(buffer: created.body))")
        #expect(try await http.send("GET", b.base + "/api/v1/items/horse").json["title"] as? String == "A horse")
        let thumbnail = try await http.send("GET", b.base + "/api/v1/items/horse/thumbnail?size=64")
        #expect(thumbnail.status == 200, "the uploaded image is in the database, not on A's disk")
        #expect(Array(thumbnail.body.readableBytesView.prefix(2)) == [0xFF, 0xD8])
        let search = try await http.send(
            "POST", b.base + "/api/v1/search?k=1", headers: [("Content-Type", "image/png")],
            body: try photoBytes("skimage/horse.png"))
        #expect(try matchIDs(search.body) == ["horse"])

        // A search made on A reaches B's live stream and B's latest event; each replica's stream has
        // every event once, its own included.
        var streamA = try await http.liveStream(a.base)
        var streamB = try await http.liveStream(b.base)
        let onA = try await http.send(
            "POST", a.base + "/api/v1/search?k=2", headers: [("Content-Type", "image/jpeg")],
            body: try photoBytes("skimage/rocket.jpg"))
        let eventA = try #require(onA.json["event_id"] as? String)
        let seenOnB = try await streamB.read { $0.contains("id: \(eventA)\n") }
        #expect(seenOnB.contains(#""id":"rocket""#))
        let latest = try await http.send("GET", b.base + "/api/v1/matches/latest")
        #expect(latest.json["event_id"] as? String == eventA)
        let onB = try await http.send(
            "POST", b.base + "/api/v1/search?k=2", headers: [("Content-Type", "image/png")],
            body: try photoBytes("skimage/coffee.png"))
        let eventB = try #require(onB.json["event_id"] as? String)
        #expect(eventB > eventA, "event ids are numbered by the database, in order across replicas")
        let seenOnA = try await streamA.read { $0.contains("id: \(eventB)\n") }
        #expect(seenOnA.components(separatedBy: "id: \(eventA)\n").count == 2, "A's own event arrived once")
        _ = try await streamB.read { $0.contains("id: \(eventB)\n") }
        #expect(streamB.text.components(separatedBy: "id: \(eventB)\n").count == 2, "B's own event arrived once")
        #expect(try await http.send("GET", a.base + "/api/v1/matches/latest").json["event_id"] as? String == eventB)
        let recent = try await http.send("GET", a.base + "/api/v1/matches/recent?limit=5")
        let ids = (recent.json["events"] as? [[String: Any]] ?? []).compactMap { $0["event_id"] as? String }
        #expect(ids.prefix(2) == [eventB, eventA])
        // A's query picture reaches B through the database once A has saved it (within a second).
        let pictureURL = b.base + "/api/v1/matches/\(eventA)/query.jpg"
        var picture = try await http.send("GET", pictureURL)
        for _ in 0..<100 where picture.status != 200 {
            try await Task.sleep(for: .milliseconds(100))
            picture = try await http.send("GET", pictureURL)
        }
        #expect(picture.status == 200)

        // Changes and removals through one replica are what the other reads next.
        let patched = try await http.send(
            "PATCH", b.base + "/api/v1/items/horse", headers: auth + [("Content-Type", "application/json")],
            body: ByteBuffer(string: #"{"title": "A white horse"}"#))
        #expect(patched.status == 200)
        #expect(try await http.send("GET", a.base + "/api/v1/items/horse").json["title"] as? String == "A white horse")
        #expect(try await http.send("DELETE", a.base + "/api/v1/items/horse", headers: auth).status == 204)
        #expect(try await http.send("GET", b.base + "/api/v1/items/horse").status == 404)
        let after = try await http.send(
            "POST", b.base + "/api/v1/search?k=1", headers: [("Content-Type", "image/png")],
            body: try photoBytes("skimage/horse.png"))
        #expect(try matchIDs(after.body) != ["horse"])
    }
}

/// A replica killed while it is writing loses nothing it acknowledged.
@Suite(.serialized, PostgresScope()) struct ReplicaCrashTests {
    /// Items are created through A one after another; A is killed with SIGKILL while a create is in
    /// flight. Every create A answered 201 is then listed, shown and searchable through B, with its
    /// vector; the one in flight is either wholly there or wholly absent.
    @Test func aKilledReplicaLosesNoAcknowledgedWrite() async throws {
        try Repository.requireModelAndPhotos()
        let pair = try await ReplicaPair.start("replica-crash")
        let (a, b) = (pair.a, pair.b)
        defer { pair.stop() }
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        defer { _ = http.shutdown() }
        let photos = ["skimage/rocket.jpg", "skimage/coffee.png", "skimage/horse.png", "skimage/astronaut.png"]
        let acknowledged = Locked<[String]>([])
        let writer = Task {
            for index in 0..<40 {
                let id = "crash-\(index)"
                let boundary = "crash-boundary"
                let body = multipart(
                    boundary: boundary, fields: [("id", id), ("title", "Written before the crash \(index)")],
                    files: [("image", "photo", try photoBytes(photos[index % photos.count]))])
                guard
                    let answer = try? await http.send(
                        "POST", a.base + "/api/v1/items",
                        headers: ReplicaTests.auth + [("Content-Type", "multipart/form-data; boundary=\(boundary)")],
                        body: body)
                else { return }
                guard answer.status == 201 else { return }
                acknowledged.withLock { $0.append(id) }
            }
        }
        try await waitUntil("three creates acknowledged") { acknowledged.withLock { $0.count } >= 3 }
        a.crash()
        _ = await writer.result
        let written = acknowledged.withLock { $0 }
        #expect(written.count >= 3 && written.count < 40, "A was killed mid-stream: \(written.count) acknowledged")
        for id in written {
            let item = try await http.send("GET", b.base + "/api/v1/items/\(id)")
            #expect(item.status == 200, "\(id) was acknowledged by A")
            let similar = try await http.send("GET", b.base + "/api/v1/items/\(id)/similar?k=1")
            #expect(similar.status == 200, "\(id) has its vector: \(String(buffer: similar.body))")
        }
        // The create in flight at the kill: an item with a vector, or no item at all.
        let next = "crash-\(written.count)"
        let inFlight = try await http.send("GET", b.base + "/api/v1/items/\(next)")
        if inFlight.status == 200 {
            #expect(try await http.send("GET", b.base + "/api/v1/items/\(next)/similar?k=1").status == 200)
        } else {
            #expect(inFlight.status == 404)
        }
    }
}

/// Two replicas with `--mqtt` in one shared-subscription group, a real Mosquitto and PostgreSQL.
@Suite(.serialized, PostgresScope()) struct SharedDeviceTopicTests {
    /// Each device message is searched by exactly one replica (the broker shares the topic), and its
    /// match event reaches both replicas through the database, once each.
    @Test func replicasInAShareGroupSearchEachDeviceMessageOnce() async throws {
        try Repository.requireModelAndPhotos()
        let broker = try await MosquittoBroker()
        try await broker.start()
        let mqtt = ["--mqtt", broker.url, "--mqtt-share-group", "replicas", "--mqtt-qos", "1"]
        let pair = try await ReplicaPair.start("shared-devices", arguments: mqtt)
        let (a, b) = (pair.a, pair.b)
        defer { pair.stop() }
        // A real query vector: the rocket photo's, sent as a device would in the original payload.
        let embedded = try await runVSearch(["embed", Repository.photos + "/skimage/rocket.jpg"])
        try #require(embedded.status == 0, "\(embedded.error)")
        let line = try #require(
            try JSONSerialization.jsonObject(with: Data(embedded.output.utf8)) as? [String: Any])
        let vector = try #require(line["vector"] as? [Double])
        let payload = #"{"features": ""# + vector.map { String(Float($0)) }.joined(separator: ",") + #""}"#
        let devices = (0..<20).map { "cam-\($0)" }
        for device in devices {
            let sent = try await runProcess(
                "/usr/bin/mosquitto_pub",
                ["-p", String(broker.port), "-q", "1", "-t", "devices/\(device)/features", "-m", payload])
            try #require(sent.status == 0, "\(sent.error)")
        }

        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        defer { _ = http.shutdown() }
        for replica in [a, b] {
            var events: [[String: Any]] = []
            for _ in 0..<300 {
                let recent = try await http.send("GET", replica.base + "/api/v1/matches/recent?limit=50")
                events = (recent.json["events"] as? [[String: Any]] ?? []).filter {
                    $0["source"] as? String == "device"
                }
                if events.count >= devices.count { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            let named = events.compactMap { $0["device"] as? String }
            #expect(named.sorted() == devices.sorted(), "each message's event once on \(replica.base)")
            let firsts = events.compactMap { ($0["matches"] as? [[String: Any]])?.first?["id"] as? String }
            #expect(firsts == Array(repeating: "rocket", count: devices.count))
        }
        var accepted: [Int] = []
        for replica in [a, b] {
            let metrics = String(buffer: try await http.send("GET", replica.base + "/metrics").body)
            let count =
                metrics.split(separator: "\n").first {
                    $0.hasPrefix(#"vsearch_device_messages_total{result="accepted"}"#)
                }
                .flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
            accepted.append(count)
        }
        #expect(accepted.reduce(0, +) == devices.count, "searched once in all: \(accepted)")
        #expect(accepted.allSatisfy { $0 > 0 }, "the broker shared the messages: \(accepted)")
        await broker.stop()
    }
}

/// A server whose database goes away and comes back.
@Suite(.serialized, PostgresScope()) struct DatabaseOutageTests {
    /// The outage is made in the database rather than by stopping the server: a stopped server's
    /// port stays in TIME_WAIT for a minute, so a restarted one could not take it back at once.
    /// Every connection to the catalogue's database is ended and new ones are refused, which the
    /// server sees exactly as a lost database.
    @Test func aLostDatabaseIsAOneLine503AndTheServerRecoversWhenItReturns() async throws {
        let (server, served) = try await makeServer(.postgres)
        defer { _ = served }
        let postgres = try SharedServer.require()
        let name = String(served.location.split(separator: "/").last ?? "")
        try await server.makeApplication().test(.router) { client in
            // Healthy first. /healthz gives the pool 3 s to answer (`PostgresCatalogue.ping()`), and
            // this server runs inside the test process: in the one-process ASan run, with every other
            // suite busy on the same 2 cores, its first pooled connection once took longer, and the
            // server rightly said 503. That is the behaviour under test, not its precondition.
            /// /healthz's status once it is 200, or after 30 s.
            func healthAfterWaiting() async throws -> Int {
                var status = 0
                for _ in 0..<150 where status != 200 {
                    status = try await client.execute(uri: "/healthz", method: .get) { Int($0.status.code) }
                    if status != 200 { try await Task.sleep(for: .milliseconds(200)) }
                }
                return status
            }
            try #require(try await healthAfterWaiting() == 200, "the server was never healthy before the outage")
            try await postgres.psql("ALTER DATABASE \(name) ALLOW_CONNECTIONS false")
            try await postgres.psql(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '\(name)'")
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(errorCode(response.body) == "store_unavailable")
                let message = try #require((try json(response.body)["error"] as? [String: Any])?["message"] as? String)
                #expect(message.hasPrefix(served.location + ": cannot reach the database: "), "\(message)")
                #expect(message.contains("is not currently accepting connections"), "\(message)")
                #expect(!message.contains("\n"))
            }
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains(#"vsearch_catalogue_up{backend="postgresql"} 0"#))
            }
            try await postgres.psql("ALTER DATABASE \(name) ALLOW_CONNECTIONS true")
            #expect(try await healthAfterWaiting() == 200, "the pool connected again")
            try await client.execute(uri: "/api/v1/items/coffee", method: .get) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(String(buffer: response.body).contains(#"vsearch_catalogue_up{backend="postgresql"} 1"#))
            }
        }
    }
}
