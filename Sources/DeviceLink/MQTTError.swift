import VSearchCore

/// Why the MQTT client could not connect, publish or subscribe.
///
/// Every case names the broker, so a device with several links still prints
/// one line that says which one failed:
/// `mqtt://127.0.0.1:1883: connection refused: not authorised`.
public enum MQTTError: VSearchError, Equatable {
    /// The broker address is not `mqtt://HOST[:PORT]` or `mqtts://HOST[:PORT]`.
    case invalidURL(String, reason: String)
    /// The options cannot work together (e.g. a persistent session without a client id).
    case invalidOptions(broker: String, reason: String)
    /// No network connection to the broker (nothing listening, no route, unknown host).
    case unreachable(broker: String, reason: String)
    /// The broker answered and refused the connection (CONNACK with an error code).
    case refused(broker: String, reason: String)
    /// The broker did not answer the connection in time.
    case timeout(broker: String, seconds: Double)
    /// TLS could not be set up (unreadable certificate or key, bad CA file).
    case tls(broker: String, reason: String)
    /// A message could not be handed to the library.
    case publish(broker: String, topic: String, reason: String)
    /// A subscription could not be made or the broker refused it.
    case subscribe(broker: String, filter: String, reason: String)

    public var description: String {
        switch self {
        case .invalidURL(let url, let reason): return "\(url): not an MQTT broker address: \(reason)"
        case .invalidOptions(let broker, let reason): return "\(broker): \(reason)"
        case .unreachable(let broker, let reason): return "\(broker): cannot connect: \(reason)"
        case .refused(let broker, let reason): return "\(broker): connection refused: \(reason)"
        case .timeout(let broker, let seconds):
            return "\(broker): the broker did not answer within \(Self.format(seconds)) s"
        case .tls(let broker, let reason): return "\(broker): TLS: \(reason)"
        case .publish(let broker, let topic, let reason): return "\(broker): cannot publish to \(topic): \(reason)"
        case .subscribe(let broker, let filter, let reason):
            return "\(broker): cannot subscribe to \(filter): \(reason)"
        }
    }

    private static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
    }

    /// The reason an MQTT 3.1.1 CONNACK return code gives, in words.
    static func connackReason(_ code: Int32) -> String {
        switch code {
        case 1: return "unacceptable protocol version"
        case 2: return "client identifier rejected"
        case 3: return "server unavailable"
        case 4: return "bad user name or password"
        case 5: return "not authorised"
        default: return "return code \(code)"
        }
    }
}
