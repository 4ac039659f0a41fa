import Foundation
import Testing
import VSearchTesting

@testable import DeviceLink

/// The payload formats, their validation, and the pieces of the client that need no broker.
@Suite(.offThePool) struct PayloadTests {
    static let model = "efficientnet-lite0/1"
    static let validator = MessageValidator(modelID: model, dimension: 8, topicFilter: "devices/+/features")

    static func vector(_ count: Int = 8) -> [Float] {
        (0..<count).map { Float($0 + 1) / Float(count * 2) }
    }

    @Test func compactPayloadRoundTripsWithHalfFloatPrecision() throws {
        let captured = Date(timeIntervalSince1970: 1_795_000_000.123)
        let message = FeatureMessage(
            model: Self.model, device: "cam-1", capturedAt: captured, features: Self.vector(),
            thumbnailJPEG: [0xFF, 0xD8, 1, 2, 0xFF, 0xD9])
        let payload = PayloadCodec.encode(message, as: .compact)
        let text = String(decoding: payload, as: UTF8.self)
        #expect(text.hasPrefix("{\"v\":1,\"model\":\"efficientnet-lite0/1\",\"device\":\"cam-1\""))
        #expect(text.contains("\"dim\":8"))
        let (decoded, format) = try PayloadCodec.decode(payload, topic: "devices/cam-1/features")
        #expect(format == .compact)
        #expect(decoded.model == Self.model)
        #expect(decoded.device == "cam-1")
        #expect(decoded.thumbnailJPEG == message.thumbnailJPEG)
        #expect(abs((decoded.capturedAt?.timeIntervalSince1970 ?? 0) - captured.timeIntervalSince1970) <= 0.001)
        for (a, b) in zip(decoded.features, message.features) { #expect(abs(a - b) <= abs(b) / 1000) }
    }

    @Test func compactPayloadVersion2CarriesTheRegionVectors() throws {
        let regions = (1...3).map { r in Self.vector().map { $0 * Float(r) / 4 } }
        let message = FeatureMessage(model: Self.model, device: "cam-1", features: Self.vector(), regions: regions)
        let payload = PayloadCodec.encode(message, as: .compact)
        let text = String(decoding: payload, as: UTF8.self)
        #expect(text.hasPrefix("{\"v\":2,"))
        #expect(text.contains("\"dim\":8,\"vectors\":4,"))
        let validated = try Self.validator.validate(payload, topic: "devices/cam-1/features")
        #expect(validated.regions.count == 3)
        for (decoded, sent) in zip([validated.features] + validated.regions, [message.features] + regions) {
            for (a, b) in zip(decoded, sent) { #expect(abs(a - b) <= abs(b) / 1000) }
        }
        // One vector stays version 1, so devices and servers of before regions read it.
        let single = PayloadCodec.encode(FeatureMessage(model: Self.model, features: Self.vector()), as: .compact)
        #expect(String(decoding: single, as: UTF8.self).hasPrefix("{\"v\":1,"))
        #expect(!String(decoding: single, as: UTF8.self).contains("vectors"))
    }

    /// 24 bytes: twelve half-precision ones.
    static let v3Bytes = "ADwAPAA8ADwAPAA8ADwAPAA8ADwAPAA8"

    /// The blend recipe's windows `[a_r · plain ; window_r]`, unit length.
    static func windows(_ count: Int, dimension: Int, shared: Int) -> [[Float]] {
        let plain = (0..<shared).map { Float($0 % 7 + 1) / 10 }
        return (0..<count).map { r in
            let tail = (0..<(dimension - shared)).map { Float(($0 * (r + 3)) % 11) / 10 }
            let raw = plain.map { $0 * (0.4 + Float(r % 5) / 10) } + tail.map { $0 * 0.6 }
            let norm = raw.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return raw.map { $0 / norm }
        }
    }

    @Test func version3CarriesTheSharedPrefixOnceAndHalvesTheBlendPayload() throws {
        let vectors = Self.windows(48, dimension: 2560, shared: 1280)
        let message = FeatureMessage(
            model: Self.model, device: "cam-1", features: vectors[0], regions: Array(vectors.dropFirst()))
        let v3 = PayloadCodec.encode(message, as: .compact, sharedPrefix: 1280)
        let v2 = PayloadCodec.encode(message, as: .compact)
        let text = String(decoding: v3, as: UTF8.self)
        #expect(text.hasPrefix("{\"v\":3,"))
        #expect(text.contains("\"dim\":2560,\"vectors\":48,\"shared\":1280,\"scales\":[1.0,"))
        #expect(String(decoding: v2, as: UTF8.self).hasPrefix("{\"v\":2,"))
        // 1,280 + 48 × 1,280 half floats against 48 × 2,560.
        #expect(Double(v3.count) / Double(v2.count) < 0.52)
        let validator = MessageValidator(modelID: Self.model, dimension: 2560, topicFilter: "devices/+/features")
        let decoded = try validator.validate(v3, topic: "devices/cam-1/features")
        #expect(decoded.regions.count == 47)
        for (got, sent) in zip([decoded.features] + decoded.regions, vectors) {
            var largest: Float = 0
            for (a, b) in zip(got, sent) { largest = max(largest, abs(a - b)) }
            #expect(largest < 1e-3)
            // Every decoded prefix is a multiple of the first one, as the index's shared-prefix scoring needs.
            let scale = got[0] / decoded.features[0]
            for i in 0..<1280 { #expect(abs(got[i] - scale * decoded.features[i]) <= 1e-6) }
        }
    }

    @Test func vectorsThatDoNotShareThePrefixStayVersion2() throws {
        var vectors = Self.windows(4, dimension: 16, shared: 8)
        vectors[2][1] += 0.2
        let message = FeatureMessage(model: Self.model, features: vectors[0], regions: Array(vectors.dropFirst()))
        #expect(
            String(decoding: PayloadCodec.encode(message, as: .compact, sharedPrefix: 8), as: UTF8.self).hasPrefix(
                "{\"v\":2,"))
        let whole = Self.windows(3, dimension: 16, shared: 8)
        let single = FeatureMessage(model: Self.model, features: whole[0])
        #expect(
            String(decoding: PayloadCodec.encode(single, as: .compact, sharedPrefix: 8), as: UTF8.self).hasPrefix(
                "{\"v\":1,"))
        let full = FeatureMessage(model: Self.model, features: whole[0], regions: Array(whole.dropFirst()))
        #expect(
            String(decoding: PayloadCodec.encode(full, as: .compact, sharedPrefix: 16), as: UTF8.self).hasPrefix(
                "{\"v\":2,"))
    }

