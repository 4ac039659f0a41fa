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

    /// The topic filter subscribed to when --topic is not given: every device's features.
    static let defaultTopic = "devices/+/features"

    /// The connected subscription as a service, or none without --mqtt.
    func subscription(server: SearchServer, logger: Logger) async throws -> [any Service] {
        guard let broker = mqtt.broker else { return [] }
        let options = try mqtt.options(broker: broker)
        let topic = mqtt.topic ?? Self.defaultTopic
        let subscription = try DeviceSubscription(
            server: server, mqtt: options, filter: topic, qos: mqtt.qos, k: deviceK, logger: logger)
        try await subscription.connect()
        logger.info("MQTT: subscribed to \(topic) on \(options.broker)")
        return [subscription]
    }
}
