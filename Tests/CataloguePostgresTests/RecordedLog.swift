import Logging
import VSearchCore

/// A logger whose warnings and errors a test can read back. Nothing is printed.
final class RecordedLog: Sendable {
    private let lines = Locked([String]())

    /// The messages logged at warning level or above, oldest first.
    var messages: [String] { lines.withLock { $0 } }

    var logger: Logger {
        Logger(label: "vsearch.tests.recorded") { _ in Handler(log: self) }
    }

    private struct Handler: LogHandler {
        let log: RecordedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .warning

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            log.lines.withLock { $0.append(event.message.description) }
        }
    }
}
