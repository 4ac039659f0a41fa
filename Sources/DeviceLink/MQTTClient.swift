import CMosquitto
import Foundation
import VSearchCore

/// An MQTT 3.1.1 client for devices and servers, on libmosquitto.
///
/// libmosquitto runs the network on its own thread (`mosquitto_loop_start`):
/// it keeps the connection alive, and when the connection drops it reconnects
/// with a growing delay. This class bridges its callbacks to Swift through the
/// library's userdata pointer, and adds what a camera on a flaky network needs:
/// messages published while the link is down wait in a bounded offline buffer
/// (oldest dropped first, counted) and go out, in order, once it is back.
///
/// ```swift
/// let client = try MQTTClient(options: MQTTOptions(broker: BrokerURL(parsing: "mqtt://127.0.0.1:1883")))
/// try await client.connect()
/// let messages = try await client.subscribe(to: "devices/+/features")
/// try client.publish(Array("hello".utf8), to: "devices/cam-1/features", qos: .atLeastOnce)
/// for await message in messages { print(message.topic) }
/// ```
///
/// All methods may be called from any thread or task.
// @unchecked: wraps `struct mosquitto *`, on which only libmosquitto's thread-safe calls are
// made after init; the Swift state is in `state`, behind a lock.
public final class MQTTClient: @unchecked Sendable {
    public let options: MQTTOptions
    /// The `struct mosquitto *`; only libmosquitto's thread-safe calls are made on it after `init`.
    private let handle: OpaquePointer
    let state: Locked<ClientState>
    /// Connection changes, for logs. Finished by `disconnect()`.
    public let events: AsyncStream<MQTTConnectionEvent>

    /// Makes a client; nothing touches the network until `connect()`.
    public init(options: MQTTOptions) throws(MQTTError) {
        self.options = options
        let broker = options.broker.description
        guard MosquittoLibrary.isInitialised else {
            throw .invalidOptions(broker: broker, reason: "libmosquitto could not be initialised")
        }
        if !options.cleanSession, options.clientID?.isEmpty ?? true {
            throw .invalidOptions(broker: broker, reason: "a persistent session (not clean) needs a client id")
        }
        guard let handle = mosquitto_new(options.clientID, options.cleanSession, nil) else {
            throw .invalidOptions(broker: broker, reason: "libmosquitto refused the client (out of memory?)")
        }
        self.handle = handle
        let (events, eventSink) = AsyncStream.makeStream(
            of: MQTTConnectionEvent.self, bufferingPolicy: .bufferingNewest(256))
        self.events = events
        state = Locked(ClientState(bufferCapacity: options.offlineBufferCapacity, events: eventSink))
        // Every stored property is set, so if `configure` throws, Swift runs `deinit`, which destroys
        // the handle. Destroying it here as well was a double free: the heap corruption that aborted
        // the test suite when all targets shared a process (the TLS test's missing CA file).
        try configure()
        mosquitto_user_data_set(handle, Unmanaged.passUnretained(self).toOpaque())
        installCallbacks(on: handle)
    }

    deinit {
        let wasRunning = state.withLock { $0.loopRunning || $0.threadStarted }
        if wasRunning {
            mosquitto_disconnect(handle)
            mosquitto_loop_stop(handle, false)
        }
        mosquitto_destroy(handle)
    }

    private var brokerName: String { options.broker.description }

    /// The handle for the callbacks' own library calls (they run on the network thread).
    var handleForCallbacks: OpaquePointer { handle }

    private func configure() throws(MQTTError) {
        mosquitto_int_option(handle, MOSQ_OPT_PROTOCOL_VERSION, Int32(MQTT_PROTOCOL_V311))
        let delay = options.reconnectDelay
        mosquitto_reconnect_delay_set(
            handle, UInt32(max(1, delay.lowerBound)), UInt32(max(1, delay.upperBound)), true)
        mosquitto_max_inflight_messages_set(handle, 100)
        if options.username != nil || options.password != nil {
            let rc = mosquitto_username_pw_set(handle, options.username ?? "", options.password)
            guard rc == MOSQ_ERR_SUCCESS.rawValue else {
                throw .invalidOptions(broker: brokerName, reason: "bad user name or password: \(Self.reason(rc))")
            }
        }
        if let tls = options.tls ?? (options.broker.usesTLS ? TLSOptions() : nil) {
            try configureTLS(tls)
        }
    }

