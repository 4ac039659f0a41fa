import ArgumentParser
import DeviceLink
import Logging
import SearchServer
import ServiceLifecycle

/// `vsearch serve --mqtt …`: subscribe to devices' feature messages and turn them into match events.
struct DeviceSubscriptionOptions: ParsableArguments {
    @Option(help: "Subscribe to device features on this broker: mqtt://HOST[:PORT] or mqtts://HOST[:PORT].")
    var mqtt: String?

    @Option(help: "The MQTT topic filter devices publish to.")
    var topic = "devices/+/features"

    @Option(help: "MQTT user name.")
    var mqttUsername: String?

    @Option(help: "A file whose first line is the MQTT password (or set $VSEARCH_MQTT_PASSWORD).")
    var mqttPasswordFile: String?

    @Option(help: "PEM file of the CA that signed the broker's certificate.")
    var mqttTlsCA: String?

    @Option(help: "MQTT QoS of the subscription: 0 or 1.")
    var mqttQos = 0

    @Option(help: "Matches per device event.")
    var deviceK = 4

    func validate() throws {
        guard mqttQos == 0 || mqttQos == 1 else { throw ValidationError("--mqtt-qos must be 0 or 1") }
    }

    /// The connected subscription as a service, or none without --mqtt.
    func subscription(server: SearchServer, logger: Logger) async throws -> [any Service] {
        guard let mqtt else { return [] }
        let options = MQTTOptions(
            broker: try BrokerURL(parsing: mqtt), username: mqttUsername,
            password: try MQTTPassword.read(file: mqttPasswordFile),
            tls: mqttTlsCA.map { TLSOptions(caFile: $0) })
        let subscription = try DeviceSubscription(
            server: server, mqtt: options, filter: topic, qos: mqttQos == 1 ? .atLeastOnce : .atMostOnce, k: deviceK,
            logger: logger)
        try await subscription.connect()
        logger.info("MQTT: subscribed to \(topic) on \(options.broker)")
        return [subscription]
    }
}
