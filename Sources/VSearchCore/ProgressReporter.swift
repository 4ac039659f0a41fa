import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Shows the progress of long work: a bar redrawn in place on a terminal,
/// and plain periodic lines when the output is a file or a pipe (CI logs).
///
/// Its counters sit behind a mutex, so that tasks working in parallel can report to one
/// reporter; lines are drawn while it is held, so they never interleave.
public final class ProgressReporter: Sendable {
    private struct Counters {
        var done = 0
        var failed = 0
        var lastDraw = Date.distantPast
        var finished = false
    }

    private let label: String
    private let total: Int?
    private let isTerminal: Bool
    private let plainInterval: TimeInterval
    private let output: FileHandle
    private let start = Date()
    private let counters = Locked(Counters())

    /// - Parameters:
    ///   - label: what is being done, e.g. "ingest".
    ///   - total: the number of units, when known.
    ///   - output: where to draw; standard error by default, so that
    ///     standard output stays machine-readable.
    ///   - plainInterval: seconds between plain lines when not on a terminal.
    public init(
        label: String, total: Int?, output: FileHandle = .standardError, plainInterval: TimeInterval = 5
    ) {
        self.label = label
        self.total = total
        self.output = output
        self.isTerminal = isatty(output.fileDescriptor) == 1
        self.plainInterval = plainInterval
    }

    /// Records `count` finished units, `failures` of which failed.
    public func advance(by count: Int = 1, failures: Int = 0) {
        counters.withLock { counters in
            counters.done += count
            counters.failed += failures
            redrawIfDue(&counters)
        }
    }

    /// Sets the number of finished units, for work that counts for itself.
    public func update(done: Int) {
        counters.withLock { counters in
            counters.done = done
            redrawIfDue(&counters)
        }
    }

    private func redrawIfDue(_ counters: inout Counters) {
        let now = Date()
        let interval = isTerminal ? 0.1 : plainInterval
        if now.timeIntervalSince(counters.lastDraw) >= interval {
            counters.lastDraw = now
            draw(counters, now: now, final: false)
        }
    }

    /// Draws the final state and ends the line.
    public func finish() {
        counters.withLock { counters in
            guard !counters.finished else { return }
            counters.finished = true
            draw(counters, now: Date(), final: true)
        }
    }

    private func draw(_ counters: Counters, now: Date, final: Bool) {
        let line = Self.render(
            label: label, done: counters.done, total: total, failed: counters.failed,
            elapsed: now.timeIntervalSince(start), barWidth: isTerminal ? 28 : 0)
        if isTerminal {
            output.write(Data(("\r\u{1B}[2K" + line + (final ? "\n" : "")).utf8))
        } else {
            output.write(Data((line + "\n").utf8))
        }
    }

    /// One progress line: bar (when `barWidth` > 0), done/total, rate, ETA
    /// and failures.
    static func render(label: String, done: Int, total: Int?, failed: Int, elapsed: TimeInterval, barWidth: Int)
        -> String
    {
        var parts = [label]
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        if let total, total > 0 {
            let fraction = min(1, Double(done) / Double(total))
            if barWidth > 0 {
                let filled = Int(fraction * Double(barWidth))
                parts.append(
                    "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: barWidth - filled)
                        + "]")
            }
            parts.append("\(done)/\(total) (\(Int(fraction * 100))%)")
            if rate > 0, done < total {
                parts.append("ETA \(formatDuration(Double(total - done) / rate))")
            }
        } else {
            parts.append("\(done)")
        }
        parts.append(String(format: "%.1f/s", rate))
        if failed > 0 { parts.append("\(failed) failed") }
        return parts.joined(separator: " ")
    }

    static func formatDuration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? "\(s / 3600)h\(s % 3600 / 60)m" : s >= 60 ? "\(s / 60)m\(s % 60)s" : "\(s)s"
    }
}
