import Foundation
import LocalFeatures

/// A device message that passed validation, ready to search.
public struct DeviceMessage: Sendable, Equatable {
    public var topic: String
    /// The payload's device name, else the topic's wildcard level (`devices/+/features` → `cam-1`).
    public var device: String?
    public var capturedAt: Date?
    /// The whole frame's vector.
    public var features: [Float]
    /// Its region vectors, if the device sent any.
    public var regions: [[Float]] = []
    public var thumbnailJPEG: [UInt8]?
    /// The frame's local features, if the device sent them (compact payload v4).
    public var localFeatures: LocalFeatures?
    public var format: PayloadFormat
}

/// Checks device messages against the server's model: its identifier, its
/// dimension, and that every feature is a finite number.
///
/// The original payload carries no model identifier, so only its dimension
/// can be checked.
public struct MessageValidator: Sendable {
    /// `model.json`'s `id` for the server's model.
    public var modelID: String
    public var dimension: Int
    public var limits: PayloadLimits
    /// The subscription's filter, used to name the device from the topic.
    public var topicFilter: String?
    /// The length of the plain vector, when the model's vectors blend it with pooled ones
    /// (`DescriptorSpec.plainWeight`): an original payload of that length, what a device without
    /// the recipe sends, is searched as [plain ; 0], which scores items by their plain halves.
    public var plainDimension: Int?

    public init(
        modelID: String, dimension: Int, limits: PayloadLimits = PayloadLimits(), topicFilter: String? = nil,
        plainDimension: Int? = nil
    ) {
        self.modelID = modelID
        self.dimension = dimension
        self.limits = limits
        self.topicFilter = topicFilter
        self.plainDimension = plainDimension
    }

    /// Decodes and checks one message.
    public func validate(_ payload: [UInt8], topic: String) throws(DeviceMessageError) -> DeviceMessage {
        var (message, format) = try PayloadCodec.decode(payload, topic: topic, limits: limits)
        if format == .original, let plainDimension, plainDimension < dimension, message.features.count == plainDimension
        {
            message.features += [Float](repeating: 0, count: dimension - plainDimension)
        }
        if let model = message.model, model != modelID {
            throw .wrongModel(topic: topic, model: model, expected: modelID)
        }
        guard message.features.count == dimension else {
            throw .wrongDimension(topic: topic, count: message.features.count, expected: dimension)
        }
        for (offset, vector) in ([message.features] + message.regions).enumerated() {
            if let index = vector.firstIndex(where: { !$0.isFinite }) {
                throw .notFinite(topic: topic, index: offset * dimension + index)
            }
        }
        // A shared subscription's messages keep their own topics: match them without `$share/GROUP/`.
        let device =
            message.device
            ?? topicFilter.flatMap { Self.wildcardLevel(of: topic, filter: MQTTClient.topicFilter(of: $0)) }
        return DeviceMessage(
            topic: topic, device: device, capturedAt: message.capturedAt, features: message.features,
            regions: message.regions, thumbnailJPEG: message.thumbnailJPEG, localFeatures: message.localFeatures,
            format: format)
    }

    /// The topic level that the filter's first `+` matched, if any.
    public static func wildcardLevel(of topic: String, filter: String) -> String? {
        let filterLevels = filter.split(separator: "/", omittingEmptySubsequences: false)
        let topicLevels = topic.split(separator: "/", omittingEmptySubsequences: false)
        guard let index = filterLevels.firstIndex(of: "+"), index < topicLevels.count else { return nil }
        let level = topicLevels[index]
        return level.isEmpty ? nil : String(level)
    }
}
