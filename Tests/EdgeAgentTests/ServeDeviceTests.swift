import DeviceLink
import Foundation
import Testing
import VSearchCore
import VSearchTesting

/// The whole device path: `vsearch edge` on a video made from catalogue photos → a real Mosquitto
/// broker → `vsearch serve --mqtt` → an SSE client receiving match events.
@Suite(.serialized, PostgresScope()) struct ServeDeviceTests {
    static let scenes = ["skimage/coffee.png", "mate/Aqua.jpg", "skimage/chelsea.png", "mate/LadyBird.jpg"]
    static let catalogue = scenes + ["skimage/astronaut.png", "skimage/rocket.jpg", "mate/Wood.jpg", "mate/Storm.jpg"]

    /// A running `vsearch serve --mqtt` on a catalogue of real photos.
    final class Server {
        let scratch: TemporaryDirectory
        let broker: MosquittoBroker
        let port: Int
        let model: String
        private let process = Process()

        /// `model` serves (and builds the catalogue); the default model unless a test names another.
        /// The catalogue is a store directory, or a new database on the suite's PostgreSQL.
        init(model: String = Repository.model, backend: Backend = .embedded) async throws {
            try Repository.requireModelAndPhotos()
            self.model = model
            scratch = try TemporaryDirectory("serve-device")
            let photos = scratch.path + "/photos"
            try FileManager.default.createDirectory(atPath: photos, withIntermediateDirectories: true)
            for name in ServeDeviceTests.catalogue {
                try FileManager.default.copyItem(
                    atPath: Repository.photos + "/" + name,
                    toPath: photos + "/" + (name as NSString).lastPathComponent)
            }
            let store =
                backend == .postgres ? try await SharedServer.require().newDatabase() : scratch.path + "/store"
            let ingest = try await runVSearch(["ingest", "--store", store, photos], model: model)
            guard ingest.status == 0 else { throw TestFailure("ingest failed: \(ingest.error)") }
            broker = try await MosquittoBroker()
            try await broker.start()
            port = try FreePort.find()
            process.executableURL = URL(fileURLWithPath: try Repository.binary())
            process.arguments = [
                "serve", "--store", store, "--port", String(port), "--mqtt", broker.url,
            ]
            var environment = ProcessInfo.processInfo.environment
            environment["VSEARCH_MODEL"] = model
            process.environment = environment
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            let (process, port) = (self.process, self.port)
            try await waitUntil("vsearch serve accepting connections") {
                FreePort.accepts(port) || !process.isRunning
            }
            guard process.isRunning else { throw TestFailure("vsearch serve did not start") }
        }

        deinit {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }

        func get(_ path: String) throws -> String {
            try String(decoding: RawHTTP.get(port: port, path: path, readUntilClose: true), as: UTF8.self)
        }
    }

    /// Runs `vsearch edge` on a video of the scenes, 2 s each, and returns the SSE events it caused.
    static func runEdge(_ server: Server, payload: String, extra: [String] = []) async throws -> [[String: Any]] {
        let video = server.scratch.path + "/scenes-\(payload).mp4"
        try await TestVideo.make(
            photos: scenes.map { Repository.photos + "/" + $0 }, secondsEach: 2, fps: 10, path: video)
        let stream = try await SSEClient(port: server.port, path: "/api/v1/matches/stream")
        let result = try await runVSearch(
            [
                "edge", "--mqtt", server.broker.url, "--topic", "devices/cam-7/features", "--fps", "5",
                "--payload", payload, "--qos", "1", "--json-summary",
            ] + extra + [video])
        #expect(result.status == 0, "\(result.error)")
        let summary = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
        // Every published message becomes one event, once the server has handled it.
        try await waitUntilCount(reaches: summary?["published"] as? Int ?? 1) { stream.received.count }
        let events = stream.received
        stream.close()
        return events
    }

    static func topMatch(_ event: [String: Any]) -> String? {
        ((event["matches"] as? [[String: Any]])?.first?["id"]) as? String
    }

    @Test(arguments: Backend.allCases)
    func compactMessagesBecomeLiveMatchEventsNamingTheFilmedItemsInOrder(_ backend: Backend) async throws {
        let server = try await Server(backend: backend)
        let events = try await Self.runEdge(server, payload: "compact", extra: ["--device-id", "cam-7", "--thumbnail"])
        #expect(events.map(Self.topMatch) == ["coffee", "Aqua", "chelsea", "LadyBird"])
        for event in events {
            #expect(event["source"] as? String == "device")
            #expect(event["device"] as? String == "cam-7")
            #expect(event["captured_at"] is String)
            #expect(event["query_image"] is String)
            let latency = event["latency_ms"] as? Double ?? -1
            #expect(latency >= 0 && latency < 10_000)
        }
        let latest = try server.get("/api/v1/matches/latest")
        #expect(latest.contains("\"device\":\"cam-7\""))
        let metrics = try server.get("/metrics")
        #expect(metrics.contains("vsearch_device_messages_total{result=\"accepted\"} 4"))
        #expect(metrics.contains("vsearch_device_latency_seconds_count 4"))
    }

    @Test func originalPayloadStillWorksAndBadMessagesAreCountedWithoutStoppingTheSubscription() async throws {
        let server = try await Server()
        let device = try MQTTClient(options: MQTTOptions(broker: BrokerURL(parsing: server.broker.url)))
        try await device.connect()
        for _ in 0..<20 {
            try device.publish(Array("{\"features\": \"1,2".utf8), to: "devices/bad/features", qos: .atLeastOnce)
            try device.publish(Array("{\"features\": \"1,2,3\"}".utf8), to: "devices/bad/features", qos: .atLeastOnce)
            try device.publish(
                Array(#"{"v":1,"model":"resnet50/1","dim":1,"features_f16":"ADw="}"#.utf8), to: "devices/bad/features",
                qos: .atLeastOnce)
        }
        #expect(await device.waitUntilDelivered(timeout: 300))
        device.disconnect()
        let events = try await Self.runEdge(server, payload: "original")
        #expect(events.map(Self.topMatch) == ["coffee", "Aqua", "chelsea", "LadyBird"])
        #expect(events.allSatisfy { $0["device"] as? String == "cam-7" })
        let metrics = try server.get("/metrics")
        #expect(metrics.contains("vsearch_device_messages_total{result=\"malformed\"} 20"))
        #expect(metrics.contains("vsearch_device_messages_total{result=\"wrong_dimension\"} 20"))
        #expect(metrics.contains("vsearch_device_messages_total{result=\"wrong_model\"} 20"))
    }
}

/// One query image searched three ways — `vsearch search`, the server's upload search, and
/// `vsearch edge` through the broker — must find the same item first: the device computes the same
/// query vectors as the server, and the compact payload carries them all. Both region recipes.
extension ServeDeviceTests {
    @Test(arguments: ["regions", "blend"])
    func theCLITheServerAndTheEdgeAgentFindTheSameItemFirst(recipe: String) async throws {
        let regions = Repository.root + "/models/efficientnet-lite0-\(recipe)"
        guard FileManager.default.fileExists(atPath: regions + "/model.json") else {
            throw TestFailure("no model at \(regions): run scripts/prepare-model.sh lite0 --\(recipe)")
        }
        let server = try await Server(model: regions)
        // A camera's view: the espresso cup small, off centre, in a meadow that is not in the catalogue.
        let query = server.scratch.path + "/query.jpg"
        try await onOwnThread {
            try Tool.run(
                "convert",
                [
                    Repository.photos + "/mate/GreenMeadow.jpg", "-resize", "640x480^", "-gravity", "center",
                    "-extent", "640x480", "(", Repository.photos + "/skimage/coffee.png", "-resize", "220x220", ")",
                    "-gravity", "northwest", "-geometry", "+360+200", "-composite", "-quality", "85", query,
                ])
        }
        let cli = try await runVSearch(
            ["search", "--store", server.scratch.path + "/store", "--json", "-k", "3", query], model: regions)
        #expect(cli.status == 0, "\(cli.error)")
        let cliResult = try JSONSerialization.jsonObject(with: Data(cli.output.utf8)) as? [String: Any]
        let cliMatches = cliResult?["results"] as? [[String: Any]] ?? []

        let body = try RawHTTP.post(
            port: server.port, path: "/api/v1/search?k=3", contentType: "image/jpeg",
            body: Array(try Data(contentsOf: URL(fileURLWithPath: query))))
        let api = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
        let apiMatches = api?["matches"] as? [[String: Any]] ?? []

        let stream = try await SSEClient(port: server.port, path: "/api/v1/matches/stream")
        // What the device sends, as the broker delivers it (subscribed before the device starts).
        let watcher = try MQTTClient(options: MQTTOptions(broker: BrokerURL(parsing: server.broker.url)))
        try await watcher.connect()
        defer { watcher.disconnect() }
        var wire = try await watcher.subscribe(to: "devices/cam-3/features", qos: .atLeastOnce).makeAsyncIterator()
        let edge = Process()
        edge.executableURL = URL(fileURLWithPath: try Repository.binary())
        edge.arguments = [
            "edge", "--mqtt", server.broker.url, "--topic", "devices/cam-3/features", "--payload", "compact",
            "--qos", "1", "-",
        ]
        var environment = ProcessInfo.processInfo.environment
        environment["VSEARCH_MODEL"] = regions
        edge.environment = environment
        edge.standardInput = FileHandle(forReadingAtPath: query)
        edge.standardOutput = FileHandle.nullDevice
        edge.standardError = FileHandle.nullDevice
        try edge.run()
        #expect(try await edge.exited() == 0)
        // The blend's windows share the frame's plain half, so the payload carries it once (version 3's
        // layout, about half of version 2's bytes), and the frame's local features, with which the server
        // checks its best candidates (version 4); the region recipe's vectors share nothing.
        let sent = try #require(await wire.next())
        let version = recipe == "blend" ? "{\"v\":4," : "{\"v\":2,"
        #expect(String(decoding: sent.payload.prefix(7), as: UTF8.self) == version)
        let text = String(decoding: sent.payload, as: UTF8.self)
        #expect(text.contains("\"local_features\":") == (recipe == "blend"))
        #expect(text.contains("\"shared\":1280") == (recipe == "blend"))
        // The stream opened after the API search, so the device's message is its one event.
        try await waitUntilCount(reaches: 1) { stream.received.count }
        let events = stream.received.filter { $0["source"] as? String == "device" }
        stream.close()

        let first = cliMatches.first?["id"] as? String
        #expect(first == "coffee")
        // "Similar items" searches with the item's own vector and, with the blend, its stored local features.
        let similarBody = try server.get("/api/v1/items/coffee/similar?k=3")
        let similarJSON = similarBody.split(separator: "\r\n\r\n", maxSplits: 1).last.map(String.init) ?? ""
        let similar = try JSONSerialization.jsonObject(with: Data(similarJSON.utf8)) as? [String: Any]
        let similarIDs = (similar?["matches"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
        #expect(similarIDs.count == 3 && !similarIDs.contains("coffee"), "\(similarBody)")
        #expect(apiMatches.first?["id"] as? String == first)
        #expect(events.count == 1)
        #expect(events.first.flatMap(Self.topMatch) == first)
        // The same vectors give the same score: exactly over HTTP, to half precision from the device. With
        // the blend, every path adds the same local-feature matches, so a path that skipped the check would
        // differ by them.
        let scores = [cliMatches, apiMatches, (events.first?["matches"] as? [[String: Any]]) ?? []].map {
            $0.first?["score"] as? Double ?? -1
        }
        #expect(abs(scores[0] - scores[1]) < 1e-4)
        #expect(abs(scores[0] - scores[2]) < 5e-3)
    }
}

/// Plain HTTP/1.1 over a loopback socket, enough for tests.
enum RawHTTP {
    /// The response body of a POST (the server answers with a Content-Length; the connection closes).
    static func post(port: Int, path: String, contentType: String, body: [UInt8]) throws -> String {
        let fd = try connect(port: port)
        defer { close(fd) }
        let head =
            "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: \(contentType)\r\n"
            + "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        let request = Array(head.utf8) + body
        var sent = 0
        while sent < request.count {
            let count = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { throw TestFailure("cannot send the request to port \(port)") }
            sent += count
        }
        let text = String(decoding: readToEnd(fd), as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { throw TestFailure("no HTTP response") }
        return String(text[split.upperBound...])
    }

    static func connect(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard fd >= 0, result == 0 else { throw TestFailure("cannot connect to port \(port)") }
        return fd
    }

    static func get(port: Int, path: String, readUntilClose: Bool) throws -> [UInt8] {
        let fd = try connect(port: port)
        defer { close(fd) }
        let request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        _ = request.withCString { send(fd, $0, strlen($0), 0) }
        return readToEnd(fd)
    }

    /// Everything the server sends until it closes the connection.
    static func readToEnd(_ fd: Int32) -> [UInt8] {
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { break }
            response += buffer[0..<count]
        }
        return response
    }
}

/// A Server-Sent Events client on a raw socket, collecting `data:` payloads as JSON objects.
final class SSEClient: Sendable {
    private let fd: Int32
    /// Written by the reading thread, read by the test.
    private let state = Locked<(events: [[String: Any]], connected: Bool)>(([], false))

    init(port: Int, path: String) async throws {
        fd = try RawHTTP.connect(port: port)
        let request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"
        _ = request.withCString { send(fd, $0, strlen($0), 0) }
        let socketFD = fd
        Thread { [weak self] in
            var pending = ""
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let count = recv(socketFD, &buffer, buffer.count, 0)
                if count <= 0 { break }
                pending += String(decoding: buffer[0..<count], as: UTF8.self)
                while let newline = pending.firstIndex(of: "\n") {
                    let line = String(pending[..<newline])
                    pending = String(pending[pending.index(after: newline)...])
                    // The response head and the chunk sizes end in "\r\n", one Character for Swift's
                    // String, so they stay glued to the front of the first body line.
                    if line.hasSuffix(": connected") { self?.markConnected() }
                    guard line.hasPrefix("data: "),
                        let object = try? JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8))
                            as? [String: Any]
                    else { continue }
                    self?.append(object)
                }
            }
        }.start()
        // The server registers a subscriber before it writes the preamble, so nothing published after
        // this point is missed.
        try await waitUntil("the live stream's preamble") { [self] in isConnected }
    }

    private func append(_ event: [String: Any]) { state.withLock { $0.events.append(event) } }

    private func markConnected() { state.withLock { $0.connected = true } }

    private var isConnected: Bool { state.withLock { $0.connected } }

    var received: [[String: Any]] { state.withLock { $0.events } }

    func close() { shutdown(fd, Int32(SHUT_RDWR)) }
}
