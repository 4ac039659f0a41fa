import Foundation
import LocalFeatures
import Testing
import VSearchTesting

@testable import DeviceLink

/// Compact payload version 4: a frame's local features beside its vectors, validated like them.
@Suite struct LocalFeaturesPayloadTests {
    static let topic = "devices/cam-1/features"

    /// Three keypoints with distinct positions, angles and descriptor words.
    static let features = LocalFeatures(
        points: [SIMD2(1.5, 2), SIMD2(300.25, 40), SIMD2(0, 479)], angles: [0, 1.25, -3],
        descriptors: (0..<12).map { UInt64($0) &* 0x9E37_79B9_7F4A_7C15 })

    static func payload(_ fields: String) -> [UInt8] {
        let vector = HalfFloatCodec.base64([0.5, 0.5, 0.5, 0.5])
        return Array("{\(fields),\"dim\":4,\"features_f16\":\"\(vector)\"}".utf8)
    }

    @Test func version4RoundTripsTheLocalFeaturesExactly() throws {
        let regions = [[Float]](repeating: [0.5, 0.5, 0.5, 0.5], count: 2)
        let message = FeatureMessage(
            model: "m/2", device: "cam-1", features: [0.5, 0.5, 0.5, 0.5], regions: regions,
            localFeatures: Self.features)
        let payload = PayloadCodec.encode(message, as: .compact)
        #expect(String(decoding: payload, as: UTF8.self).hasPrefix("{\"v\":4,"))
        let validated = try MessageValidator(modelID: "m/2", dimension: 4).validate(payload, topic: Self.topic)
        #expect(validated.localFeatures == Self.features)
        #expect(validated.regions.count == 2)
        // With the blend's shared prefix, version 4 keeps version 3's layout.
        let shared = PayloadCodec.encode(message, as: .compact, sharedPrefix: 2)
        #expect(String(decoding: shared, as: UTF8.self).contains("\"shared\":2"))
        let decoded = try PayloadCodec.decode(shared, topic: Self.topic).message
        #expect(decoded.localFeatures == Self.features)
        #expect(decoded.regions.count == 2)
    }

    @Test func withoutLocalFeaturesTheEarlierVersionsAreWritten() {
        let payload = PayloadCodec.encode(FeatureMessage(features: [0.5, 0.5, 0.5, 0.5]), as: .compact)
        #expect(String(decoding: payload, as: UTF8.self).hasPrefix("{\"v\":1,"))
        // The original payload has no room for them.
        let original = PayloadCodec.encode(
            FeatureMessage(features: [0.5, 0.5], localFeatures: Self.features), as: .original)
        #expect(!String(decoding: original, as: UTF8.self).contains("local"))
    }

    @Test(arguments: [
        ("\"v\":3,\"local_features\":\"\(Data(features.encoded).base64EncodedString())\"", "needs payload version 4"),
        ("\"v\":4,\"local_features\":\"%%%\"", "is not base64"),
        ("\"v\":4,\"local_features\":\"\(Data([1, 2, 3]).base64EncodedString())\"", "no VLF1 tag"),
        ("\"v\":4,\"local_features\":\"\(Data(features.encoded.dropLast()).base64EncodedString())\"", "bytes, got"),
        ("\"v\":5", "unknown payload version 5"),
    ])
    func malformedLocalFeaturesAreRejectedWithTheirReason(_ fields: String, _ reason: String) {
        do {
            _ = try PayloadCodec.decode(Self.payload(fields), topic: Self.topic)
            Issue.record("accepted: \(fields)")
        } catch {
            #expect(error.description.contains(Self.topic), "\(error.description)")
            #expect(error.description.contains(reason), "\(error.description)")
        }
    }

    /// The fuzzer starts from this version 4 seed (`Tests/Fuzz/corpus/payload/compact-local`): it must be valid.
    @Test func theFuzzSeedIsAValidVersion4Payload() throws {
        let seed = try Data(
            contentsOf: URL(fileURLWithPath: Repository.root + "/Tests/Fuzz/corpus/payload/compact-local"))
        let message = try PayloadCodec.decode(Array(seed), topic: Self.topic).message
        #expect(message.localFeatures?.points == [SIMD2(1, 2), SIMD2(30, 40)])
        #expect(message.localFeatures?.descriptors == [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(message.regions == [[1, -0.5, 0, 2]])
    }

    @Test func tooManyKeypointsOrAPointThatIsNotFiniteIsRejected() {
        let limits = PayloadLimits(maxKeypoints: 2)
        let many = Self.payload("\"v\":4,\"local_features\":\"\(Data(Self.features.encoded).base64EncodedString())\"")
        #expect(throws: DeviceMessageError.self) { try PayloadCodec.decode(many, topic: Self.topic, limits: limits) }
        var broken = Self.features
        broken.points[1].x = .nan
        let nan = Self.payload("\"v\":4,\"local_features\":\"\(Data(broken.encoded).base64EncodedString())\"")
        do {
            _ = try PayloadCodec.decode(nan, topic: Self.topic)
            Issue.record("a NaN keypoint was accepted")
        } catch {
            #expect(error.description.contains("not finite"))
        }
    }
}
