import DeviceLink
import Foundation
import Testing
import VSearchCore
import VSearchTesting

@testable import EdgeAgent

/// `vsearch edge` end to end: an ffmpeg video made from catalogue photos, a real Mosquitto
/// broker, and a subscriber that validates what arrives.
@Suite(.serialized) struct EdgeBrokerTests {
    static let photos = ["skimage/coffee.png", "mate/Aqua.jpg", "skimage/chelsea.png", "mate/LadyBird.jpg"]

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
        try Repository.requireModelAndPhotos()
        let scratch = try TemporaryDirectory("edge")
        let video = scratch.path + "/scenes.mp4"
        try TestVideo.make(
            photos: Self.photos.map { Repository.photos + "/" + $0 }, secondsEach: 2, fps: 10, path: video)
        let broker = try MosquittoBroker()
        try broker.start()
        let (client, stream) = try await Self.subscriber(broker)
        defer { client.disconnect() }
        let collector = Collector(stream)
        let result = try await runVSearch(
            [
                "edge", "--mqtt", broker.url, "--topic", "devices/cam-7/features", "--device-id", "cam-7", "--fps", "5",
                "--payload", payload.rawValue, "--mqtt-qos", "1", "--thumbnail", "--json-summary", video,
            ])
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
    static func mqttFlags(_ command: String) async throws -> Set<String> {
        let help = try await runVSearch([command, "--help"])
        #expect(help.status == 0)
        return Set(help.output.matches(of: /--(mqtt[a-z-]*|topic)\b/).map { String($0.output.0) })
    }

    @Test func edgeAndServeTakeTheSameMQTTFlags() async throws {
        let edge = try await Self.mqttFlags("edge")
        #expect(
            edge == [
                "--mqtt", "--topic", "--mqtt-client-id", "--mqtt-username", "--mqtt-password-file", "--mqtt-tls-ca",
                "--mqtt-tls-cert", "--mqtt-tls-key", "--mqtt-tls-insecure", "--mqtt-qos", "--mqtt-keepalive",
                "--mqtt-persistent-session",
            ])
        // serve has one flag of its own: the shared-subscription group, for replicas.
        #expect(try await Self.mqttFlags("serve") == edge.union(["--mqtt-share-group"]))
        // The old names still parse but are not offered.
        let help = try await runVSearch(["edge", "--help"])
        #expect(!help.output.contains(" --tls-ca") && !help.output.contains(" --qos"))
    }

    @Test func anOptionGivenUnderItsOldAndItsNewNameIsOneClearError() async throws {
        let result = try await runVSearch(
            ["edge", "--mqtt", "mqtt://127.0.0.1:1", "--topic", "t", "--qos", "1", "--mqtt-qos", "1", "-"])
        #expect(result.status != 0)
        let lines = result.error.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(lines.first?.contains("--mqtt-qos and --qos (its old name) are the same option") == true)
    }

    /// Uses the flags' old names, which must keep working.
    @Test func wrongCredentialsStopTheAgentWithOneClearLine() async throws {
        try Repository.requireModelAndPhotos()
        let scratch = try TemporaryDirectory("edge")
        let broker = try MosquittoBroker(users: ["cam": "right"])
        try broker.start()
        let passwordFile = scratch.path + "/password"
        try "wrong\n".write(toFile: passwordFile, atomically: true, encoding: .utf8)
        let result = try await runVSearch(
            [
                "edge", "--mqtt", broker.url, "--topic", "devices/cam-1/features", "--username", "cam",
                "--password-file", passwordFile, Repository.photos + "/mate/Aqua.jpg",
            ])
        #expect(result.status != 0)
        let lines = result.error.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(lines.first?.hasPrefix("vsearch: mqtt://127.0.0.1:\(broker.port): connection refused: ") == true)
    }

    /// The broker restarts while the agent streams a camera-paced video: the agent keeps going,
    /// buffers while the broker is away, and delivers the buffer after it reconnects.
    @Test func agentSurvivesABrokerRestart() async throws {
        try Repository.requireModelAndPhotos()
        let scratch = try TemporaryDirectory("edge")
        let video = scratch.path + "/long.mp4"
        let photos = (Self.photos + Self.photos.reversed()).map { Repository.photos + "/" + $0 }
        try TestVideo.make(photos: photos, secondsEach: 1, fps: 10, path: video)
        let broker = try MosquittoBroker()
        try broker.start()
        let (client, stream) = try await Self.subscriber(broker)
        let collector = Collector(stream)
        let agent = Task {
            try await runVSearch(
                [
                    "edge", "--mqtt", broker.url, "--topic", "devices/cam-3/features", "--realtime", "--fps", "10",
                    "--dedup-threshold", "1.1", "--json-summary", video,
                ])
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
