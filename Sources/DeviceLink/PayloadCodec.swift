import Foundation
import LocalFeatures

/// Turns feature messages into MQTT payloads and back.
///
/// Decoding recognises both formats by their keys, so a server accepts old
/// and new devices on the same topic. It checks the structure and sizes;
/// whether the vector suits the server's model is `MessageValidator`'s job.
public enum PayloadCodec {
    /// The payload bytes of `message` in `format`.
    ///
    /// `sharedPrefix` is how many leading values the message's vectors share up to a scale (the
    /// blend recipe's plain half, `Featurizer.sharedPrefix`). When every vector does, the compact
    /// payload is version 3, which carries that part once and a scale per vector: about half the
    /// bytes of version 2 for 48 windows of 2,560 values. Otherwise, or with 0, it is version 1 or 2.
    public static func encode(_ message: FeatureMessage, as format: PayloadFormat, sharedPrefix: Int = 0) -> [UInt8] {
        switch format {
        case .original:
            let text = message.features.map { "\($0)" }.joined(separator: ",")
            return Array("{\"features\":\"\(text)\"}".utf8)
        case .compact:
            let vectors = [message.features] + message.regions
            let scales = message.regions.isEmpty ? nil : PrefixScales.find(vectors, length: sharedPrefix)
            let version = message.localFeatures != nil ? 4 : scales != nil ? 3 : message.regions.isEmpty ? 1 : 2
            var json = "{\"v\":\(version)"
            if let model = message.model { json += ",\"model\":\(jsonString(model))" }
            if let device = message.device { json += ",\"device\":\(jsonString(device))" }
            if let capturedAt = message.capturedAt {
                json += ",\"captured_at\":\"\(MessageTimestamp.format(capturedAt))\""
            }
            json += ",\"dim\":\(message.features.count)"
            if !message.regions.isEmpty { json += ",\"vectors\":\(vectors.count)" }
            var values: [Float]
            if let scales {
                json += ",\"shared\":\(sharedPrefix),\"scales\":[\(scales.map { "\($0)" }.joined(separator: ","))]"
                values = Array(message.features[..<sharedPrefix])
                for vector in vectors { values += vector[sharedPrefix...] }
            } else {
                values = vectors.reduce([], +)
            }
            json += ",\"features_f16\":\"\(HalfFloatCodec.base64(values))\""
            if let thumbnail = message.thumbnailJPEG {
                json += ",\"thumbnail_jpeg\":\"\(Data(thumbnail).base64EncodedString())\""
            }
            if let features = message.localFeatures {
                json += ",\"local_features\":\"\(Data(features.encoded).base64EncodedString())\""
            }
            return Array((json + "}").utf8)
        }
    }

    /// Reads a payload in either format; `topic` names the message in errors.
    public static func decode(_ payload: [UInt8], topic: String, limits: PayloadLimits = PayloadLimits())
        throws(DeviceMessageError) -> (message: FeatureMessage, format: PayloadFormat)
    {
        guard payload.count <= limits.maxPayloadBytes else {
            throw .tooLarge(topic: topic, bytes: payload.count, limit: limits.maxPayloadBytes)
        }
        let wire: WireMessage
        do {
            wire = try JSONDecoder().decode(WireMessage.self, from: Data(payload))
        } catch {
            throw .malformed(topic: topic, reason: "not a JSON object with the expected fields")
        }
        if let packed = wire.featuresF16 {
            return (try decodeCompact(wire, packed: packed, topic: topic, limits: limits), .compact)
        }
        guard let features = wire.features else {
            throw .malformed(topic: topic, reason: "neither \"features\" nor \"features_f16\"")
        }
        let values = try decodeOriginal(features, topic: topic, limits: limits)
        let capturedAt = try wire.capturedAt.map { text throws(DeviceMessageError) in
            try parseTimestamp(text, topic: topic)
        }
        return (
            FeatureMessage(model: wire.model, device: wire.device, capturedAt: capturedAt, features: values), .original
        )
    }

