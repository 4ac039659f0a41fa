import Foundation
import Testing
import VSearchCore
import VSearchTesting

@testable import DeviceLink

/// The client against a real Mosquitto broker on a free loopback port.
@Suite(.serialized) struct BrokerTests {
    static func client(_ broker: MosquittoBroker, configure: (inout MQTTOptions) -> Void = { _ in }) throws
        -> MQTTClient
    {
        var options = MQTTOptions(broker: try BrokerURL(parsing: broker.url), connectTimeout: 5)
        configure(&options)
        return try MQTTClient(options: options)
    }

    /// Collects `count` messages from `stream`, or what arrived within `seconds`.
    static func collect(_ stream: AsyncStream<MQTTMessage>, count: Int, seconds: Double = 10) async -> [MQTTMessage] {
        await withTaskGroup(of: [MQTTMessage].self) { group in
            group.addTask {
                var messages: [MQTTMessage] = []
                for await message in stream {
                    messages.append(message)
                    if messages.count == count { break }
                }
                return messages
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(seconds))
                return []
            }
            let first = await group.next() ?? []
            group.cancelAll()
            return first
        }
    }

    static func waitUntil(seconds: Double = 15, _ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition()
    }

    @Test(arguments: [QoS.atMostOnce, QoS.atLeastOnce])
    func publishAndSubscribe(qos: QoS) async throws {
        let broker = try await MosquittoBroker()
        try await broker.start()
        let subscriber = try Self.client(broker)
        let publisher = try Self.client(broker)
        try await subscriber.connect()
        try await publisher.connect()
        defer {
            publisher.disconnect()
            subscriber.disconnect()
        }
        let stream = try await subscriber.subscribe(to: "devices/+/features", qos: qos)
        for i in 0..<20 {
            #expect(try publisher.publish(Array("m\(i)".utf8), to: "devices/cam-\(i % 2)/features", qos: qos) == .sent)
        }
        try publisher.publish(Array("elsewhere".utf8), to: "other/topic", qos: qos)
        let received = await Self.collect(stream, count: 20)
        #expect(received.map { String(decoding: $0.payload, as: UTF8.self) } == (0..<20).map { "m\($0)" })
        #expect(received.first?.topic == "devices/cam-0/features")
        #expect(received.allSatisfy { $0.qos == Int(qos.rawValue) })
        #expect(await publisher.waitUntilDelivered(timeout: 5))
        #expect(publisher.statistics.delivered == 21, "\(publisher.statistics)")
    }

    @Test func passwordBrokerAcceptsTheRightCredentialsAndRefusesWrongOnesClearly() async throws {
        let broker = try await MosquittoBroker(users: ["cam": "s3cret"])
        try await broker.start()
        let good = try Self.client(broker) {
            $0.username = "cam"
            $0.password = "s3cret"
        }
        try await good.connect()
        #expect(good.statistics.isConnected)
        good.disconnect()

        let bad = try Self.client(broker) {
            $0.username = "cam"
            $0.password = "wrong"
        }
        await #expect {
            try await bad.connect()
        } throws: { error in
            let line = "\(error)"
            return line.hasPrefix("mqtt://127.0.0.1:\(broker.port): connection refused: ")
                && (line.hasSuffix("not authorised") || line.hasSuffix("bad user name or password"))
        }
        let anonymous = try Self.client(broker)
        await #expect(throws: MQTTError.self) { try await anonymous.connect() }
    }

    @Test func tlsBrokerWithItsCAWorksAndWithoutItFails() async throws {
        let broker = try await MosquittoBroker(tls: true)
        try await broker.start()
        let url = try BrokerURL(parsing: "mqtts://127.0.0.1:\(broker.port)")
        let trusted = try MQTTClient(
            options: MQTTOptions(broker: url, tls: TLSOptions(caFile: broker.caFile), connectTimeout: 5))
        try await trusted.connect()
        let stream = try await trusted.subscribe(to: "tls/test", qos: .atLeastOnce)
        try trusted.publish(Array("secret".utf8), to: "tls/test", qos: .atLeastOnce)
        #expect(await Self.collect(stream, count: 1).first?.payload == Array("secret".utf8))
        trusted.disconnect()

        // The system's CAs do not know the test CA: the handshake fails and connect says so.
        let untrusted = try MQTTClient(options: MQTTOptions(broker: url, connectTimeout: 3))
        await #expect(throws: MQTTError.self) { try await untrusted.connect() }
        #expect(throws: MQTTError.self) {
            try MQTTClient(options: MQTTOptions(broker: url, tls: TLSOptions(caFile: "/nonexistent/ca.pem")))
        }
    }

    @Test func nothingListeningIsAClearError() async throws {
        let port = try FreePort.find()
        let client = try MQTTClient(
            options: MQTTOptions(broker: BrokerURL(host: "127.0.0.1", port: port), connectTimeout: 3))
        await #expect {
            try await client.connect()
        } throws: { error in
            "\(error)".hasPrefix("mqtt://127.0.0.1:\(port): cannot connect: ")
        }
    }

    @Test func persistentSessionNeedsAClientID() throws {
        #expect(throws: MQTTError.self) {
            try MQTTClient(options: MQTTOptions(broker: BrokerURL(host: "127.0.0.1", port: 1), cleanSession: false))
        }
    }

    /// The broker goes away while a device publishes: the client buffers (dropping the oldest beyond
    /// its capacity), reconnects by itself when the broker is back, and sends the buffer in order.
    @Test func brokerRestartReconnectsAndDrainsTheOfflineBuffer() async throws {
        let broker = try await MosquittoBroker()
        try await broker.start()
        let client = try Self.client(broker) {
            $0.offlineBufferCapacity = 5
            $0.reconnectDelay = 1...2
        }
        try await client.connect()
        defer { client.disconnect() }
        // The client hears its own messages: its subscription is renewed before the buffer drains.
        let stream = try await client.subscribe(to: "devices/cam-1/features", qos: .atLeastOnce)
        try client.publish(Array("before".utf8), to: "devices/cam-1/features", qos: .atLeastOnce)
        #expect(await Self.collect(stream, count: 1).count == 1)

        await broker.stop()
        #expect(await Self.waitUntil { !client.statistics.isConnected })
        var outcomes: [PublishOutcome] = []
        for i in 0..<8 {
            outcomes.append(
                try client.publish(Array("offline \(i)".utf8), to: "devices/cam-1/features", qos: .atLeastOnce))
        }
        #expect(outcomes.filter { $0 == .buffered }.count == 5)
        #expect(outcomes.filter { $0 == .bufferedDroppingOldest }.count == 3)
        #expect(client.statistics.buffered == 5)
        #expect(client.statistics.dropped == 3)

        try await broker.start()
        let received = await Self.collect(stream, count: 5, seconds: 20)
        #expect(received.map { String(decoding: $0.payload, as: UTF8.self) } == (3..<8).map { "offline \($0)" })
        #expect(client.statistics.buffered == 0)
        #expect(client.statistics.reconnections == 1)
        #expect(client.statistics.isConnected)
    }

    /// Two feeds in one shared-subscription group (two server replicas) split the devices' messages:
    /// each message is accepted by exactly one of them, and named by its device as without sharing.
    /// A third, plain subscriber still sees every message, so the split is the broker's sharing and
    /// not lost messages.
    @Test func aSharedSubscriptionHandsEachMessageToOneMemberOfTheGroup() async throws {
        let broker = try await MosquittoBroker()
        try await broker.start()
        let replicas = [try Self.client(broker), try Self.client(broker)]
        let observer = try Self.client(broker)
        let device = try Self.client(broker)
        for client in replicas + [observer, device] { try await client.connect() }
        defer { for client in replicas + [observer, device] { client.disconnect() } }
        let model = "efficientnet-lite0/1"
        let accepted = Locked<[[String]]>([[], []])
        var consumers: [Task<Void, any Error>] = []
        for (index, client) in replicas.enumerated() {
            let feed = DeviceFeed(
                client: client, filter: "$share/replicas/devices/+/features",
                validator: MessageValidator(modelID: model, dimension: 4), qos: .atLeastOnce)
            let stream = try await client.subscribe(to: feed.filter, qos: .atLeastOnce)
            consumers.append(
                Task {
                    try await feed.consume(stream) { message, _ in
                        accepted.withLock { $0[index].append(message.device ?? "?") }
                    }
                })
        }
        let everything = try await observer.subscribe(to: "devices/+/features", qos: .atLeastOnce)
        let count = 40
        for i in 0..<count {
            let payload = PayloadCodec.encode(FeatureMessage(model: model, features: [1, 0, 0, 0]), as: .compact)
            try device.publish(payload, to: "devices/cam-\(i)/features", qos: .atLeastOnce)
        }
        let seen = await Self.collect(everything, count: count)
        #expect(seen.count == count)
        #expect(await Self.waitUntil { accepted.withLock { $0[0].count + $0[1].count } >= count })
        try? await Task.sleep(for: .milliseconds(300))  // a duplicate would arrive by now
        for consumer in consumers { consumer.cancel() }
        let split = accepted.withLock { $0 }
        #expect(split[0].count + split[1].count == count)
        #expect(Set(split[0] + split[1]) == Set((0..<count).map { "cam-\($0)" }))
        #expect(!split[0].isEmpty && !split[1].isEmpty, "the broker gave every message to one replica: \(split)")
    }

    /// A flood of bad messages on the device topic is rejected and counted by kind, the good ones
    /// still come through, and the feed keeps running.
    @Test func floodOfBadMessagesIsCountedAndTheFeedCarriesOn() async throws {
        let broker = try await MosquittoBroker()
        try await broker.start()
        let server = try Self.client(broker)
        let device = try Self.client(broker)
        try await server.connect()
        try await device.connect()
        defer {
            device.disconnect()
            server.disconnect()
        }
        let model = "efficientnet-lite0/1"
        let feed = DeviceFeed(
            client: server, filter: "devices/+/features", validator: MessageValidator(modelID: model, dimension: 16),
            qos: .atLeastOnce)
        let stream = try await server.subscribe(to: "devices/+/features", qos: .atLeastOnce)
        let accepted = Locked<[String]>([])
        let consumer = Task {
            try await feed.consume(stream) { message, _ in accepted.withLock { $0.append(message.device ?? "?") } }
        }
        let good = (0..<16).map { Float($0) / 16 }
        var nan = good
        nan[5] = .nan
        let payloads: [(String, [UInt8], Int)] = [
            ("good", PayloadCodec.encode(FeatureMessage(model: model, features: good), as: .compact), 30),
            ("original", PayloadCodec.encode(FeatureMessage(features: good), as: .original), 10),
            ("malformed", Array("{\"features\": [1, 2".utf8), 25),
            ("binary", [0x00, 0xFF, 0x13, 0x37], 25),
            ("dimension", PayloadCodec.encode(FeatureMessage(model: model, features: [1, 2, 3]), as: .compact), 25),
            ("nan", PayloadCodec.encode(FeatureMessage(model: model, features: nan), as: .compact), 25),
            ("model", PayloadCodec.encode(FeatureMessage(model: "resnet50/1", features: good), as: .compact), 25),
        ]
        for round in 0..<30 {
            for (name, payload, count) in payloads where round < count {
                try device.publish(payload, to: "devices/\(name)/features", qos: .atLeastOnce)
            }
        }
        #expect(await Self.waitUntil { feed.counts.accepted + feed.counts.totalRejected == 165 })
        consumer.cancel()
        #expect(feed.counts.accepted == 40)
        #expect(feed.counts.rejected == ["malformed": 50, "wrong_dimension": 25, "not_finite": 25, "wrong_model": 25])
        let devices = accepted.withLock { $0 }
        #expect(devices.filter { $0 == "good" }.count == 30)
        #expect(devices.filter { $0 == "original" }.count == 10)
    }
}
