import ArgumentParser
import Foundation
import VSearchCore
import VectorIndex

/// `vsearch index`: the vector index on its own, for people who bring their own vectors.
struct IndexCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Build and query a vector index from .npy or .fvecs files.",
        subcommands: [IndexBuild.self, IndexQuery.self, IndexAdd.self, IndexRemove.self]
    )
}

extension Metric: ExpressibleByArgument {}
extension VectorStorage: ExpressibleByArgument {}
extension IndexKind: ExpressibleByArgument {}

/// Turns an index error into one line on stderr and a failing exit.
struct IndexFailure: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

func runIndexCommand(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as ExitCode {
        throw error
    } catch {
        FileHandle.standardError.write(Data(("vsearch index: " + describe(error) + "\n").utf8))
        throw ExitCode.failure
    }
}

/// Progress on stderr: a redrawn bar on a terminal, a plain line every few seconds otherwise.
final class ProgressReporter: @unchecked Sendable {
    private let label: String
    private let isTerminal = isatty(STDERR_FILENO) == 1
    private let start = Date()
    private var lastPrint = Date.distantPast
    private let mutex = NSLock()

    init(label: String) { self.label = label }

    func update(_ done: Int, _ total: Int) {
        mutex.lock()
        defer { mutex.unlock() }
        let now = Date()
        let finished = done >= total
        guard finished || now.timeIntervalSince(lastPrint) >= (isTerminal ? 0.2 : 5) else { return }
        lastPrint = now
        let fraction = total > 0 ? Double(done) / Double(total) : 1
        let elapsed = now.timeIntervalSince(start)
        let line: String
        if isTerminal {
            let width = 30
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
            line = "\r\(label) [\(bar)] \(done)/\(total) \(String(format: "%.1f", elapsed))s" + (finished ? "\n" : "")
        } else {
            line = "\(label): \(done)/\(total) (\(Int(fraction * 100))%) \(String(format: "%.1f", elapsed))s\n"
        }
        FileHandle.standardError.write(Data(line.utf8))
    }
}
