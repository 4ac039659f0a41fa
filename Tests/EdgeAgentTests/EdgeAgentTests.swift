import DeviceLink
import Featurizer
import Foundation
import Testing
import VSearchCore
import VSearchTesting

@testable import EdgeAgent

/// Frames prepared in memory, for tests.
struct ArrayFrameSource: FrameSource {
    var pictures: [Frame]
    var description: String { "test frames" }

    func frames() -> FrameStream {
        let frames = pictures
        return FrameStream.threaded(latestOnly: false) { emit, _ in
            for frame in frames where !emit(frame) { return }
        }
    }
}

/// Records what the agent publishes.
final class RecordingPublisher: FeaturePublisher, Sendable {
    private let recorded = Locked<[(topic: String, payload: [UInt8])]>([])

    var messages: [(topic: String, payload: [UInt8])] { recorded.withLock { $0 } }

    func publish(_ payload: [UInt8], to topic: String, qos: QoS, retain: Bool) throws(MQTTError) -> PublishOutcome {
        recorded.withLock { $0.append((topic, payload)) }
        return .sent
    }
}

/// The agent's loop: featurize, skip near-duplicates, encode, publish.
@Suite(.serialized, .offThePool) struct EdgeAgentTests {
    static let featurizer: Featurizer? = {
        guard (try? Repository.requireModelAndPhotos()) != nil else { return nil }
        return try? Featurizer(model: ModelDirectory(path: Repository.model))
    }()

    static func loadFeaturizer() throws -> Featurizer {
        try Repository.requireModelAndPhotos()
        guard let featurizer else { throw TestFailure("cannot load \(Repository.model)") }
        return featurizer
    }

    static func frames(_ names: [String]) throws -> [Frame] {
        try names.enumerated().map { index, name in
            let path = Repository.photos + "/" + name
            return Frame(sequence: index, bytes: Array(try Data(contentsOf: URL(fileURLWithPath: path))), name: path)
        }
    }

    @Test func aStillSceneIsPublishedOnceAndNewScenesEachTime() async throws {
        let featurizer = try Self.loadFeaturizer()
        let publisher = RecordingPublisher()
        let agent = EdgeAgent(
            featurizer: featurizer, publisher: publisher,
            options: EdgeAgentOptions(topic: "devices/cam-1/features", deviceID: "cam-1"))
        let names = [
            "skimage/coffee.png", "skimage/coffee.png", "skimage/coffee.png", "mate/Aqua.jpg",
            "mate/Aqua.jpg", "skimage/chelsea.png",
        ]
        let statistics = try await agent.run(source: ArrayFrameSource(pictures: try Self.frames(names)))
        #expect(statistics.read == 6)
        #expect(statistics.published == 3)
        #expect(statistics.skipped == 3)
        let validator = MessageValidator(modelID: featurizer.descriptor.id, dimension: featurizer.dimension)
        let messages = try publisher.messages.map { try validator.validate($0.payload, topic: $0.topic) }
        #expect(messages.count == 3)
        #expect(messages.allSatisfy { $0.device == "cam-1" && $0.features.count == 1280 && $0.format == .compact })
        // The published vector is the frame's, to half-float precision.
        let expected = try await featurizer.embed(files: [Repository.photos + "/mate/Aqua.jpg"])[0].get()
        #expect(Similarity.cosine(messages[1].features, expected) > 0.9999)
    }

    @Test func aThresholdAboveOnePublishesEveryFrameInTheOriginalFormat() async throws {
        let featurizer = try Self.loadFeaturizer()
        let publisher = RecordingPublisher()
        let agent = EdgeAgent(
            featurizer: featurizer, publisher: publisher,
            options: EdgeAgentOptions(topic: "t", payload: .original, dedupThreshold: 1.1))
        let frames = try Self.frames(["skimage/coffee.png", "skimage/coffee.png"])
        let statistics = try await agent.run(source: ArrayFrameSource(pictures: frames))
        #expect(statistics.published == 2)
        let first = String(decoding: publisher.messages[0].payload, as: UTF8.self)
        #expect(first.hasPrefix("{\"features\":\""))
        #expect(first.split(separator: ",").count == 1280)
    }

    @Test func aBrokenFrameFailsAloneWithItsName() async throws {
        let featurizer = try Self.loadFeaturizer()
        let publisher = RecordingPublisher()
        let agent = EdgeAgent(featurizer: featurizer, publisher: publisher, options: EdgeAgentOptions(topic: "t"))
        var frames = try Self.frames(["skimage/coffee.png", "mate/Aqua.jpg"])
        frames.insert(Frame(sequence: 9, bytes: [0xFF, 0xD8, 0xFF, 0xD9], name: "frame 9 of the camera"), at: 1)
        let warnings = Locked<[String]>([])
        let statistics = try await agent.run(
            source: ArrayFrameSource(pictures: frames),
            warn: { message in warnings.withLock { $0.append("\(message)") } })
        #expect(statistics.failed == 1)
        #expect(statistics.published == 2)
        let warned = warnings.withLock { $0 }
        #expect(warned.count == 1)
        #expect(warned.first?.hasPrefix("frame 9 of the camera: ") == true)
    }

    @Test func thumbnailsAreSmallJPEGs() throws {
        let featurizer = try Self.loadFeaturizer()
        let frame = try Self.frames(["mate/Aqua.jpg"])[0]
        let image = try featurizer.decode(bytes: frame.bytes, name: frame.name)
        let thumbnail = try #require(Thumbnail.jpeg(frameBytes: frame.bytes, decoded: image, maxSide: 320))
        #expect(thumbnail.starts(with: [0xFF, 0xD8]))
        #expect(thumbnail.count < 64 << 10)
        let decoded = try featurizer.decode(bytes: thumbnail, name: "thumbnail")
        #expect(max(decoded.sourceWidth, decoded.sourceHeight) <= 320)
    }
}
