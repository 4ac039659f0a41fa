import Foundation
import VSearchCore

/// Buffered standard output: vectors are long, and one write per line is slow.
final class StandardOutput {
    private var buffer = Data()

    func write(_ text: String) {
        buffer.append(contentsOf: text.utf8)
        if buffer.count > 1 << 16 { flush() }
    }

    func flush() {
        FileHandle.standardOutput.write(buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    deinit { flush() }
}

/// Prints an error as one line on standard error: `vsearch: <what went wrong>`.
func printError(_ error: any Error) {
    printError(describe(error))
}

/// Prints `message` as one line on standard error, after the `vsearch: ` every error line starts with.
func printError(_ message: String) {
    FileHandle.standardError.write(Data("vsearch: \(message)\n".utf8))
}

/// A command-line misuse or refusal, printed as one line.
struct CommandError: VSearchError {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}

/// JSON fragments for output that is written a line at a time.
enum JSONText {
    /// A JSON string literal.
    static func string(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// A JSON array of floats, each in its shortest exact form.
    static func floats(_ values: [Float]) -> String {
        "[" + values.map { $0.isFinite ? "\($0)" : "null" }.joined(separator: ",") + "]"
    }
}
