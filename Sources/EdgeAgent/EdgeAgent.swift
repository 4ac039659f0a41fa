import DeviceLink
import Featurizer
import Foundation
import ImageDecoding

/// Where the edge agent sends its payloads: an `MQTTClient`, or a fake in tests.
public protocol FeaturePublisher: Sendable {
    func publish(_ payload: [UInt8], to topic: String, qos: QoS, retain: Bool) throws(MQTTError) -> PublishOutcome
}

extension MQTTClient: FeaturePublisher {}

/// How the edge agent turns frames into messages.
public struct EdgeAgentOptions: Sendable {
    public var topic: String
    /// The device name carried in compact payloads.
    public var deviceID: String?
    public var payload: PayloadFormat
    public var qos: QoS
    /// A frame whose cosine similarity to the last published one is at least this is skipped;
    /// above 1 publishes every frame.
    public var dedupThreshold: Float
    /// Adds a small JPEG of the frame to compact payloads.
    public var thumbnail: Bool
    /// The longest side of a thumbnail.
    public var thumbnailMaxSide: Int

    public init(
        topic: String, deviceID: String? = nil, payload: PayloadFormat = .compact, qos: QoS = .atMostOnce,
        dedupThreshold: Float = 0.98, thumbnail: Bool = false, thumbnailMaxSide: Int = 320
    ) {
        self.topic = topic
        self.deviceID = deviceID
        self.payload = payload
        self.qos = qos
        self.dedupThreshold = dedupThreshold
        self.thumbnail = thumbnail
        self.thumbnailMaxSide = thumbnailMaxSide
    }
}

/// What the agent has done so far, for its status line.
public struct EdgeStatistics: Sendable, Equatable {
    /// Frames taken from the source.
    public var read = 0
    public var published = 0
    /// Frames nearly the same as the last published one.
    public var skipped = 0
    /// Frames that could not be decoded or featurized.
    public var failed = 0
    /// Frames the source dropped because the agent was busy (live sources only).
    public var droppedLate = 0
    /// Messages dropped from the full offline buffer while the broker was away.
    public var droppedOffline = 0
    /// Seconds since the agent started.
    public var elapsed: Double = 0

    /// Frames handled per second.
    public var framesPerSecond: Double { elapsed > 0 ? Double(read) / elapsed : 0 }

    /// `frames 120 · published 31 · skipped 88 · failed 1 · dropped 0 · 4.9 fps`.
    public var line: String {
        let fps = String(format: "%.1f", framesPerSecond)
        return "frames \(read) · published \(published) · skipped \(skipped) · failed \(failed) · dropped "
            + "\(droppedLate + droppedOffline) · \(fps) fps"
    }
}

/// The device agent: frames → features on the device → near-duplicate filter → MQTT.
///
/// It replaces the original camera appliance's inference loop. Frames are
/// featurized with the same model directory as the server, so the vectors
/// it publishes are searchable as they are.
public final class EdgeAgent: Sendable {
    public let featurizer: Featurizer
    public let publisher: any FeaturePublisher
    public let options: EdgeAgentOptions

    public init(featurizer: Featurizer, publisher: any FeaturePublisher, options: EdgeAgentOptions) {
        self.featurizer = featurizer
        self.publisher = publisher
        self.options = options
    }

    /// Runs until the source ends or the task is cancelled; `report` sees the counts after every frame
    /// and `warn` every frame that failed. Throws only when the source itself fails.
    @discardableResult
    public func run(
        source: any FrameSource, report: @Sendable (EdgeStatistics) -> Void = { _ in },
        warn: @Sendable (any Error) -> Void = { _ in }
    ) async throws -> EdgeStatistics {
        let started = ContinuousClock.now
        var statistics = EdgeStatistics()
        var lastPublished: [Float]?
        let frames = source.frames()
        for try await frame in frames {
            if Task.isCancelled { break }
            statistics.read += 1
            do {
                let outcome = try process(frame, lastPublished: lastPublished)
                if let vector = outcome.published {
                    lastPublished = vector
                    statistics.published += 1
                    if outcome.droppedOldest { statistics.droppedOffline += 1 }
                } else {
                    statistics.skipped += 1
                }
            } catch {
                statistics.failed += 1
                warn(error)
            }
            statistics.droppedLate = frames.dropped
            statistics.elapsed = (ContinuousClock.now - started) / .seconds(1)
            report(statistics)
        }
        statistics.droppedLate = frames.dropped
        statistics.elapsed = (ContinuousClock.now - started) / .seconds(1)
        return statistics
    }

    /// Featurizes one frame and publishes it unless it is a near-duplicate of `lastPublished`.
    func process(_ frame: Frame, lastPublished: [Float]?) throws -> (published: [Float]?, droppedOldest: Bool) {
        let image: Image
        let vectors: [[Float]]
        do {
            image = try featurizer.decode(bytes: frame.bytes, name: frame.name, for: .query)
            guard let query = try featurizer.queryVectors([image]).first, !query.isEmpty else {
                throw EdgeAgentError.frame(name: frame.name, reason: "the model gave no features")
            }
            vectors = query
        } catch let error as FeaturizerError {
            throw EdgeAgentError.frame(name: frame.name, reason: error.description)
        }
        // The whole frame's vector decides whether the view changed; the regions ride along. With a
        // blended recipe every vector is a window, and their shared plain half is the whole frame's.
        let plain = featurizer.plainPart(of: vectors[0])
        let vector = plain ?? vectors[0]
        if let lastPublished, Similarity.cosine(lastPublished, vector) >= options.dedupThreshold {
            return (nil, false)
        }
        // The original payload has room for one plain vector: the whole frame's (the server pads a
        // blended model's plain vector with zeros). The compact one carries every query vector.
        let compact = options.payload == .compact
        var message = FeatureMessage(
            model: featurizer.descriptor.id, device: options.deviceID, capturedAt: frame.capturedAt,
            features: compact ? vectors[0] : vector, regions: compact ? Array(vectors.dropFirst()) : [])
        // The server checks its best candidates with the frame's own local features, when the model says so.
        if compact { message.localFeatures = featurizer.localFeatures(of: image) }
        if options.thumbnail, options.payload == .compact {
            message.thumbnailJPEG = Thumbnail.jpeg(
                frameBytes: frame.bytes, decoded: image, maxSide: options.thumbnailMaxSide)
        }
        let payload = PayloadCodec.encode(message, as: options.payload, sharedPrefix: featurizer.sharedPrefix)
        let outcome = try publisher.publish(payload, to: options.topic, qos: options.qos, retain: false)
        return (vector, outcome == .bufferedDroppingOldest)
    }
}

/// Vector similarity for the near-duplicate filter.
public enum Similarity {
    /// The cosine of the angle between `a` and `b` (0 when either is zero or their lengths differ).
    public static func cosine(_ a: [Float], _ b: [Float]) -> Float {
        guard a.count == b.count else { return 0 }
        var dot: Float = 0
        var normA: Float = 0
        var normB: Float = 0
        for i in a.indices {
            dot += a[i] * b[i]
            normA += a[i] * a[i]
            normB += b[i] * b[i]
        }
        guard normA > 0, normB > 0 else { return 0 }
        return dot / (normA.squareRoot() * normB.squareRoot())
    }
}