    private static func decodeCompact(_ wire: WireMessage, packed: String, topic: String, limits: PayloadLimits)
        throws(DeviceMessageError) -> FeatureMessage
    {
        guard let version = wire.v, (1...4).contains(version) else {
            throw .malformed(topic: topic, reason: "unknown payload version \(wire.v.map(String.init) ?? "none")")
        }
        let count = wire.vectors ?? 1
        guard version >= 2 || wire.vectors == nil else {
            throw .malformed(topic: topic, reason: "\"vectors\" needs payload version 2")
        }
        guard version >= 3 || (wire.shared == nil && wire.scales == nil) else {
            throw .malformed(topic: topic, reason: "\"shared\" and \"scales\" need payload version 3")
        }
        guard version == 4 || wire.localFeatures == nil else {
            throw .malformed(topic: topic, reason: "\"local_features\" needs payload version 4")
        }
        guard (1...limits.maxVectors).contains(count) else {
            throw .malformed(topic: topic, reason: "\"vectors\" is \(count), expected 1 to \(limits.maxVectors)")
        }
        guard let bytes = Data(base64Encoded: packed) else {
            throw .malformed(topic: topic, reason: "\"features_f16\" is not base64")
        }
        let vectors: [[Float]]
        if version == 3 || (version == 4 && wire.shared != nil) {
            vectors = try sharedPrefixVectors(wire, bytes: bytes, count: count, topic: topic, limits: limits)
        } else {
            guard bytes.count % (2 * count) == 0, bytes.count / (2 * count) <= limits.maxDimension else {
                throw .malformed(
                    topic: topic, reason: "\"features_f16\" holds \(bytes.count) bytes for \(count) vectors")
            }
            let values = HalfFloatCodec.floats(fromLittleEndian: bytes)
            let width = values.count / count
            if let dim = wire.dim, dim != width {
                throw .malformed(
                    topic: topic, reason: "\"dim\" is \(dim) but \"features_f16\" holds \(count) × \(width) values")
            }
            vectors = (0..<count).map { Array(values[($0 * width)..<(($0 + 1) * width)]) }
        }
        let features = vectors[0]
        let regions = Array(vectors.dropFirst())
        var thumbnail: [UInt8]?
        if let text = wire.thumbnailJPEG {
            guard let data = Data(base64Encoded: text) else {
                throw .malformed(topic: topic, reason: "\"thumbnail_jpeg\" is not base64")
            }
            guard data.count <= limits.maxThumbnailBytes else {
                throw .tooLarge(topic: topic, bytes: data.count, limit: limits.maxThumbnailBytes)
            }
            guard data.starts(with: [0xFF, 0xD8]) else {
                throw .malformed(topic: topic, reason: "\"thumbnail_jpeg\" is not a JPEG")
            }
            thumbnail = Array(data)
        }
        let capturedAt = try wire.capturedAt.map { text throws(DeviceMessageError) in
            try parseTimestamp(text, topic: topic)
        }
        let localFeatures = try wire.localFeatures.map { text throws(DeviceMessageError) in
            try decodeLocalFeatures(text, topic: topic, limits: limits)
        }
        return FeatureMessage(
            model: wire.model, device: wire.device, capturedAt: capturedAt, features: features, regions: regions,
            thumbnailJPEG: thumbnail, localFeatures: localFeatures)
    }

    /// Version 4's `"local_features"`: base64 of `LocalFeatures.encoded`, at most `maxKeypoints` of them.
    private static func decodeLocalFeatures(_ text: String, topic: String, limits: PayloadLimits)
        throws(DeviceMessageError) -> LocalFeatures
    {
        guard let data = Data(base64Encoded: text) else {
            throw .malformed(topic: topic, reason: "\"local_features\" is not base64")
        }
        let features: LocalFeatures
        do {
            features = try LocalFeatures(encoded: Array(data))
        } catch {
            throw .malformed(topic: topic, reason: "\"local_features\": \(error.description)")
        }
        guard features.count <= limits.maxKeypoints else {
            throw .malformed(
                topic: topic,
                reason: "\"local_features\" holds \(features.count) keypoints, more than \(limits.maxKeypoints)")
        }
        guard features.points.allSatisfy({ $0.x.isFinite && $0.y.isFinite }) else {
            throw .malformed(topic: topic, reason: "\"local_features\" holds a keypoint that is not finite")
        }
        return features
    }

    /// Version 3: `"shared"` values once, then each vector's other `dim − shared`; vector r is
    /// `[scales[r] · shared part ; its own part]`.
    private static func sharedPrefixVectors(
        _ wire: WireMessage, bytes: Data, count: Int, topic: String, limits: PayloadLimits
    ) throws(DeviceMessageError) -> [[Float]] {
        guard let dim = wire.dim, (2...limits.maxDimension).contains(dim) else {
            throw .malformed(topic: topic, reason: "version 3 needs \"dim\" from 2 to \(limits.maxDimension)")
        }
        guard let shared = wire.shared, (1..<dim).contains(shared) else {
            throw .malformed(topic: topic, reason: "\"shared\" must be from 1 to \(dim - 1)")
        }
        guard let scales = wire.scales, scales.count == count else {
            throw .malformed(topic: topic, reason: "\"scales\" must hold one number per vector (\(count))")
        }
        guard scales.allSatisfy(\.isFinite) else {
            throw .malformed(topic: topic, reason: "\"scales\" holds a value that is not finite")
        }
        let rest = dim - shared
        guard bytes.count == 2 * (shared + count * rest) else {
            throw .malformed(
                topic: topic,
                reason: "\"features_f16\" holds \(bytes.count) bytes, not \(2 * (shared + count * rest)) for \(shared) "
                    + "shared values and \(count) × \(rest) more")
        }
        let values = HalfFloatCodec.floats(fromLittleEndian: bytes)
        let prefix = values[..<shared]
        return (0..<count).map { r in
            let start = shared + r * rest
            return prefix.map { $0 * scales[r] } + values[start..<(start + rest)]
        }
    }

