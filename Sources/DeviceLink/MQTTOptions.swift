/// How an `MQTTClient` connects and behaves while the link is down.
public struct MQTTOptions: Sendable {
    public var broker: BrokerURL
    /// The client identifier; nil lets the library make a random one (clean sessions only).
    public var clientID: String?
    /// True starts each connection with no stored state; false asks the broker to keep the
    /// session's subscriptions and queued QoS 1 messages while the client is away (needs `clientID`).
    public var cleanSession: Bool
    /// Seconds between keep-alive pings; the broker drops the client after 1.5 × this without traffic.
    public var keepAlive: Int
    public var username: String?
    public var password: String?
    /// TLS settings; required for `mqtts://` (the system CA directory is used when nil).
    public var tls: TLSOptions?
    /// The first and the longest wait between reconnection attempts, in whole seconds.
    /// The wait grows with each failed attempt (libmosquitto's exponential backoff).
    public var reconnectDelay: ClosedRange<Int>
    /// Messages kept while disconnected; the oldest are dropped beyond this.
    public var offlineBufferCapacity: Int
    /// How long `connect()` waits for the broker's answer.
    public var connectTimeout: Double
    /// Messages each subscription stream holds for a slow reader before dropping the oldest.
    public var subscriptionBufferCapacity: Int

    public init(
        broker: BrokerURL, clientID: String? = nil, cleanSession: Bool = true, keepAlive: Int = 30,
        username: String? = nil, password: String? = nil, tls: TLSOptions? = nil,
        reconnectDelay: ClosedRange<Int> = 1...30,
        offlineBufferCapacity: Int = 1000, connectTimeout: Double = 10, subscriptionBufferCapacity: Int = 4096
    ) {
        self.broker = broker
        self.clientID = clientID
        self.cleanSession = cleanSession
        self.keepAlive = keepAlive
        self.username = username
        self.password = password
        self.tls = tls
        self.reconnectDelay = reconnectDelay
        self.offlineBufferCapacity = offlineBufferCapacity
        self.connectTimeout = connectTimeout
        self.subscriptionBufferCapacity = subscriptionBufferCapacity
    }
}

/// TLS settings for a broker connection.
public struct TLSOptions: Sendable, Equatable {
    /// PEM file of the certificate authorities trusted to sign the broker's certificate.
    public var caFile: String?
    /// Directory of PEM CA certificates (used when `caFile` is nil); default `/etc/ssl/certs`.
    public var caDirectory: String?
    /// The client's certificate and key, for brokers that authenticate clients by certificate.
    public var certificateFile: String?
    public var keyFile: String?
    /// Skips the check that the broker's certificate names its host. For tests only.
    public var insecure: Bool

    public init(
        caFile: String? = nil, caDirectory: String? = nil, certificateFile: String? = nil, keyFile: String? = nil,
        insecure: Bool = false
    ) {
        self.caFile = caFile
        self.caDirectory = caDirectory
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.insecure = insecure
    }
}

/// MQTT delivery guarantees this client offers.
public enum QoS: Int32, Sendable {
    /// Sent once, never acknowledged (fire and forget).
    case atMostOnce = 0
    /// Re-sent until the broker acknowledges it; may arrive twice.
    case atLeastOnce = 1
}

/// A message received on a subscription.
public struct MQTTMessage: Sendable, Equatable {
    public var topic: String
    public var payload: [UInt8]
    public var qos: Int
    public var retained: Bool

    public init(topic: String, payload: [UInt8], qos: Int = 0, retained: Bool = false) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retained = retained
    }
}

/// What happened to the connection, for logs and status lines.
public enum MQTTConnectionEvent: Sendable, Equatable {
    /// Connected again after losing the connection; `drained` messages from the offline buffer were sent.
    case reconnected(drained: Int)
    /// The connection was lost; the client keeps trying to reconnect.
    case disconnected(reason: String)
    /// A reconnection attempt reached the broker but it said no (e.g. the password changed).
    case refused(reason: String)
}

/// What `publish` did with a message.
public enum PublishOutcome: Sendable, Equatable {
    /// Handed to the library for sending now.
    case sent
    /// Kept in the offline buffer until the connection is back.
    case buffered
    /// Kept in the offline buffer, which was full, so its oldest message was dropped.
    case bufferedDroppingOldest
}

/// Counts since the client was made.
public struct MQTTStatistics: Sendable, Equatable {
    /// Messages handed to the library (directly or from the offline buffer).
    public var sent = 0
    /// Messages the library reports as delivered (QoS 0: written; QoS 1: acknowledged).
    public var delivered = 0
    /// Messages in the offline buffer now.
    public var buffered = 0
    /// Messages dropped from a full offline buffer.
    public var dropped = 0
    /// Messages received on subscriptions.
    public var received = 0
    /// Successful connections after the first.
    public var reconnections = 0
    /// True while the broker connection is up.
    public var isConnected = false
}
