import Foundation
import LocalFeatures

/// One frame's features as a device publishes them.
public struct FeatureMessage: Sendable, Equatable {
    /// The model identifier (`model.json`'s `id`); nil in the original payload, which has none.
    public var model: String?
    /// The device's name; nil when the payload has none (the topic may still name it).
    public var device: String?
    /// When the camera captured the frame, to the millisecond.
    public var capturedAt: Date?
    /// The whole frame's vector.
    public var features: [Float]
    /// The frame's region vectors, when the model's descriptor has regions (compact payload v2 only);
    /// a search scores each item by its best vector among `features` and these.
    public var regions: [[Float]]
    /// A small JPEG of the frame, so people can see what the device saw.
    public var thumbnailJPEG: [UInt8]?
    /// The frame's local features, when the model verifies a search's best candidates by them
    /// (`DescriptorSpec.verify`; compact payload v4 only).
    public var localFeatures: LocalFeatures?

    public init(
        model: String? = nil, device: String? = nil, capturedAt: Date? = nil, features: [Float],
        regions: [[Float]] = [], thumbnailJPEG: [UInt8]? = nil, localFeatures: LocalFeatures? = nil
    ) {
        self.model = model
        self.device = device
        self.capturedAt = capturedAt
        self.features = features
        self.regions = regions
        self.thumbnailJPEG = thumbnailJPEG
        self.localFeatures = localFeatures
    }
}

/// The payload formats devices publish.
public enum PayloadFormat: String, Sendable, CaseIterable {
    /// The original device's `{"features": "f1,f2,..."}`: decimal text, no model or device.
    case original
    /// `{"v":2,"model":…,"device":…,"captured_at":…,"dim":N,"vectors":R,"features_f16":"<base64>","thumbnail_jpeg":…}`:
    /// R vectors of N values (the whole frame's, then its regions'), as little-endian IEEE half floats
    /// in base64, a quarter of the original's size per vector. Version 1, one vector and no
    /// `"vectors"`, is still read. Version 3 adds `"shared":S,"scales":[R numbers]` for vectors whose
    /// first S values are multiples of the first vector's (the blend recipe's windows all repeat the
    /// frame's plain vector): `features_f16` then holds those S values once and each vector's other
    /// N − S, and vector r is `[scales[r] · shared ; its own]`. Version 4 is version 2 or 3 with
    /// `"local_features":"<base64>"`, the frame's local features (`LocalFeatures.encoded`, 44 bytes per
    /// keypoint), with which the server checks the search's best candidates.
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
    /// The most vectors (whole frame and regions) one message may carry.
    public var maxVectors: Int
    /// The most local-feature keypoints one message may carry.
    public var maxKeypoints: Int

    public init(
        maxPayloadBytes: Int = 1 << 20, maxThumbnailBytes: Int = 512 << 10, maxDimension: Int = 16_384,
        maxVectors: Int = 64, maxKeypoints: Int = 5_000
    ) {
        self.maxPayloadBytes = maxPayloadBytes
        self.maxThumbnailBytes = maxThumbnailBytes
        self.maxDimension = maxDimension
        self.maxVectors = maxVectors
        self.maxKeypoints = maxKeypoints
    }
}
