import Catalogue
import DeviceLink
import Foundation
import Logging
import Metrics
import ServiceLifecycle

/// The server's side of the device path, in place of the original IoT rule and search Lambda:
/// it subscribes to the devices' topic, validates each message, searches the catalogue with its
/// features, and publishes a device match event into the hub (live stream, `/matches`, latest).
///
/// A malformed message, or one from another model, is logged and counted in `/metrics`
/// (`vsearch_device_messages_total{result=…}`); it never ends the subscription. The latency from
/// the frame's capture to the event reaching the hub is in the event (`latency_ms`) and in the
/// histogram `vsearch_device_latency_seconds`.
public struct DeviceSubscription: Service {
    public let server: SearchServer
    public let client: MQTTClient
    public let feed: DeviceFeed
    /// Matches per device event.
    public let k: Int
    let logger: Logger

    /// Prepares the subscription to `filter` (e.g. `devices/+/features`); `connect()` then `run()` start it.
    public init(
        server: SearchServer, mqtt: MQTTOptions, filter: String, qos: QoS = .atMostOnce, k: Int = 4,
        limits: PayloadLimits = PayloadLimits(), logger: Logger
    ) throws(MQTTError) {
        self.server = server
        client = try MQTTClient(options: mqtt)
        let validator = MessageValidator(
            modelID: server.featurizer.descriptor.id, dimension: server.featurizer.dimension, limits: limits,
            topicFilter: filter, plainDimension: server.featurizer.descriptor.feature.dimension)
        feed = DeviceFeed(client: client, filter: filter, validator: validator, qos: qos)
        self.k = max(1, k)
        self.logger = logger
    }

    /// Connects to the broker; throws one clear line when it is unreachable or refuses the credentials.
    public func connect() async throws(MQTTError) {
        try await client.connect()
    }

    /// Receives messages until graceful shutdown; the client reconnects by itself meanwhile.
    public func run() async throws {
        let events = Task {
            for await event in client.events {
                switch event {
                case .reconnected: logger.info("MQTT: reconnected to \(client.options.broker)")
                case .disconnected(let reason): logger.warning("MQTT: \(client.options.broker): \(reason)")
                case .refused(let reason): logger.error("MQTT: \(client.options.broker): connection refused: \(reason)")
                }
            }
        }
        await cancelWhenGracefulShutdown {
            do {
                try await feed.run(
                    accept: { message, receivedAt in await handle(message, receivedAt: receivedAt) },
                    reject: { error in
                        server.metrics.deviceMessage(result: error.kind)
                        logger.warning("MQTT: \(error.description)")
                    })
            } catch {
                logger.error("MQTT: \(error)")
            }
        }
        events.cancel()
        client.disconnect()
    }

    /// Searches with one valid message and publishes its match event.
    func handle(_ message: DeviceMessage, receivedAt: Date) async {
        let started = ContinuousClock.now
        let store = server.catalogue.reader
        let found: [[CatalogueMatch]]
        do {
            found = try await store.search(
                regions: [([message.features] + message.regions).map(Self.normalized)],
                modelID: try await store.binding()?.model ?? server.featurizer.descriptor.id,
                query: CatalogueQuery(
                    k: k, windowPenalty: server.featurizer.windowPenalty,
                    sharedPrefix: server.featurizer.sharedPrefix,
                    // The original payload's one plain vector is not a query of the recipe: ranked as it is.
                    check: message.format == .original
                        ? nil : CandidateCheck(model: server.featurizer, pictures: [message.localFeatures])))
        } catch {
            server.metrics.deviceMessage(result: "search_failed")
            logger.error("MQTT: \(message.topic): search failed: \(error.description)")
            return
        }
        let searchMS = (ContinuousClock.now - started) / .milliseconds(1)
        let timing = SearchTiming(
            decodeMS: 0, featurizeMS: 0, searchMS: searchMS, totalMS: Date().timeIntervalSince(receivedAt) * 1000)
        // Without a capture time (the original payload has none) the latency starts at the message's arrival.
        let latencyMS = max(0, Date().timeIntervalSince(message.capturedAt ?? receivedAt) * 1000)
        await server.hub.publish(
            source: .device, device: message.device, capturedAt: message.capturedAt,
            matches: (found.first ?? []).map(MatchResult.init), timing: timing, latencyMS: latencyMS,
            queryPicture: message.thumbnailJPEG.map(QueryPicture.jpeg))
        server.metrics.deviceMessage(result: "accepted")
        server.metrics.deviceLatency(milliseconds: latencyMS)
    }

    /// Devices send unit vectors rounded to half precision, or the original format's raw values.
    static func normalized(_ vector: [Float]) -> [Float] {
        let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
        guard norm > 0 else { return vector }
        return vector.map { $0 / norm }
    }
}

extension ServerMetrics {
    /// One device message: `accepted`, or why it was rejected (`malformed`, `wrong_model`, …).
    func deviceMessage(result: String) {
        Counter(label: "vsearch_device_messages_total", dimensions: [("result", result)], factory: factory).increment()
    }

    /// From a frame's capture on the device to its match event in the hub (and so to SSE clients).
    func deviceLatency(milliseconds: Double) {
        Metrics.Timer(label: "vsearch_device_latency_seconds", factory: factory)
            .recordNanoseconds(Int64(milliseconds * 1e6))
    }
}
