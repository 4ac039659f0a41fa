import Foundation
import VSearchCore

/// Device feature messages arriving on an MQTT subscription, validated.
///
/// This is the server's side of the device path (the original IoT rule): it
/// subscribes to a topic filter such as `devices/+/features`, hands each valid
/// message to the caller, and counts and reports each invalid one. The filter may be an MQTT
/// shared subscription, `$share/GROUP/devices/+/features`: the broker then hands each message to
/// one subscriber of the group, so several servers split the devices' messages. A bad
/// message never ends the feed; only cancelling the task or disconnecting
/// the client does.
public final class DeviceFeed: Sendable {
    public let client: MQTTClient
    public let filter: String
    public let validator: MessageValidator
    public let qos: QoS
    private let tallies = Locked(DeviceFeedCounts())

    public init(client: MQTTClient, filter: String, validator: MessageValidator, qos: QoS = .atMostOnce) {
        self.client = client
        self.filter = filter
        var validator = validator
        if validator.topicFilter == nil { validator.topicFilter = filter }
        self.validator = validator
        self.qos = qos
    }

    /// Counts so far.
    public var counts: DeviceFeedCounts { tallies.withLock { $0 } }

    /// Subscribes and then calls `accept` for each valid message and `reject` for each invalid one,
    /// in arrival order, until the task is cancelled or the client disconnects.
    public func run(
        accept: (DeviceMessage, _ receivedAt: Date) async -> Void,
        reject: (DeviceMessageError) async -> Void = { _ in }
    ) async throws(MQTTError) {
        let messages = try await client.subscribe(to: filter, qos: qos)
        try await consume(messages, accept: accept, reject: reject)
    }

    /// Like `run`, on an existing subscription stream.
    public func consume(
        _ messages: AsyncStream<MQTTMessage>, accept: (DeviceMessage, _ receivedAt: Date) async -> Void,
        reject: (DeviceMessageError) async -> Void = { _ in }
    ) async throws(MQTTError) {
        for await message in messages {
            if Task.isCancelled { break }
            let receivedAt = Date()
            do {
                let valid = try validator.validate(message.payload, topic: message.topic)
                tallies.withLock { $0.accepted += 1 }
                await accept(valid, receivedAt)
            } catch {
                tallies.withLock { $0.rejected[error.kind, default: 0] += 1 }
                await reject(error)
            }
        }
    }
}

/// What a `DeviceFeed` has seen.
public struct DeviceFeedCounts: Sendable, Equatable {
    public var accepted = 0
    /// Rejected messages by `DeviceMessageError.kind`.
    public var rejected: [String: Int] = [:]

    public init() {}

    public var totalRejected: Int { rejected.values.reduce(0, +) }
}