    private static func decodeOriginal(_ features: WireFeatures, topic: String, limits: PayloadLimits)
        throws(DeviceMessageError) -> [Float]
    {
        switch features {
        case .numbers(let values):
            guard values.count <= limits.maxDimension else {
                throw .malformed(topic: topic, reason: "\(values.count) features is more than the limit")
            }
            return values
        case .text(let text):
            var values: [Float] = []
            for (index, field) in text.split(separator: ",", omittingEmptySubsequences: false).enumerated() {
                guard index < limits.maxDimension else {
                    throw .malformed(topic: topic, reason: "more than \(limits.maxDimension) features")
                }
                guard let value = Float(field.trimmingCharacters(in: .whitespaces)) else {
                    throw .malformed(topic: topic, reason: "feature \(index) is not a number")
                }
                values.append(value)
            }
            return values
        }
    }

    private static func parseTimestamp(_ text: String, topic: String) throws(DeviceMessageError) -> Date {
        guard let date = MessageTimestamp.parse(text) else {
            throw .malformed(topic: topic, reason: "\"captured_at\" is not an ISO 8601 time")
        }
        return date
    }

    private static func jsonString(_ text: String) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        guard let data = try? encoder.encode(text), let quoted = String(data: data, encoding: .utf8) else {
            return "\"\""
        }
        return quoted
    }
}

/// The JSON fields of both payload formats.
private struct WireMessage: Decodable {
    var v: Int?
    var model: String?
    var device: String?
    var capturedAt: String?
    var dim: Int?
    var vectors: Int?
    var shared: Int?
    var scales: [Float]?
    var featuresF16: String?
    var features: WireFeatures?
    var thumbnailJPEG: String?
    var localFeatures: String?

    enum CodingKeys: String, CodingKey {
        case v, model, device, dim, vectors, shared, scales, features
        case capturedAt = "captured_at"
        case featuresF16 = "features_f16"
        case thumbnailJPEG = "thumbnail_jpeg"
        case localFeatures = "local_features"
    }
}

/// The original payload's features: a comma-separated string, or (leniently) a JSON array of numbers.
private enum WireFeatures: Decodable {
    case text(String)
    case numbers([Float])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            self = .text(text)
        } else {
            self = .numbers(try container.decode([Float].self))
        }
    }
}

/// The scales that make every vector's first `length` values a multiple of the first vector's.
enum PrefixScales {
    /// One scale per vector (the first is 1), or nil when `length` is not a proper prefix, the first
    /// vector's prefix is zero, or some vector's prefix is not along it to within 1e-6 of its norm
    /// (half precision, which the payload uses, rounds by 5e-4).
    static func find(_ vectors: [[Float]], length: Int) -> [Float]? {
        guard let first = vectors.first, length > 0, length < first.count,
            vectors.allSatisfy({ $0.count == first.count })
        else { return nil }
        // In double: a float sum over a thousand products rounds the scale by about 1e-6, which
        // alone would leave a residual above the bound.
        let p = first[..<length].map(Double.init)
        let pp = p.reduce(0) { $0 + $1 * $1 }
        guard pp > 0, pp.isFinite else { return nil }
        var scales: [Float] = []
        for vector in vectors {
            let v = vector[..<length].map(Double.init)
            let scale = zip(v, p).reduce(0) { $0 + $1.0 * $1.1 } / pp
            let residual = zip(v, p).reduce(0) { $0 + ($1.0 - scale * $1.1) * ($1.0 - scale * $1.1) }
            let vv = v.reduce(0) { $0 + $1 * $1 }
            guard scale.isFinite, residual <= 1e-12 * max(vv, pp) else { return nil }
            scales.append(Float(scale))
        }
        return scales
    }
}

/// ISO 8601 times with milliseconds in UTC, as devices and match events carry them.
public enum MessageTimestamp {
    /// `2026-11-27T10:00:00.123Z`.
    public static func format(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    /// Reads an ISO 8601 time with or without fractional seconds.
    public static func parse(_ text: String) -> Date? {
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text) { return date }
        return try? Date.ISO8601FormatStyle().parse(text)
    }
}

/// Little-endian IEEE 754 half-precision packing of feature vectors.
///
/// Unit-length features lose under 0.1 % to half precision, which moves
/// cosine scores by about 1e-4, far below the gaps between catalogue items.
public enum HalfFloatCodec {
    /// The features as little-endian half floats in base64.
    public static func base64(_ values: [Float]) -> String {
        var bytes = [UInt8](repeating: 0, count: values.count * 2)
        for (i, value) in values.enumerated() {
            let bits = Float16(value).bitPattern
            bytes[2 * i] = UInt8(truncatingIfNeeded: bits)
            bytes[2 * i + 1] = UInt8(truncatingIfNeeded: bits >> 8)
        }
        return Data(bytes).base64EncodedString()
    }

    /// Floats from little-endian half floats; `bytes.count` must be even.
    public static func floats(fromLittleEndian bytes: Data) -> [Float] {
        let count = bytes.count / 2
        return bytes.withUnsafeBytes { raw in
            (0..<count).map { i in
                let bits = UInt16(raw[2 * i]) | UInt16(raw[2 * i + 1]) << 8
                return Float(Float16(bitPattern: bits))
            }
        }
    }
}
