import DeviceLink
import DeviceTestSupport
import Foundation
import TestSupport
import Testing
import VSearchCore

@testable import EdgeAgent

/// `vsearch edge` end to end: an ffmpeg video made from catalogue photos, a real Mosquitto
/// broker, and a subscriber that validates what arrives.
@Suite(.serialized) struct EdgeBrokerTests {
    static let photos = ["skimage/coffee.png", "mate/Aqua.jpg", "skimage/chelsea.png", "mate/LadyBird.jpg"]

    final class Scratch {
        let path = NSTemporaryDirectory() + "vsearch-edge-" + UUID().uuidString
        init() throws { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    static func run(_ arguments: [String], in scratch: Scratch, model: String = RepositoryPaths.model) async throws -> (
        status: Int32, output: String, error: String
    ) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try RepositoryPaths.binary())
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["VSEARCH_MODEL"] = model
        process.environment = environment
        let out = scratch.path + "/out-\(UUID().uuidString)"
        let err = scratch.path + "/err-\(UUID().uuidString)"
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        _ = FileManager.default.createFile(atPath: err, contents: nil)
        process.standardOutput = FileHandle(forWritingAtPath: out)
        process.standardError = FileHandle(forWritingAtPath: err)
        try process.run()
        try await process.exited()
        return (
            process.terminationStatus, try String(contentsOfFile: out, encoding: .utf8),
            try String(contentsOfFile: err, encoding: .utf8)
        )
    }

    static func subscriber(_ broker: MosquittoBroker) async throws -> (MQTTClient, AsyncStream<MQTTMessage>) {
        let client = try MQTTClient(options: MQTTOptions(broker: BrokerURL(parsing: broker.url)))
        try await client.connect()
        return (client, try await client.subscribe(to: "devices/+/features", qos: .atLeastOnce))
    }

    /// Keeps every message of a subscription, from a task of its own.
    final class Collector: Sendable {
        private let received: Locked<[MQTTMessage]>
        private let task: Task<Void, Never>

        init(_ stream: AsyncStream<MQTTMessage>) {
            let received = Locked<[MQTTMessage]>([])
            self.received = received
            task = Task {
                for await message in stream { received.withLock { $0.append(message) } }
            }
        }

        var messages: [MQTTMessage] { received.withLock { $0 } }
    }

    @Test(arguments: [PayloadFormat.compact, .original])
    func edgeCommandPublishesOneMessagePerSceneOfAVideo(payload: PayloadFormat) async throws {
        try RepositoryPaths.requireModelAndPhotos()
        let scratch = try Scratch()
        let video = scratch.path + "/scenes.mp4"
        try TestVideo.make(
            photos: Self.photos.map { RepositoryPaths.photos + "/" + $0 }, secondsEach: 2, fps: 10, path: video)
        let broker = try MosquittoBroker()
        try broker.start()
        let (client, stream) = try await Self.subscriber(broker)
        defer { client.disconnect() }
        let collector = Collector(stream)
        let result = try await Self.run(
            [
                "edge", "--mqtt", broker.url, "--topic", "devices/cam-7/features", "--device-id", "cam-7", "--fps", "5",
                "--payload", payload.rawValue, "--mqtt-qos", "1", "--thumbnail", "--json-summary", video,
            ], in: scratch)
        #expect(result.status == 0, "\(result.error)")
        let summary = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
        #expect(summary?["frames"] as? Int == 40)
        let published = summary?["published"] as? Int ?? -1
        try await waitUntilCount(reaches: published) { collector.messages.count }
        let messages = collector.messages
        #expect(messages.count == published)
        // One message per scene: the camera noise of a still scene stays above the threshold.
        #expect(published == Self.photos.count)
        let validator = MessageValidator(
            modelID: "efficientnet-lite0/1", dimension: 1280, topicFilter: "devices/+/features")
        for message in messages {
            let valid = try validator.validate(message.payload, topic: message.topic)
            #expect(valid.device == "cam-7")
            #expect(valid.format == payload)
            #expect(valid.features.count == 1280)
            #expect((valid.capturedAt != nil) == (payload == .compact))
            #expect((valid.thumbnailJPEG != nil) == (payload == .compact))
        }
    }