    @Test func aRegionThatIsNotFiniteIsRejected() {
        var regions = [Self.vector(), Self.vector()]
        regions[1][2] = .nan
        let payload = PayloadCodec.encode(
            FeatureMessage(model: Self.model, features: Self.vector(), regions: regions), as: .compact)
        #expect {
            _ = try Self.validator.validate(payload, topic: "devices/cam-1/features")
        } throws: { error in
            (error as? DeviceMessageError)?.kind == "not_finite"
        }
    }

    @Test func originalPayloadIsTheSeedContract() throws {
        let payload = PayloadCodec.encode(FeatureMessage(features: [0.5, 0.25, 1]), as: .original)
        #expect(String(decoding: payload, as: UTF8.self) == "{\"features\":\"0.5,0.25,1.0\"}")
        let (decoded, format) = try PayloadCodec.decode(Array(#"{"features": "1, 2.5,3e-2"}"#.utf8), topic: "t")
        #expect(format == .original)
        #expect(decoded.features == [1, 2.5, 0.03])
        #expect(decoded.model == nil)
    }

    @Test func validMessagesNameTheirDeviceFromPayloadOrTopic() throws {
        let original = PayloadCodec.encode(FeatureMessage(features: Self.vector()), as: .original)
        let fromTopic = try Self.validator.validate(original, topic: "devices/door-2/features")
        #expect(fromTopic.device == "door-2")
        #expect(fromTopic.format == .original)
        let compact = PayloadCodec.encode(
            FeatureMessage(model: Self.model, device: "cam-9", features: Self.vector()), as: .compact)
        #expect(try Self.validator.validate(compact, topic: "devices/x/features").device == "cam-9")
    }

    @Test(arguments: [
        ("not json", "malformed"),
        (#"{"something": 1}"#, "malformed"),
        (#"{"features": "1,2,x"}"#, "malformed"),
        (#"{"features": "1,2,3"}"#, "wrong_dimension"),
        (#"{"features": "1,2,3,4,5,6,nan,8"}"#, "not_finite"),
        (#"{"features": "1,2,3,4,5,6,inf,8"}"#, "not_finite"),
        (#"{"v":1,"model":"resnet50/1","dim":1,"features_f16":"ADw="}"#, "wrong_model"),
        (#"{"v":1,"dim":2,"features_f16":"ADw="}"#, "malformed"),
        (#"{"v":1,"features_f16":"not base64!"}"#, "malformed"),
        (#"{"v":7,"features_f16":"ADw="}"#, "malformed"),
        (#"{"v":1,"vectors":2,"features_f16":"ADwAPA=="}"#, "malformed"),
        (#"{"v":2,"vectors":2,"features_f16":"ADw="}"#, "malformed"),
        (#"{"v":2,"vectors":0,"features_f16":"ADw="}"#, "malformed"),
        (#"{"v":2,"vectors":65,"features_f16":"ADw="}"#, "malformed"),
        (#"{"v":2,"vectors":2,"dim":8,"features_f16":"ADwAPA=="}"#, "malformed"),
        // Version 3: 4 shared values and 2 × 4 more are 24 bytes.
        (#"{"v":2,"vectors":2,"dim":8,"shared":4,"scales":[1,1],"features_f16":"\#(Self.v3Bytes)"}"#, "malformed"),
        (#"{"v":3,"vectors":2,"dim":8,"shared":8,"scales":[1,1],"features_f16":"\#(Self.v3Bytes)"}"#, "malformed"),
        (#"{"v":3,"vectors":2,"dim":8,"shared":0,"scales":[1,1],"features_f16":"\#(Self.v3Bytes)"}"#, "malformed"),
        (#"{"v":3,"vectors":2,"dim":8,"shared":4,"scales":[1],"features_f16":"\#(Self.v3Bytes)"}"#, "malformed"),
        (#"{"v":3,"vectors":2,"dim":8,"shared":4,"features_f16":"\#(Self.v3Bytes)"}"#, "malformed"),
        (#"{"v":3,"vectors":2,"shared":4,"scales":[1,1],"features_f16":"\#(Self.v3Bytes)"}"#, "malformed"),
        (#"{"v":3,"vectors":2,"dim":8,"shared":4,"scales":[1,1],"features_f16":"ADwAPA=="}"#, "malformed"),
        (#"{"v":3,"vectors":2,"dim":8,"shared":4,"scales":[1,1e39],"features_f16":"\#(Self.v3Bytes)"}"#, "malformed"),
        (
            #"{"v":3,"vectors":2,"dim":6,"shared":3,"scales":[1,2],"features_f16":"ADwAPAA8ADwAPAA8ADwAPAA8"}"#,
            "wrong_dimension"
        ),
    ])
    func badMessagesAreRejectedWithTheirKindAndTopic(payload: String, kind: String) {
        #expect {
            _ = try Self.validator.validate(Array(payload.utf8), topic: "devices/cam-1/features")
        } throws: { error in
            guard let error = error as? DeviceMessageError else { return false }
            return error.kind == kind && error.description.hasPrefix("devices/cam-1/features: ")
        }
    }

    @Test func halfFloatNaNAndInfinityAreRejected() {
        var features = Self.vector()
        features[3] = .infinity
        let payload = PayloadCodec.encode(FeatureMessage(model: Self.model, features: features), as: .compact)
        #expect(throws: DeviceMessageError.notFinite(topic: "t", index: 3)) {
            try Self.validator.validate(payload, topic: "t")
        }
    }

    @Test func oversizedPayloadsAreRejectedBeforeParsing() {
        let validator = MessageValidator(
            modelID: Self.model, dimension: 8, limits: PayloadLimits(maxPayloadBytes: 100))
        let payload = [UInt8](repeating: UInt8(ascii: "{"), count: 101)
        #expect(throws: DeviceMessageError.tooLarge(topic: "t", bytes: 101, limit: 100)) {
            try validator.validate(payload, topic: "t")
        }
    }

    @Test func offlineBufferDropsTheOldestAndCounts() {
        var buffer = OfflineBuffer<Int>(capacity: 3)
        for i in 0..<5 { buffer.append(i) }
        #expect(buffer.dropped == 2)
        #expect(buffer.removeAll() == [2, 3, 4])
        #expect(buffer.isEmpty)
        buffer.append(9)
        #expect(buffer.popFirst() == 9)
    }

    @Test func brokerURLs() throws {
        #expect(try BrokerURL(parsing: "mqtt://127.0.0.1:1884") == BrokerURL(host: "127.0.0.1", port: 1884))
        #expect(try BrokerURL(parsing: "mqtt://broker") == BrokerURL(host: "broker", port: 1883))
        #expect(try BrokerURL(parsing: "mqtts://broker").port == 8883)
        #expect(try BrokerURL(parsing: "mqtt://[::1]:1999").host == "::1")
        #expect(try BrokerURL(parsing: "mqtt://[::1]:1999").description == "mqtt://[::1]:1999")
        #expect(throws: MQTTError.self) { try BrokerURL(parsing: "http://broker") }
        #expect(throws: MQTTError.self) { try BrokerURL(parsing: "mqtt://broker:99999") }
        #expect(throws: MQTTError.self) { try BrokerURL(parsing: "mqtt://:1883") }
    }

    @Test func topicFilters() {
        #expect(MQTTClient.matches(filter: "devices/+/features", topic: "devices/cam-1/features"))
        #expect(!MQTTClient.matches(filter: "devices/+/features", topic: "devices/cam-1/other"))
        #expect(MessageValidator.wildcardLevel(of: "devices/cam-1/features", filter: "devices/+/features") == "cam-1")
        #expect(MessageValidator.wildcardLevel(of: "devices/cam-1/features", filter: "devices/#") == nil)
        #expect(MQTTClient.topicFilter(of: "$share/replicas/devices/+/features") == "devices/+/features")
        #expect(MQTTClient.shareGroup(of: "$share/replicas/devices/+/features") == "replicas")
        #expect(MQTTClient.topicFilter(of: "devices/+/features") == "devices/+/features")
        #expect(MQTTClient.shareGroup(of: "devices/+/features") == nil)
        #expect(MQTTClient.shareGroup(of: "$share//devices/#") == nil)
        // A validator given the shared filter names the device from the topic, as with the plain one.
        let validator = MessageValidator(
            modelID: "m/1", dimension: 2, topicFilter: "$share/replicas/devices/+/features")
        let named = try? validator.validate(
            PayloadCodec.encode(FeatureMessage(features: [1, 0]), as: .original), topic: "devices/cam-4/features")
        #expect(named?.device == "cam-4")
    }
}

/// A model whose vectors blend the plain vector with pooled ones (`DescriptorSpec.plainWeight`)
/// still answers the original device, which sends the plain vector alone.
extension PayloadTests {
    @Test func anOriginalPlainVectorIsPaddedForABlendedModelAndNothingElseIs() throws {
        let validator = MessageValidator(
            modelID: Self.model, dimension: 16, topicFilter: "devices/+/features", plainDimension: 8)
        let plain = FeatureMessage(features: Self.vector())
        let padded = try validator.validate(PayloadCodec.encode(plain, as: .original), topic: "devices/cam-2/features")
        #expect(padded.features.count == 16)
        #expect(padded.features[8...].allSatisfy { $0 == 0 })
        for (a, b) in zip(padded.features, Self.vector()) { #expect(abs(a - b) < 1e-6) }
        // A compact payload says what it carries: a plain-length one is the wrong dimension.
        let compact = FeatureMessage(model: Self.model, features: Self.vector())
        #expect(throws: DeviceMessageError.self) {
            try validator.validate(PayloadCodec.encode(compact, as: .compact), topic: "devices/cam-2/features")
        }
        // Any other length is refused as before, naming both.
        let odd = FeatureMessage(features: Self.vector(12))
        #expect(throws: DeviceMessageError.self) {
            try validator.validate(PayloadCodec.encode(odd, as: .original), topic: "devices/cam-2/features")
        }
        let full = FeatureMessage(features: Self.vector(16))
        #expect(try validator.validate(PayloadCodec.encode(full, as: .original), topic: "t").features.count == 16)
    }
}
