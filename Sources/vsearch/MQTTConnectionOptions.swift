import ArgumentParser
import DeviceLink
import Foundation

/// The broker connection, with the same flags on `vsearch edge` (which publishes) and
/// `vsearch serve --mqtt` (which subscribes), so that a deployment's two ends are configured with
/// the same words: broker, topic, client id, credentials, TLS, QoS and keep-alive.
///
/// The flags that only one side had before are `--mqtt-` prefixed here, since `serve` has other
/// user names and keys; the names `vsearch edge` used to take still work, hidden from the help.
struct MQTTConnectionOptions: ParsableArguments {
    @Option(
        name: .customLong("mqtt"),
        help: ArgumentHelp("The MQTT broker: mqtt://HOST[:PORT] or mqtts://HOST[:PORT] (TLS).", valueName: "URL"))
    var broker: String?

    @Option(
        help: ArgumentHelp(
            """
            The MQTT topic: edge publishes to it (required there); serve subscribes to it and takes \
            wildcards (default: devices/+/features).
            """, valueName: "TOPIC"))
    var topic: String?

    @Option(
        name: .customLong("mqtt-client-id"),
        help: ArgumentHelp("The MQTT client id (needed for --mqtt-persistent-session).", valueName: "ID"))
    var newClientID: String?

    @Option(name: .customLong("mqtt-username"), help: ArgumentHelp("MQTT user name.", valueName: "USER"))
    var newUsername: String?

    @Option(
        name: .customLong("mqtt-password-file"),
        help: ArgumentHelp(
            "A file whose first line is the MQTT password (or set $VSEARCH_MQTT_PASSWORD).", valueName: "FILE"))
    var newPasswordFile: String?

    @Option(
        name: .customLong("mqtt-tls-ca"),
        help: ArgumentHelp("PEM file of the CA that signed the broker's certificate.", valueName: "PEM"))
    var newTLSCA: String?

    @Option(
        name: .customLong("mqtt-tls-cert"),
        help: ArgumentHelp("PEM client certificate, for brokers that check client certificates.", valueName: "PEM"))
    var newTLSCert: String?

    @Option(
        name: .customLong("mqtt-tls-key"), help: ArgumentHelp("PEM key of the client certificate.", valueName: "PEM"))
    var newTLSKey: String?

    @Flag(
        name: .customLong("mqtt-tls-insecure"),
        help: "Do not check that the broker's certificate names its host (tests only).")
    var newTLSInsecure = false

    @Option(
        name: .customLong("mqtt-qos"),
        help: ArgumentHelp("MQTT QoS: 0 (at most once, the default) or 1 (at least once).", valueName: "0|1"))
    var newQoS: Int?

    @Option(
        name: .customLong("mqtt-keepalive"),
        help: ArgumentHelp("Seconds between MQTT keep-alive pings (default: 30).", valueName: "SECONDS"))
    var newKeepalive: Int?

    @Flag(
        name: .customLong("mqtt-persistent-session"),
        help: "Ask the broker to keep the session (subscriptions, queued QoS 1 messages) across reconnections.")
    var newPersistentSession = false

    // The old names, from before the two commands shared these flags.
    @Option(name: .customLong("client-id"), help: .hidden) var oldClientID: String?
    @Option(name: .customLong("username"), help: .hidden) var oldUsername: String?
    @Option(name: .customLong("password-file"), help: .hidden) var oldPasswordFile: String?
    @Option(name: .customLong("tls-ca"), help: .hidden) var oldTLSCA: String?
    @Option(name: .customLong("tls-cert"), help: .hidden) var oldTLSCert: String?
    @Option(name: .customLong("tls-key"), help: .hidden) var oldTLSKey: String?
    @Flag(name: .customLong("tls-insecure"), help: .hidden) var oldTLSInsecure = false
    @Option(name: .customLong("qos"), help: .hidden) var oldQoS: Int?
    @Option(name: .customLong("keepalive"), help: .hidden) var oldKeepalive: Int?
    @Flag(name: .customLong("persistent-session"), help: .hidden) var oldPersistentSession = false

    func validate() throws {
        _ = try Self.either(newClientID, oldClientID, "client-id")
        _ = try Self.either(newUsername, oldUsername, "username")
        _ = try Self.either(newPasswordFile, oldPasswordFile, "password-file")
        _ = try Self.either(newTLSCA, oldTLSCA, "tls-ca")
        _ = try Self.either(newTLSCert, oldTLSCert, "tls-cert")
        _ = try Self.either(newTLSKey, oldTLSKey, "tls-key")
        if let qos = try Self.either(newQoS, oldQoS, "qos"), qos != 0, qos != 1 {
            throw ValidationError("--mqtt-qos must be 0 or 1")
        }
        if let keepalive = try Self.either(newKeepalive, oldKeepalive, "keepalive"), keepalive < 1 {
            throw ValidationError("--mqtt-keepalive must be at least 1 second")
        }
    }

    /// The delivery guarantee asked for; at most once unless --mqtt-qos 1.
    var qos: QoS { (newQoS ?? oldQoS) == 1 ? .atLeastOnce : .atMostOnce }

    /// The connection to `broker`; `clientID` is used when no --mqtt-client-id is given.
    func options(broker: String, clientID defaultID: String? = nil) throws -> MQTTOptions {
        let url = try BrokerURL(parsing: broker)
        let password = try MQTTPassword.read(file: newPasswordFile ?? oldPasswordFile)
        let caFile = newTLSCA ?? oldTLSCA
        let certificateFile = newTLSCert ?? oldTLSCert
        let keyFile = newTLSKey ?? oldTLSKey
        let insecure = newTLSInsecure || oldTLSInsecure
        var tls: TLSOptions?
        if caFile != nil || certificateFile != nil || keyFile != nil || insecure {
            tls = TLSOptions(caFile: caFile, certificateFile: certificateFile, keyFile: keyFile, insecure: insecure)
        }
        return MQTTOptions(
            broker: url, clientID: newClientID ?? oldClientID ?? defaultID,
            cleanSession: !(newPersistentSession || oldPersistentSession),
            keepAlive: newKeepalive ?? oldKeepalive ?? 30,
            username: newUsername ?? oldUsername, password: password, tls: tls)
    }

    /// The value given under the new name `--mqtt-NAME` or the old `--NAME`; both is an error.
    private static func either<Value>(_ new: Value?, _ old: Value?, _ name: String) throws -> Value? {
        if new != nil, old != nil {
            throw ValidationError("--mqtt-\(name) and --\(name) (its old name) are the same option: give one")
        }
        return new ?? old
    }
}

/// Reads MQTT passwords from a file or the environment, never from the command line (which `ps` shows).
enum MQTTPassword {
    static func read(file: String?) throws -> String? {
        if let file {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw CommandError("\(file): cannot read the password file")
            }
            return text.split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init) ?? ""
        }
        return ProcessInfo.processInfo.environment["VSEARCH_MQTT_PASSWORD"]
    }
}
