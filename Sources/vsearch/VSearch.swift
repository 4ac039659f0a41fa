import ArgumentParser
import Foundation
import VSearchCore

@main
struct VSearch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vsearch",
        abstract: "Visual search: show it an object or a photo, get the most similar catalogue items.",
        // `--version`: the release and the build, the first thing a bug report needs.
        version: VSearchVersion.description,
        subcommands: [
            EmbedCommand.self, ClassifyCommand.self, IndexCommand.self, IngestCommand.self, SearchCommand.self,
            RemoveCommand.self, ReindexCommand.self, ExportCommand.self, EvalCommand.self, ServeCommand.self,
            EdgeCommand.self,
        ]
    )

    /// Parses and runs a command like ArgumentParser's own `main`, but every error, a usage error
    /// included, ends as one `vsearch: …` line on standard error and a non-zero exit status.
    static func main() async {
        do {
            var command = try await asyncParseAsRoot(nil)
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            // Help, --version and an ExitCode thrown after the command printed its own lines.
            if code == .success || error is ExitCode { exit(withError: error) }
            let text = error is any VSearchError ? describe(error) : message(for: error)
            printError(oneLine(text))
            Foundation.exit(code.rawValue)
        }
    }

    /// `text` on one line: line breaks become "; ".
    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: "; ")
    }
}
