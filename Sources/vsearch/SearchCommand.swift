import ArgumentParser
import Catalogue
import Foundation
import VSearchCore

/// `vsearch search IMAGE...`: the catalogue items most similar to each image.
struct SearchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Find the catalogue items most similar to each image.",
        discussion: """
            With --json, one line per query: {"query": PATH, "results": [{"id", "title", "url", "score"}]}, best first.
            """
    )

    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .short, help: "Matches per query.")
    var k: Int = 4

    @Flag(help: "Print one JSON line per query.")
    var json = false

    @Option(name: .long, help: "Leave out matches scoring below this.")
    var minScore: Float?

    @Option(name: .customLong("where"), help: "Only items whose attribute KEY equals VALUE (repeatable): KEY=VALUE.")
    var filters: [String] = []

    @Option(name: .long, help: "A file listing query images, one path per line.")
    var list: String?

    @Argument(help: "Query images.")
    var images: [String] = []

    func validate() throws {
        guard k >= 1 else { throw ValidationError("-k must be at least 1") }
        guard !images.isEmpty || list != nil else { throw ValidationError("give query images or --list FILE") }
    }

    func run() async throws {
        var queries = images
        if let list {
            guard let data = FileManager.default.contents(atPath: list) else {
                throw CommandError("\(list): cannot read the query list")
            }
            queries += String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline)
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        try await storeOptions.withCatalogue(.read) { catalogue in try await search(queries, in: catalogue) }
    }

    private func search(_ queries: [String], in catalogue: any CatalogueBackend) async throws {
        let featurizer = try modelOptions.loadFeaturizer()
        var query = CatalogueQuery(
            k: k, minScore: minScore, filters: try filters.map(CatalogueQuery.filter),
            windowPenalty: featurizer.windowPenalty, sharedPrefix: featurizer.sharedPrefix,
            check: CandidateCheck(model: featurizer))
        var failures = 0
        var paths: [String] = []
        var vectors: [[[Float]]] = []
        for (path, result) in zip(queries, await featurizer.describe(files: queries, for: .query)) {
            switch result {
            case .success(let picture):
                paths.append(path)
                vectors.append(picture.vectors)
                query.check?.pictures.append(picture.localFeatures)
            case .failure(let error):
                failures += 1
                printError(error)
            }
        }
        let results = try await catalogue.search(regions: vectors, modelID: featurizer.descriptor.id, query: query)
        let output = StandardOutput()
        for (path, matches) in zip(paths, results) {
            if json {
                let items = matches.map {
                    "{\"id\":\(JSONText.string($0.id)),\"title\":\(JSONText.string($0.title)),"
                        + "\"url\":\(JSONText.string($0.url)),\"score\":\($0.score)}"
                }
                output.write("{\"query\":\(JSONText.string(path)),\"results\":[\(items.joined(separator: ","))]}\n")
            } else {
                output.write("\(path)\n")
                for match in matches {
                    output.write(
                        String(format: "  %.4f  ", match.score) + "\(match.id)  \(match.title)  \(match.url)\n")
                }
            }
        }
        output.flush()
        if failures > 0 { throw ExitCode(1) }
    }
}
