import Catalogue
import CataloguePostgres
import Foundation
import Testing
import VSearchTesting

/// The built `vsearch` on a PostgreSQL catalogue: `--store postgres://…` and `$VSEARCH_STORE`.
@Suite(.serialized, PostgresScope()) struct CommandTests {
    /// Real photos embedded by `vsearch embed`, stored through ``PostgresCatalogue`` (ingest does
    /// not write to PostgreSQL yet), then searched and exported by the command line.
    @Test func searchAndExportReadAPostgresCatalogue() async throws {
        try Repository.requireModelAndPhotos()
        let photos = Array(Repository.photoFiles().prefix(8))
        let embedded = try await runVSearch(["embed"] + photos)
        try #require(embedded.status == 0, "\(embedded.error)")
        var vectors: [String: [Float]] = [:]
        for line in embedded.output.split(separator: "\n") {
            let object = try #require(
                try JSONSerialization.jsonObject(with: Foundation.Data(line.utf8)) as? [String: Any])
            let image = try #require(object["image"] as? String)
            vectors[image] = try #require(object["vector"] as? [Double]).map(Float.init)
        }
        let model = try JSONSerialization.jsonObject(
            with: try Foundation.Data(contentsOf: URL(fileURLWithPath: Repository.model + "/model.json")))
        let modelID = try #require((model as? [String: Any])?["id"] as? String)

        let url = try await Fixture.newDatabase()
        let catalogue = try await PostgresCatalogue.open(url: url)
        let ids = photos.map { URL(fileURLWithPath: $0).deletingPathExtension().lastPathComponent }
        try await catalogue.bind(modelID: modelID, dimension: try #require(vectors[photos[0]]).count, switching: false)
        try await catalogue.put(
            zip(ids, photos).enumerated().map { offset, pair in
                StagedItem(
                    id: pair.0, title: "photo \(pair.0)", url: pair.1,
                    attributes: offset % 2 == 0 ? #"{"half":"even"}"# : #"{"half":"odd"}"#, contentHash: "")
            }, vectors: try photos.flatMap { try #require(vectors[$0]) }, onlyNew: false)
        await catalogue.close()

        let found = try await runVSearch(["search", "--store", url, "--json", "-k", "3", photos[3]])
        try #require(found.status == 0, "\(found.error)")
        let results = try #require(Self.results(found.output).first)
        #expect(results.first == ids[3])
        #expect(results.count == 3)

        // $VSEARCH_STORE names the catalogue too, and --where runs in SQL.
        let odd = try await runVSearch(
            ["search", "--json", "-k", "8", "--where", "half=odd", photos[0]], environment: ["VSEARCH_STORE": url])
        try #require(odd.status == 0, "\(odd.error)")
        #expect(try #require(Self.results(odd.output).first).sorted() == [1, 3, 5, 7].map { ids[$0] }.sorted())

        let exported = try await runVSearch(["export", "--store", url])
        try #require(exported.status == 0, "\(exported.error)")
        let list = try #require(
            try JSONSerialization.jsonObject(with: Foundation.Data(exported.output.utf8)) as? [[String: String]])
        #expect(Set(list.compactMap { $0["id"] }) == Set(ids))

        // A command that does not work on PostgreSQL yet says so in one line, without the password.
        let withPassword = url.replacingOccurrences(of: "vsearch@", with: "vsearch:secret@")
        let removed = try await runVSearch(["remove", "--store", withPassword, ids[0]])
        #expect(removed.status != 0)
        #expect(
            removed.error
                == "vsearch: \(url): this command does not work on a PostgreSQL catalogue yet (search and export do)\n")
    }

    /// The ids of each `search --json` line's results, best first.
    static func results(_ output: String) throws -> [[String]] {
        try output.split(separator: "\n").map { line in
            let object = try JSONSerialization.jsonObject(with: Foundation.Data(line.utf8)) as? [String: Any]
            return (object?["results"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
        }
    }
}