    private func configureTLS(_ tls: TLSOptions) throws(MQTTError) {
        for path in [tls.caFile, tls.certificateFile, tls.keyFile].compactMap({ $0 })
        where !FileManager.default.isReadableFile(atPath: path) {
            throw .tls(broker: brokerName, reason: "\(path): cannot read the file")
        }
        let caDirectory = tls.caFile == nil ? (tls.caDirectory ?? "/etc/ssl/certs") : tls.caDirectory
        let rc = mosquitto_tls_set(handle, tls.caFile, caDirectory, tls.certificateFile, tls.keyFile, nil)
        guard rc == MOSQ_ERR_SUCCESS.rawValue else { throw .tls(broker: brokerName, reason: Self.reason(rc)) }
        if tls.insecure { mosquitto_tls_insecure_set(handle, true) }
    }

    // MARK: Connecting

    /// Connects and waits for the broker's answer; from then on the client
    /// reconnects by itself until `disconnect()`.
    ///
    /// Throws when nothing listens at the address, when the broker refuses the
    /// client (wrong user name or password), or when it does not answer within
    /// `options.connectTimeout`.
    public func connect() async throws(MQTTError) {
        let result = await withCheckedContinuation {
            (continuation: CheckedContinuation<Result<Void, MQTTError>, Never>) in
            let alreadyRunning = state.withLock { state in
                if state.loopRunning { return true }
                state.firstConnect = continuation
                state.loopRunning = true
                return false
            }
            if alreadyRunning {
                continuation.resume(returning: .success(()))
                return
            }
            let rc = mosquitto_connect_async(
                handle, options.broker.host, Int32(options.broker.port), Int32(options.keepAlive))
            guard rc == MOSQ_ERR_SUCCESS.rawValue else {
                finishFirstConnect(.failure(.unreachable(broker: brokerName, reason: Self.reason(rc))))
                return
            }
            let loop = mosquitto_loop_start(handle)
            guard loop == MOSQ_ERR_SUCCESS.rawValue else {
                finishFirstConnect(.failure(.unreachable(broker: brokerName, reason: Self.reason(loop))))
                return
            }
            state.withLock { $0.threadStarted = true }
            let timeout = options.connectTimeout
            let broker = brokerName
            Task { [weak self] in
                try? await Task.sleep(for: .seconds(timeout))
                self?.finishFirstConnect(.failure(.timeout(broker: broker, seconds: timeout)))
            }
        }
        if case .failure(let error) = result {
            stopLoop()
            throw error
        }
    }

    /// Resumes `connect()` once, with the first outcome that arrives.
    func finishFirstConnect(_ result: Result<Void, MQTTError>) {
        let continuation = state.withLock { state in
            defer { state.firstConnect = nil }
            return state.firstConnect
        }
        continuation?.resume(returning: result)
    }

    /// Sends a clean DISCONNECT after what is queued, stops the network thread and ends every stream.
    ///
    /// Messages still in the offline buffer are discarded; `statistics.buffered` says how many.
    public func disconnect() {
        stopLoop()
        let (subscriptions, events) = state.withLock { state in
            defer { state.subscriptions.removeAll() }
            return (Array(state.subscriptions.values), state.events)
        }
        for subscription in subscriptions { subscription.sink.finish() }
        events.finish()
    }

    private func stopLoop() {
        let threadStarted = state.withLock { state in
            defer {
                state.loopRunning = false
                state.threadStarted = false
                state.phase = .offline
            }
            return state.threadStarted
        }
        mosquitto_disconnect(handle)
        if threadStarted { mosquitto_loop_stop(handle, false) }
    }

    /// Counts since the client was made.
    public var statistics: MQTTStatistics {
        state.withLock { state in
            var stats = state.statistics
            stats.buffered = state.buffer.count
            stats.dropped = state.buffer.dropped
            stats.isConnected = state.phase == .online
            return stats
        }
    }

    // MARK: Publishing

    /// Publishes `payload` to `topic`, or keeps it in the offline buffer while disconnected.
    ///
    /// It does not wait for the network: QoS 1 messages are re-sent by the
    /// library until the broker acknowledges them (`statistics.delivered`).
    @discardableResult
    public func publish(_ payload: [UInt8], to topic: String, qos: QoS = .atMostOnce, retain: Bool = false)
        throws(MQTTError) -> PublishOutcome
    {
        guard !topic.isEmpty, !topic.contains("+"), !topic.contains("#") else {
            throw .publish(broker: brokerName, topic: topic, reason: "a topic name cannot be empty or hold + or #")
        }
        let message = PendingMessage(topic: topic, payload: payload, qos: qos, retain: retain)
        let buffered: Bool? = state.withLock { state in
            guard state.phase == .online else { return state.buffer.append(message) }
            return nil
        }
        if let buffered { return buffered ? .buffered : .bufferedDroppingOldest }
        let rc = send(message)
        if rc == MOSQ_ERR_NO_CONN.rawValue || rc == MOSQ_ERR_CONN_LOST.rawValue {
            // The link went down between the check and the send: keep the message for later.
            let kept = state.withLock { $0.buffer.append(message) }
            return kept ? .buffered : .bufferedDroppingOldest
        }
        guard rc == MOSQ_ERR_SUCCESS.rawValue else {
            throw .publish(broker: brokerName, topic: topic, reason: Self.reason(rc))
        }
        return .sent
    }

