import Foundation
import VSearchCore

/// Frames from anything ffmpeg reads: a V4L2 camera (`/dev/video0`), an RTSP
/// or HTTP stream, or a video file.
///
/// ffmpeg samples the input at `fps`, scales each frame so its short side is
/// `shortSide` (the model needs no more, and it keeps the pipe small), and
/// writes JPEGs to a pipe (`image2pipe`), which `JPEGStreamSplitter` cuts up.
public struct FFmpegSource: FrameSource {
    public var input: String
    /// Frames per second to sample; nil passes every frame through.
    public var fps: Double?
    /// The short side of the frames ffmpeg writes.
    public var shortSide: Int
    /// Reads a file at its own frame rate (ffmpeg `-re`), as if it were a camera.
    public var realtime: Bool
    /// JPEG quality in ffmpeg's `-q:v` scale (2 best … 31 worst).
    public var jpegQuality: Int
    /// The ffmpeg executable.
    public var executable: String

    public init(
        input: String, fps: Double? = 5, shortSide: Int = 256, realtime: Bool = false, jpegQuality: Int = 4,
        executable: String = "ffmpeg"
    ) {
        self.input = input
        self.fps = fps
        self.shortSide = shortSide
        self.realtime = realtime
        self.jpegQuality = jpegQuality
        self.executable = executable
    }

    public var description: String { input }

    /// True for inputs that produce frames at their own pace (cameras, network streams, `-re` files):
    /// those keep only the newest frame when the agent falls behind.
    public var isLive: Bool {
        realtime || input.hasPrefix("/dev/") || input.contains("://")
    }

    /// The ffmpeg command line, without the executable.
    public var arguments: [String] {
        var arguments = ["-hide_banner", "-loglevel", "error", "-nostdin"]
        if realtime { arguments.append("-re") }
        if input.hasPrefix("/dev/video") { arguments += ["-f", "v4l2"] }
        if input.hasPrefix("rtsp://") { arguments += ["-rtsp_transport", "tcp"] }
        arguments += ["-i", input, "-an", "-sn"]
        var filters: [String] = []
        if let fps { filters.append("fps=\(fps)") }
        filters.append("scale=\(shortSide):\(shortSide):force_original_aspect_ratio=increase")
        arguments += ["-vf", filters.joined(separator: ",")]
        arguments += [
            "-f", "image2pipe", "-c:v", "mjpeg", "-q:v", String(jpegQuality), "-pix_fmt", "yuvj420p", "pipe:1",
        ]
        return arguments
    }

    public func frames() -> FrameStream {
        let process = Process()
        let output = Pipe()
        let errors = Pipe()
        let input = self.input
        let arguments = self.arguments
        let executable = self.executable
        let processBox = ProcessBox(process)
        return FrameStream.threaded(
            latestOnly: isLive,
            produce: { emit, isCancelled in
                process.executableURL = try Self.locate(executable, input: input)
                process.arguments = arguments
                process.standardOutput = output
                process.standardError = errors
                process.standardInput = FileHandle.nullDevice
                do {
                    try process.run()
                } catch {
                    throw EdgeAgentError.ffmpeg(input: input, reason: "cannot start: \(error)")
                }
                let errorText = ErrorCollector(errors.fileHandleForReading)
                var splitter = JPEGStreamSplitter()
                var sequence = 0
                let reader = output.fileHandleForReading
                while !isCancelled() {
                    let chunk = reader.availableData
                    if chunk.isEmpty { break }
                    for image in splitter.append(chunk) {
                        let frame = Frame(sequence: sequence, bytes: image, name: "\(input) frame \(sequence)")
                        sequence += 1
                        guard emit(frame) else { break }
                    }
                }
                process.waitUntilExit()
                if !isCancelled(), process.terminationStatus != 0, process.terminationReason == .exit {
                    let reason = errorText.lastLine() ?? "exit status \(process.terminationStatus)"
                    throw EdgeAgentError.ffmpeg(input: input, reason: reason)
                }
            },
            onStop: { processBox.terminate() })
    }

    static func locate(_ executable: String, input: String) throws -> URL {
        if executable.contains("/") { return URL(fileURLWithPath: executable) }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(directory)).appendingPathComponent(executable)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw EdgeAgentError.ffmpeg(input: input, reason: "\(executable) is not installed (apt-get install ffmpeg)")
    }
}

/// Lets the stream's termination handler stop the ffmpeg it started.
// @unchecked: Process is not Sendable in corelibs Foundation; only `isRunning` and the pid are read.
private final class ProcessBox: @unchecked Sendable {
    private let process: Process
    init(_ process: Process) { self.process = process }
    /// SIGKILL, because a child started from a dispatch thread may have SIGTERM blocked.
    func terminate() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

/// Collects a child's standard error on a thread of its own, keeping the last lines.
private final class ErrorCollector: Sendable {
    private let text = Locked("")

    init(_ handle: FileHandle) {
        let thread = Thread { [self] in
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                text.withLock { text in
                    text += String(decoding: chunk, as: UTF8.self)
                    if text.count > 4096 { text = String(text.suffix(4096)) }
                }
            }
        }
        thread.start()
    }

    func lastLine() -> String? {
        // Give the reader a moment to take ffmpeg's last words after it exited.
        Thread.sleep(forTimeInterval: 0.05)
        return text.withLock { text in
            text.split(separator: "\n").last.map { $0.trimmingCharacters(in: .whitespaces) }
        }
    }
}
