import Foundation
import VSearchCore

/// One picture from a frame source, still encoded (JPEG, PNG or WebP).
public struct Frame: Sendable {
    /// 0, 1, 2, … in the order the source produced frames, counting dropped ones.
    public var sequence: Int
    /// When the frame was read from the camera, stream or file: the start of the latency that
    /// match events report.
    public var capturedAt: Date
    public var bytes: [UInt8]
    /// Names the frame in errors (`frame 12 of /dev/video0`, a file path).
    public var name: String

    public init(sequence: Int, capturedAt: Date = Date(), bytes: [UInt8], name: String) {
        self.sequence = sequence
        self.capturedAt = capturedAt
        self.bytes = bytes
        self.name = name
    }
}

/// Where an edge agent's frames come from.
public protocol FrameSource: Sendable {
    /// Names the source in logs.
    var description: String { get }
    /// Starts producing frames. The sequence ends when the source does (end of a file) and
    /// throws when it fails (ffmpeg cannot open the input); stopping the iteration stops the source.
    func frames() -> FrameStream
}

/// Frames as a source produces them, with the counts a status line needs.
///
/// A live source (a camera) keeps only the newest frame when the agent is
/// slower than the camera, since an old frame is worth less than a fresh one;
/// `dropped` counts those. A recorded source waits for the agent instead.
public struct FrameStream: AsyncSequence, Sendable {
    public typealias Element = Frame
    let frames: AsyncThrowingStream<Frame, any Error>
    let credits: DispatchSemaphore?
    let counters: FrameCounters

    /// Frames the source dropped because the agent was still busy with an earlier one.
    public var dropped: Int { counters.dropped }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var frames: AsyncThrowingStream<Frame, any Error>.AsyncIterator
        let credits: DispatchSemaphore?

        public mutating func next() async throws -> Frame? {
            let frame = try await frames.next()
            credits?.signal()
            return frame
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(frames: frames.makeAsyncIterator(), credits: credits)
    }

    /// A stream fed by `produce` on a thread of its own, so blocking reads cost no task thread.
    ///
    /// With `latestOnly`, a frame the consumer has not taken yet is replaced by the next one;
    /// otherwise `produce`'s `emit` blocks while `queueDepth` frames wait.
    static func threaded(
        latestOnly: Bool, queueDepth: Int = 4,
        produce: @escaping @Sendable (_ emit: (Frame) -> Bool, _ isCancelled: () -> Bool) throws -> Void,
        onStop: @escaping @Sendable () -> Void = {}
    ) -> FrameStream {
        let (frames, sink) = AsyncThrowingStream.makeStream(
            of: Frame.self, bufferingPolicy: latestOnly ? .bufferingNewest(1) : .unbounded)
        let credits = latestOnly ? nil : DispatchSemaphore(value: queueDepth)
        let counters = FrameCounters()
        sink.onTermination = { _ in
            counters.cancel()
            credits?.signal()
            onStop()
        }
        let thread = Thread {
            do {
                try produce(
                    { frame in
                        credits?.wait()
                        guard !counters.isCancelled else { return false }
                        if case .dropped = sink.yield(frame) { counters.drop() }
                        return true
                    }, { counters.isCancelled })
                sink.finish()
            } catch {
                sink.finish(throwing: error)
            }
        }
        thread.name = "vsearch-frames"
        thread.start()
        return FrameStream(frames: frames, credits: credits, counters: counters)
    }
}

/// Counts shared between a frame source's thread and its consumer.
final class FrameCounters: Sendable {
    private let state = Locked((dropped: 0, cancelled: false))

    var dropped: Int { state.withLock { $0.dropped } }
    var isCancelled: Bool { state.withLock { $0.cancelled } }
    func drop() { state.withLock { $0.dropped += 1 } }
    func cancel() { state.withLock { $0.cancelled = true } }
}