    /// Hands one message to libmosquitto; returns its status code.
    func send(_ message: PendingMessage) -> Int32 {
        let rc = message.payload.withUnsafeBytes { bytes in
            mosquitto_publish(
                handle, nil, message.topic, Int32(bytes.count), bytes.baseAddress, message.qos.rawValue,
                message.retain)
        }
        if rc == MOSQ_ERR_SUCCESS.rawValue { state.withLock { $0.statistics.sent += 1 } }
        return rc
    }

    /// Waits until every message handed to the library so far is delivered, or `timeout` seconds pass.
    ///
    /// Returns true when nothing is left in flight and the offline buffer is empty.
    public func waitUntilDelivered(timeout: Double) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(timeout)
        while ContinuousClock.now < deadline {
            let done = state.withLock { $0.statistics.delivered >= $0.statistics.sent && $0.buffer.isEmpty }
            if done { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return false
    }

    // MARK: Subscribing

    /// Subscribes to `filter` (MQTT wildcards `+` and `#` allowed) and returns its messages.
    ///
    /// When connected it waits for the broker to grant the subscription, so a
    /// message published after this returns is received. The subscription is
    /// made again after every reconnection, and ends when the stream's consumer
    /// stops or the client disconnects. A reader slower than the messages loses
    /// the oldest beyond `options.subscriptionBufferCapacity`.
    public func subscribe(to filter: String, qos: QoS = .atMostOnce) async throws(MQTTError)
        -> AsyncStream<MQTTMessage>
    {
        var valid = false
        guard mosquitto_topic_matches_sub(filter, "a", &valid) == MOSQ_ERR_SUCCESS.rawValue else {
            throw .subscribe(broker: brokerName, filter: filter, reason: "not a valid topic filter")
        }
        let (stream, sink) = AsyncStream.makeStream(
            of: MQTTMessage.self, bufferingPolicy: .bufferingNewest(max(1, options.subscriptionBufferCapacity)))
        let id = UUID()
        let online = state.withLock { state in
            state.subscriptions[id] = Subscription(filter: filter, qos: qos, sink: sink)
            return state.phase == .online
        }
        sink.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscriptions.removeValue(forKey: id) }
        }
        if online {
            var mid: Int32 = 0
            let rc = mosquitto_subscribe(handle, &mid, filter, qos.rawValue)
            if rc == MOSQ_ERR_SUCCESS.rawValue {
                try await waitForSuback(mid: mid, filter: filter).get()
            } else if rc != MOSQ_ERR_NO_CONN.rawValue {
                throw .subscribe(broker: brokerName, filter: filter, reason: Self.reason(rc))
            }
        }
        return stream
    }

    private func waitForSuback(mid: Int32, filter: String) async -> Result<Void, MQTTError> {
        let broker = brokerName
        let granted = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let early: Bool? = state.withLock { state in
                if let granted = state.completedSubacks.removeValue(forKey: mid) { return granted }
                state.pendingSubacks[mid] = continuation
                return nil
            }
            if let early { continuation.resume(returning: early) }
        }
        return granted
            ? .success(()) : .failure(.subscribe(broker: broker, filter: filter, reason: "the broker refused it"))
    }

    // MARK: Helpers

    /// libmosquitto's words for an error code, or the system's for MOSQ_ERR_ERRNO.
    static func reason(_ rc: Int32) -> String {
        if rc == MOSQ_ERR_ERRNO.rawValue { return String(cString: strerror(errno)) }
        return String(cString: mosquitto_strerror(rc))
    }
}

/// libmosquitto needs one `mosquitto_lib_init()` per process before any client.
private enum MosquittoLibrary {
    /// Evaluated once, thread-safely, the first time a client is made.
    static let isInitialised: Bool = mosquitto_lib_init() == MOSQ_ERR_SUCCESS.rawValue
}
