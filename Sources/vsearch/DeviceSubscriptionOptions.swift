import ArgumentParser
import DeviceLink
import Logging
import SearchServer
import ServiceLifecycle

/// `vsearch serve --mqtt …`: subscribe to devices' feature messages and turn them into match events.
struct DeviceSubscriptionOptions: ParsableArguments {
    /// Broker, topic, credentials, TLS and QoS: the same flags as `vsearch edge`.
    @OptionGroup var mqtt: MQTTConnectionOptions

    @Option(help: "Matches per device event.")
    var deviceK = 4

    @Option(
        name: .customLong("mqtt-share-group"),
        help: ArgumentHelp(
            """
            Subscribe as one member of this MQTT shared-subscription group ($share/GROUP/TOPIC), so that \
            replicas of the server on one catalogue each get a share of the device messages and every \
            message is searched once.
            """, valueName: "GROUP"))
    var shareGroup: String?

    /// The topic filter subscribed to when --topic is not given: every device's features.
    static let defaultTopic = "devices/+/features"

    /// The connected subscription as a service, or none without --mqtt.
    func subscription(server: SearchServer, logger: Logger) async throws -> [any Service] {
        guard let broker = mqtt.broker else { return [] }
        let options = try mqtt.options(broker: broker)
        let topic = try Self.subscription(topic: mqtt.topic ?? Self.defaultTopic, shareGroup: shareGroup)
        let subscription = try DeviceSubscription(
            server: server, mqtt: options, filter: topic, qos: mqtt.qos, k: deviceK, logger: logger)
        try await subscription.connect()
        logger.info("MQTT: subscribed to \(topic) on \(options.broker)")
        return [subscription]
    }

    /// The filter to subscribe to: `topic`, or `$share/GROUP/topic` with a share group.
    static func subscription(topic: String, shareGroup: String?) throws -> String {
        guard let shareGroup else { return topic }
        guard !shareGroup.isEmpty, !shareGroup.contains(where: { "/+#".contains($0) }) else {
            throw ValidationError("--mqtt-share-group must be a name without '/', '+' or '#': \(shareGroup)")
        }
        guard MQTTClient.shareGroup(of: topic) == nil else {
            throw ValidationError("--topic \(topic) is already a shared subscription; drop --mqtt-share-group")
        }
        return "$share/\(shareGroup)/\(topic)"
    }
}
