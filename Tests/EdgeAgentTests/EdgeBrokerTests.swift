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

    /// A camera-paced video of `photos` (a second each), a running broker, and a relay in front of it
    /// for the agent, so that the test decides when the agent can reach the broker.
    static func agentBehindRelay(photos: [String], in scratch: TemporaryDirectory) async throws -> (
        video: String, broker: MosquittoBroker, relay: TCPRelay
    ) {
        let video = scratch.path + "/scenes.mp4"
        try await TestVideo.make(
            photos: photos.map { Repository.photos + "/" + $0 }, secondsEach: 1, fps: 10, path: video)
        let broker = try await MosquittoBroker()
        try await broker.start()
        return (video, broker, try TCPRelay(to: broker.port))
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
        try await TestVideo.make(
            photos: Self.photos.map { Repository.photos + "/" + $0 }, secondsEach: 2, fps: 10, path: video)
        let broker = try await MosquittoBroker()
        try await broker.start()
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
        let broker = try await MosquittoBroker(users: ["cam": "right"])
        try await broker.start()
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
    ///
    /// The agent reaches the broker through a relay that the test holds shut until a new subscriber
    /// is listening on the restarted broker. Without it, the agent's reconnection and the
    /// subscriber's raced: both retry on libmosquitto's backoff (1, 4, 9 … s after the drop), and
    /// when the agent got back first it sent its whole buffer, and sometimes the rest of the video,
    /// before anyone was subscribed to hear it.
    @Test func agentSurvivesABrokerRestart() async throws {
        try Repository.requireModelAndPhotos()
        let scratch = try TemporaryDirectory("edge")
        let (video, broker, relay) = try await Self.agentBehindRelay(
            photos: Self.photos + Self.photos.reversed(), in: scratch)
        defer { relay.close() }
        let (early, earlyStream) = try await Self.subscriber(broker)
        let earlyMessages = Collector(earlyStream)
        let agent = Task {
            try await runVSearch(
                [
                    "edge", "--mqtt", "mqtt://127.0.0.1:\(relay.port)", "--topic", "devices/cam-3/features",
                    "--device-id", "cam-3", "--realtime", "--fps", "10", "--dedup-threshold", "1.1", "--json-summary",
                    video,
                ])
        }
        // The broker goes away once the agent is streaming (its first message has arrived), however
        // long the agent took to start, and stays away for two seconds of the video.
        try await waitUntil("the agent's first message") { !earlyMessages.messages.isEmpty }
        relay.hold()
        await broker.stop()
        early.disconnect()
        try await Task.sleep(for: .seconds(2))
        try await broker.start()
        let (late, lateStream) = try await Self.subscriber(broker)
        defer { late.disconnect() }
        let lateMessages = Collector(lateStream)
        relay.release()

        let result = try await agent.value
        #expect(result.status == 0, "\(result.error)")
        let reconnection = try #require(result.error.firstMatch(of: /reconnected; sent (\d+) buffered messages/))
        let drained = try #require(Int(reconnection.output.1))
        #expect(drained > 0, "the agent published nothing while the broker was away")
        let summary = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
        let published = summary?["published"] as? Int ?? -1
        #expect(published > 20)
        #expect(summary?["dropped_offline"] as? Int == 0)
        #expect(summary?["undelivered"] as? Int == 0)
        // The late subscriber was listening before the agent could reconnect, so it hears the whole
        // buffer and whatever the agent published after it.
        try await waitUntilCount(reaches: drained) { lateMessages.messages.count }
        let heard = earlyMessages.messages.count + lateMessages.messages.count
        #expect(heard <= published)
        let validator = MessageValidator(
            modelID: "efficientnet-lite0/1", dimension: 1280, topicFilter: "devices/+/features")
        for message in lateMessages.messages {
            #expect(try validator.validate(message.payload, topic: message.topic).device == "cam-3")
        }
    }

    /// A broker that never comes back: when the video ends, the agent waits `--drain-timeout`
    /// seconds for it, then exits and counts what it could not send, in the summary and on stderr.
    @Test func whatNeverReachesTheBrokerIsCounted() async throws {
        try Repository.requireModelAndPhotos()
        let scratch = try TemporaryDirectory("edge")
        let (video, broker, relay) = try await Self.agentBehindRelay(photos: Self.photos, in: scratch)
        let (subscriber, stream) = try await Self.subscriber(broker)
        defer { subscriber.disconnect() }
        let heard = Collector(stream)
        let agent = Task {
            try await runVSearch(
                [
                    "edge", "--mqtt", "mqtt://127.0.0.1:\(relay.port)", "--topic", "devices/cam-4/features",
                    "--realtime", "--fps", "10", "--dedup-threshold", "1.1", "--drain-timeout", "1",
                    "--json-summary", video,
                ])
        }
        try await waitUntil("the agent's first message") { !heard.messages.isEmpty }
        // The link goes down for good: open connections end and new ones are refused.
        relay.close()
        let result = try await agent.value
        #expect(result.status == 0, "\(result.error)")
        let summary = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
        let undelivered = try #require(summary?["undelivered"] as? Int)
        #expect(undelivered > 0)
        #expect(summary?["dropped_offline"] as? Int == 0)
        #expect(result.error.contains("; \(undelivered) messages never reached the broker"))
    }
}