    /// The MQTT flags each command lists in its help: `--mqtt`, `--topic` and the `--mqtt-…` ones.
    static func mqttFlags(_ command: String, in scratch: Scratch) async throws -> Set<String> {
        let help = try await Self.run([command, "--help"], in: scratch)
        #expect(help.status == 0)
        return Set(help.output.matches(of: /--(mqtt[a-z-]*|topic)\b/).map { String($0.output.0) })
    }

    @Test func edgeAndServeTakeTheSameMQTTFlags() async throws {
        let scratch = try Scratch()
        let edge = try await Self.mqttFlags("edge", in: scratch)
        #expect(
            edge == [
                "--mqtt", "--topic", "--mqtt-client-id", "--mqtt-username", "--mqtt-password-file", "--mqtt-tls-ca",
                "--mqtt-tls-cert", "--mqtt-tls-key", "--mqtt-tls-insecure", "--mqtt-qos", "--mqtt-keepalive",
                "--mqtt-persistent-session",
            ])
        #expect(try await Self.mqttFlags("serve", in: scratch) == edge)
        // The old names still parse but are not offered.
        let help = try await Self.run(["edge", "--help"], in: scratch)
        #expect(!help.output.contains(" --tls-ca") && !help.output.contains(" --qos"))
    }

    @Test func anOptionGivenUnderItsOldAndItsNewNameIsOneClearError() async throws {
        let scratch = try Scratch()
        let result = try await Self.run(
            ["edge", "--mqtt", "mqtt://127.0.0.1:1", "--topic", "t", "--qos", "1", "--mqtt-qos", "1", "-"],
            in: scratch)
        #expect(result.status != 0)
        let lines = result.error.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(lines.first?.contains("--mqtt-qos and --qos (its old name) are the same option") == true)
    }

    /// Uses the flags' old names, which must keep working.
    @Test func wrongCredentialsStopTheAgentWithOneClearLine() async throws {
        try RepositoryPaths.requireModelAndPhotos()
        let scratch = try Scratch()
        let broker = try MosquittoBroker(users: ["cam": "right"])
        try broker.start()
        let passwordFile = scratch.path + "/password"
        try "wrong\n".write(toFile: passwordFile, atomically: true, encoding: .utf8)
        let result = try await Self.run(
            [
                "edge", "--mqtt", broker.url, "--topic", "devices/cam-1/features", "--username", "cam",
                "--password-file", passwordFile, RepositoryPaths.photos + "/mate/Aqua.jpg",
            ], in: scratch)
        #expect(result.status != 0)
        let lines = result.error.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(lines.first?.hasPrefix("vsearch: mqtt://127.0.0.1:\(broker.port): connection refused: ") == true)
    }

    /// The broker restarts while the agent streams a camera-paced video: the agent keeps going,
    /// buffers while the broker is away, and delivers the buffer after it reconnects.
    @Test func agentSurvivesABrokerRestart() async throws {
        try RepositoryPaths.requireModelAndPhotos()
        let scratch = try Scratch()
        let video = scratch.path + "/long.mp4"
        let photos = (Self.photos + Self.photos.reversed()).map { RepositoryPaths.photos + "/" + $0 }
        try TestVideo.make(photos: photos, secondsEach: 1, fps: 10, path: video)
        let broker = try MosquittoBroker()
        try broker.start()
        let (client, stream) = try await Self.subscriber(broker)
        let collector = Collector(stream)
        let agent = Task {
            try await Self.run(
                [
                    "edge", "--mqtt", broker.url, "--topic", "devices/cam-3/features", "--realtime", "--fps", "10",
                    "--dedup-threshold", "1.1", "--json-summary", video,
                ], in: scratch)
        }
        // The broker goes away once the agent is streaming (its first message has arrived), however
        // long the agent took to start, and stays away while the video plays on.
        try await waitUntil("the agent's first message") { !collector.messages.isEmpty }
        broker.stop()
        try await Task.sleep(for: .seconds(2))
        try broker.start()
        let result = try await agent.value
        try await waitUntilCount(reaches: 6) { collector.messages.count }
        let messages = collector.messages
        client.disconnect()
        #expect(result.status == 0, "\(result.error)")
        #expect(result.error.contains("reconnected; sent "))
        let summary = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
        let published = summary?["published"] as? Int ?? -1
        #expect(published > 20)
        #expect(summary?["dropped_offline"] as? Int == 0)
        // The subscriber was away during the restart too, so it may miss what arrived before it was back;
        // it hears the frames the agent published after the restart.
        #expect(messages.count > 5)
        #expect(messages.count <= published)
    }
}
