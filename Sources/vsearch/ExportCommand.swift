import ArgumentParser
import Catalogue
import Foundation

/// `vsearch export`: the catalogue in the original `metadata.json` format.
struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Write the catalogue as the original metadata.json: [{id, title, url}].")

    @OptionGroup var storeOptions: StoreOptions

    @Option(name: .shortAndLong, help: "Write here instead of standard output.")
    var output: String?

    func run() async throws {
        let items = try await storeOptions.withCatalogue(.read) { try await $0.items() }
        let lines = items.map {
            "  {\"id\": \(JSONText.string($0.id)), \"title\": \(JSONText.string($0.title)), \"url\": \(JSONText.string($0.url))}"
        }
        let text = lines.isEmpty ? "[]\n" : "[\n" + lines.joined(separator: ",\n") + "\n]\n"
        if let output {
            guard FileManager.default.createFile(atPath: output, contents: Data(text.utf8)) else {
                throw CommandError("\(output): cannot write the file")
            }
        } else {
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }
}
