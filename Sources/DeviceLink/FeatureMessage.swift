import Foundation

/// One frame's features as a device publishes them.
public struct FeatureMessage: Sendable, Equatable {
    /// The model identifier (`model.json`'s `id`); nil in the original payload, which has none.
    public var model: String?
    /// The device's name; nil when the payload has none (the topic may still name it).
    public var device: String?
    /// When the camera captured the frame, to the millisecond.
    public var capturedAt: Date?
    public var features: [Float]
    /// A small JPEG of the frame, so people can see what the device saw.
    public var thumbnailJPEG: [UInt8]?

    public init(
        model: String? = nil, device: String? = nil, capturedAt: Date? = nil, features: [Float],
        thumbnailJPEG: [UInt8]? = nil
    ) {
        self.model = model
        self.device = device
        self.capturedAt = capturedAt
        self.features = features
        self.thumbnailJPEG = thumbnailJPEG
    }
}

/// The payload formats devices publish.
public enum PayloadFormat: String, Sendable, CaseIterable {
    /// The original device's `{"features": "f1,f2,..."}`: decimal text, no model or device.
    case original
    /// `{"v":1,"model":…,"device":…,"captured_at":…,"dim":N,"features_f16":"<base64>","thumbnail_jpeg":…}`:
    /// the features as little-endian IEEE half floats in base64, a quarter of the original's size.
    case compact
}

/// Limits that keep a hostile or broken device from costing the server much.
public struct PayloadLimits: Sendable, Equatable {
    /// The largest payload accepted, thumbnail included.
    public var maxPayloadBytes: Int
    /// The largest thumbnail accepted, after base64 decoding.
    public var maxThumbnailBytes: Int
    /// The longest feature vector accepted before it is compared with the model's dimension.
    public var maxDimension: Int

    public init(maxPayloadBytes: Int = 1 << 20, maxThumbnailBytes: Int = 512 << 10, maxDimension: Int = 16_384) {
        self.maxPayloadBytes = maxPayloadBytes
        self.maxThumbnailBytes = maxThumbnailBytes
        self.maxDimension = maxDimension
    }
}
