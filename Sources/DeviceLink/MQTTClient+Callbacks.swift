import CMosquitto
import Foundation

/// What `MQTTClient` shares between callers' threads and libmosquitto's network thread.
struct ClientState {
    enum Phase {
        /// Not connected: publishes go to the offline buffer.
        case offline
        /// Connected, the offline buffer is being sent; new publishes still queue behind it to keep the order.
        case draining
        /// Connected: publishes go straight to the library.
        case online
    }

    var phase = Phase.offline
    var loopRunning = false
    var threadStarted = false
    var everConnected = false
    var firstConnect: CheckedContinuation<Result<Void, MQTTError>, Never>?
    var buffer: OfflineBuffer<PendingMessage>
    var subscriptions: [UUID: Subscription] = [:]
    var pendingSubacks: [Int32: CheckedContinuation<Bool, Never>] = [:]
    /// SUBACKs that arrived before their caller started waiting.
    var completedSubacks: [Int32: Bool] = [:]
    var statistics = MQTTStatistics()
    let events: AsyncStream<MQTTConnectionEvent>.Continuation

    init(bufferCapacity: Int, events: AsyncStream<MQTTConnectionEvent>.Continuation) {
        buffer = OfflineBuffer(capacity: bufferCapacity)
        self.events = events
    }
}

/// A message waiting in the offline buffer.
struct PendingMessage: Sendable {
    var topic: String
    var payload: [UInt8]
    var qos: QoS
    var retain: Bool
}

/// One `subscribe(to:)` call's filter and stream.
struct Subscription {
    var filter: String
    var qos: QoS
    var sink: AsyncStream<MQTTMessage>.Continuation
}

// libmosquitto calls these on its network thread with the userdata pointer set in `init`;
// they are plain C function pointers, so they find the client through that pointer alone.
extension MQTTClient {
    /// Runs `body` on the client behind `userdata` without retaining it. A callback must never hold
    /// the last reference: the client's deinit would then run on libmosquitto's own thread, which
    /// cannot join itself, and `mosquitto_destroy` would free the state that thread still uses.
    /// The client's deinit joins this thread before anything is freed, so the reference stays valid.
    private static func with(_ userdata: UnsafeMutableRawPointer?, _ body: (MQTTClient) -> Void) {
        guard let userdata else { return }
        Unmanaged<MQTTClient>.fromOpaque(userdata)._withUnsafeGuaranteedRef(body)
    }

    func installCallbacks(on handle: OpaquePointer) {
        mosquitto_connect_callback_set(handle) { _, userdata, code in
            MQTTClient.with(userdata) { $0.didConnect(code: code) }
        }
        mosquitto_disconnect_callback_set(handle) { _, userdata, code in
            MQTTClient.with(userdata) { $0.didDisconnect(code: code) }
        }
        mosquitto_publish_callback_set(handle) { _, userdata, _ in
            MQTTClient.with(userdata) { client in client.state.withLock { $0.statistics.delivered += 1 } }
        }
        mosquitto_subscribe_callback_set(handle) { _, userdata, mid, count, granted in
            let ok = count > 0 && granted.map { $0[0] != 0x80 } ?? false
            MQTTClient.with(userdata) { $0.didSubscribe(mid: mid, granted: ok) }
        }
        mosquitto_message_callback_set(handle) { _, userdata, message in
            guard let message = message?.pointee, let topic = message.topic else { return }
            var payload: [UInt8] = []
            if let bytes = message.payload, message.payloadlen > 0 {
                payload = Array(UnsafeRawBufferPointer(start: bytes, count: Int(message.payloadlen)))
            }
            let received = MQTTMessage(
                topic: String(cString: topic), payload: payload, qos: Int(message.qos), retained: message.retain)
            MQTTClient.with(userdata) { $0.didReceive(received) }
        }
    }

    private func didConnect(code: Int32) {
        guard code == 0 else {
            let reason = MQTTError.connackReason(code)
            finishFirstConnect(.failure(.refused(broker: options.broker.description, reason: reason)))
            state.withLock { $0.events.yield(.refused(reason: reason)) }
            return
        }
        let (subscriptions, isReconnection) = state.withLock { state in
            state.phase = .draining
            let isReconnection = state.everConnected
            if isReconnection { state.statistics.reconnections += 1 }
            state.everConnected = true
            return (state.subscriptions.values.map { ($0.filter, $0.qos) }, isReconnection)
        }
        for (filter, qos) in subscriptions {
            mosquitto_subscribe(handleForCallbacks, nil, filter, qos.rawValue)
        }
        var drained = 0
        while true {
            let batch = state.withLock { state in
                if state.buffer.isEmpty { state.phase = .online }
                return state.buffer.removeAll()
            }
            if batch.isEmpty { break }
            for (index, message) in batch.enumerated() where send(message) != MOSQ_ERR_SUCCESS.rawValue {
                // The link dropped again while draining: keep the rest for the next connection.
                state.withLock { state in
                    for rest in batch[index...] { state.buffer.append(rest) }
                }
                return
            }
            drained += batch.count
        }
        if isReconnection { state.withLock { $0.events.yield(.reconnected(drained: drained)) } }
        finishFirstConnect(.success(()))
    }

    private func didDisconnect(code: Int32) {
        state.withLock { $0.phase = .offline }
        guard code != 0 else { return }
        let reason = "the connection was lost (\(MQTTClient.reason(code)))"
        finishFirstConnect(.failure(.unreachable(broker: options.broker.description, reason: reason)))
        state.withLock { $0.events.yield(.disconnected(reason: reason)) }
    }

    private func didSubscribe(mid: Int32, granted: Bool) {
        let waiting = state.withLock { state in
            guard let continuation = state.pendingSubacks.removeValue(forKey: mid) else {
                state.completedSubacks[mid] = granted
                return nil as CheckedContinuation<Bool, Never>?
            }
            return continuation
        }
        waiting?.resume(returning: granted)
    }

    private func didReceive(_ message: MQTTMessage) {
        let sinks = state.withLock { state in
            state.statistics.received += 1
            return state.subscriptions.values.filter {
                Self.matches(filter: Self.topicFilter(of: $0.filter), topic: message.topic)
            }.map(\.sink)
        }
        for sink in sinks { sink.yield(message) }
    }

    /// The topic filter inside a shared subscription (`$share/GROUP/devices/+/features` gives
    /// `devices/+/features`), or `subscription` itself when it is not shared.
    ///
    /// A shared subscription's messages keep their own topics, so they are matched, and their
    /// devices named, by the filter without the `$share/GROUP/` prefix.
    public static func topicFilter(of subscription: String) -> String {
        let levels = subscription.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false)
        guard levels.count == 3, levels[0] == "$share", !levels[1].isEmpty else { return subscription }
        return String(levels[2])
    }

    /// The group of a shared subscription (`$share/GROUP/…`), or nil.
    public static func shareGroup(of subscription: String) -> String? {
        let levels = subscription.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false)
        guard levels.count == 3, levels[0] == "$share", !levels[1].isEmpty else { return nil }
        return String(levels[1])
    }

    /// True when `topic` matches the MQTT filter `filter` (`+` one level, `#` the rest).
    public static func matches(filter: String, topic: String) -> Bool {
        var result = false
        return mosquitto_topic_matches_sub(filter, topic, &result) == MOSQ_ERR_SUCCESS.rawValue && result
    }
}
