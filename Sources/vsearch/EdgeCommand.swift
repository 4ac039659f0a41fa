import ArgumentParser
import DeviceLink
import EdgeAgent
import Foundation
import VSearchCore

/// `vsearch edge`: the device agent. Frames → features on the device → MQTT.
struct EdgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "edge",
        abstract: "Featurize camera, stream, video or folder frames on this device and publish them over MQTT.",
        discussion: """
            SOURCE is any input ffmpeg reads (/dev/video0, rtsp://…, http://…, a video file), or `-` for \
            standard input: concatenated JPEG images (e.g. ffmpeg -f image2pipe), or one image path per line. \
            With --watch DIR, new images in DIR are the frames.
            """
    )

    /// Broker, topic, credentials, TLS and QoS: the same flags as `vsearch serve --mqtt`.
    @OptionGroup var mqtt: MQTTConnectionOptions

    @Option(help: "The device name in messages (default: the host name).")
    var deviceID: String?

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "Frames per second to sample from the source.")
    var fps: Double = 5

    @Option(help: "Skip a frame whose cosine similarity to the last published one is at least this.")
    var dedupThreshold: Float = 0.98

    @Option(help: "compact (base64 float16, model, device, time) or original ({\"features\": \"f1,f2,...\"}).")
    var payload: PayloadFormat = .compact

    @Flag(help: "Add a small JPEG of the frame to compact messages.")
    var thumbnail = false

    @Option(help: "Watch this directory for new images instead of reading SOURCE.")
    var watch: String?

    @Flag(help: "Read a video file at its own frame rate, as a camera would deliver it (ffmpeg -re).")
    var realtime = false

    @Option(help: "Messages kept while the broker is unreachable; the oldest are dropped beyond this.")
    var offlineBuffer: Int = 1000

    @Option(
        help: """
            When a file or standard input ends, how long to wait (seconds) for the buffered messages to reach \
            the broker; what is still buffered then is counted as undelivered.
            """)
    var drainTimeout: Double = 30

    @Flag(help: "At the end, print the counts as one JSON line on standard output.")
    var jsonSummary = false

    @Argument(help: "The frame source: an ffmpeg input, or - for standard input.")
    var source: String?

    func validate() throws {
        guard mqtt.broker != nil else { throw ValidationError("give the broker: --mqtt mqtt://HOST[:PORT]") }
        guard mqtt.topic != nil else { throw ValidationError("give the topic to publish to: --topic TOPIC") }
        guard fps > 0 else { throw ValidationError("--fps must be positive") }
        guard drainTimeout >= 0 else { throw ValidationError("--drain-timeout must not be negative") }
        guard (source == nil) != (watch == nil) else {
            throw ValidationError("give either a SOURCE or --watch DIR")
        }
    }

    func run() async throws {
        do {
            try await runAgent()
        } catch let error as VSearchError {
            printError(error)
            throw ExitCode(1)
        }
    }

    private func runAgent() async throws {
        let frameSource = try makeSource()
        let featurizer = try modelOptions.loadFeaturizer()
        let device = deviceID ?? ProcessInfo.processInfo.hostName
        guard let broker = mqtt.broker, let topic = mqtt.topic else { throw ValidationError("give --mqtt and --topic") }
        var mqttOptions = try mqtt.options(broker: broker)
        mqttOptions.offlineBufferCapacity = offlineBuffer
        let client = try MQTTClient(options: mqttOptions)
        try await client.connect()
        let status = StatusLine()
        status.log("connected to \(mqttOptions.broker); publishing \(frameSource.description) to \(topic)")
        let events = Task {
            for await event in client.events {
                switch event {
                case .reconnected(let drained): status.log("reconnected; sent \(drained) buffered messages")
                case .disconnected(let reason): status.log("\(mqttOptions.broker): \(reason); reconnecting")
                case .refused(let reason): status.log("\(mqttOptions.broker): connection refused: \(reason)")
                }
            }
        }
        let agent = EdgeAgent(
            featurizer: featurizer, publisher: client,
            options: EdgeAgentOptions(
                topic: topic, deviceID: device, payload: payload, qos: mqtt.qos,
                dedupThreshold: dedupThreshold, thumbnail: thumbnail))
        let result: EdgeStatistics
        do {
            result = try await agent.run(
                source: frameSource, report: { status.update($0.line) }, warn: { status.log(describe($0)) })
        } catch {
            status.finish()
            client.disconnect()
            throw error
        }
        // A broker that is away when the source ends may be back within the reconnection backoff
        // (1, 4, 9 … s), so the buffer gets that long to go out before it is given up.
        _ = await client.waitUntilDelivered(timeout: drainTimeout)
        let mqttStatistics = client.statistics
        client.disconnect()
        events.cancel()
        status.finish()
        var summary = result
        summary.droppedOffline = mqttStatistics.dropped
        status.log("done: \(summary.line); \(mqttStatistics.buffered) messages never reached the broker")
        if jsonSummary {
            print(
                "{\"frames\":\(summary.read),\"published\":\(summary.published),\"skipped\":\(summary.skipped),"
                    + "\"failed\":\(summary.failed),\"dropped_late\":\(summary.droppedLate),"
                    + "\"dropped_offline\":\(summary.droppedOffline),\"undelivered\":\(mqttStatistics.buffered),"
                    + "\"seconds\":\(summary.elapsed),"
                    + "\"fps\":\(summary.framesPerSecond)}")
        }
    }

    private func makeSource() throws -> any FrameSource {
        if let watch { return DirectoryWatchSource(directory: watch) }
        guard let source else { throw ValidationError("give either a SOURCE or --watch DIR") }
        if source == "-" { return StandardInputSource() }
        let model = try ModelOptions.directory(modelOptions.model).descriptor
        // Frames are queries: a region recipe's query view may be larger than the plain input.
        let shortSide = max(model.input.resizeShortSide ?? 256, model.descriptor?.query.shortSide ?? 0)
        return FFmpegSource(input: source, fps: fps, shortSide: shortSide, realtime: realtime)
    }
}

extension PayloadFormat: ExpressibleByArgument {}

/// The agent's running status: one rewritten line on a terminal, a log line every 10 s otherwise.
final class StatusLine: Sendable {
    private struct Shown {
        var lastUpdate = ContinuousClock.now - .seconds(60)
        var shown = false
    }

    private let isTerminal = isatty(STDERR_FILENO) == 1
    private let state = Locked(Shown())

    func update(_ line: String) {
        state.withLock { state in
            let now = ContinuousClock.now
            if isTerminal {
                guard now - state.lastUpdate >= .milliseconds(250) else { return }
                write("\r\u{1B}[K" + line)
                state.shown = true
            } else {
                guard now - state.lastUpdate >= .seconds(10) else { return }
                write("vsearch edge: \(line)\n")
            }
            state.lastUpdate = now
        }
    }

    func log(_ message: String) {
        state.withLock { state in
            write((state.shown ? "\r\u{1B}[K" : "") + "vsearch edge: \(message)\n")
            state.shown = false
            state.lastUpdate = ContinuousClock.now - .seconds(60)
        }
    }

    func finish() {
        state.withLock { state in
            if state.shown { write("\n") }
            state.shown = false
        }
    }

    private func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
