import Catalogue
import CataloguePostgres
import Foundation
import Testing
import VSearchTesting

/// The built `vsearch` on a PostgreSQL catalogue: `--store postgres://…` and `$VSEARCH_STORE`.
@Suite(.serialized, PostgresScope()) struct CommandTests {
    /// Real photos embedded by `vsearch embed`, stored through ``PostgresCatalogue``, then searched
    /// and exported by the command line.
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

        // A database without a catalogue: search says so rather than answering nothing.
        let empty = try await Fixture.newDatabase()
        let nothing = try await runVSearch(["search", "--store", empty, photos[3]])
        #expect(nothing.status != 0)
        #expect(nothing.error == "vsearch: \(empty): no catalogue here; build one with `vsearch ingest`\n")

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

        // A failure names the catalogue in one line, without its password, and writes no directory.
        let withPassword = url.replacingOccurrences(of: "vsearch@", with: "vsearch:secret@") + "-missing"
        let refused = try await runVSearch(["search", "--store", withPassword, photos[3]])
        #expect(refused.status != 0)
        #expect(!FileManager.default.fileExists(atPath: "postgres:"))
        #expect(refused.error.hasPrefix("vsearch: \(url)-missing: "))
        #expect(refused.error.contains("does not exist"))
        #expect(!refused.error.contains("secret"))
        #expect(refused.error.split(separator: "\n").count == 1)
    }

    /// The same CSV ingested into a store directory and into PostgreSQL: `search` answers the same
    /// on both, a second ingest finds everything unchanged, `--prune` removes what a source dropped,
    /// and `remove` and `reindex` work on PostgreSQL too.
    @Test func ingestAndSearchAnswerAlikeOnBothBackends() async throws {
        try Repository.requireModelAndPhotos()
        let scratch = try TemporaryDirectory("pg-ingest")
        let photos = Array(Repository.photoFiles().prefix(10))
        let rows = photos.enumerated().map { offset, photo in
            "p\(offset),photo \(offset),\(photo),\(offset % 2 == 0 ? "even" : "odd")"
        }
        let csv = scratch.path + "/items.csv"
        try (["id,title,url,half"] + rows).joined(separator: "\n").write(toFile: csv, atomically: true, encoding: .utf8)
        let url = try await Fixture.newDatabase()
        // The download cache and reports of a PostgreSQL catalogue go under $VSEARCH_CACHE.
        let environment = ["VSEARCH_CACHE": scratch.path + "/cache"]
        var answers: [[String]] = []
        for store in [scratch.path + "/store", url] {
            let ingested = try await runVSearch(["ingest", "--store", store, csv], environment: environment)
            try #require(ingested.status == 0, "\(ingested.error)")
            #expect(ingested.error.contains("10 items: 10 added"), "\(ingested.error)")
            let again = try await runVSearch(["ingest", "--store", store, csv], environment: environment)
            #expect(again.error.contains("10 unchanged"), "\(again.error)")
            let found = try await runVSearch(
                ["search", "--store", store, "--json", "-k", "4", "--where", "half=odd", photos[0], photos[5]])
            try #require(found.status == 0, "\(found.error)")
            answers.append(found.output.split(separator: "\n").map(String.init))
        }
        // Same ids, same order, scores equal to float precision.
        let embedded = try Self.results(answers[0].joined(separator: "\n"))
        let postgres = try Self.results(answers[1].joined(separator: "\n"))
        #expect(embedded == postgres)
        #expect(embedded.allSatisfy { $0.count == 4 })
        #expect(embedded.first?.first == "p5" || embedded.last?.first == "p5")

        try (["id,title,url,half"] + rows.dropLast(3)).joined(separator: "\n").write(
            toFile: csv, atomically: true, encoding: .utf8)
        let pruned = try await runVSearch(["ingest", "--store", url, "--prune", csv], environment: environment)
        #expect(pruned.error.contains("3 pruned"), "\(pruned.error)")
        let removed = try await runVSearch(["remove", "--store", url, "p0", "nope"], environment: environment)
        #expect(removed.error.contains("1 removed; not in the store: nope"), "\(removed.error)")
        let reindexed = try await runVSearch(["reindex", "--store", url], environment: environment)
        #expect(reindexed.status == 0 && reindexed.error.contains("6 items: 0 added, 6 updated"), "\(reindexed.error)")
        let catalogue = try await PostgresCatalogue.open(url: url)
        #expect(try await catalogue.count() == 6)
        #expect(try await catalogue.pendingCount() == 0)
        await catalogue.close()
    }

    /// `eval --store` measures the same catalogue alike in a store directory and in PostgreSQL:
    /// the same queries, searched through each backend's own index, give the same figures.
    @Test func evalGivesTheSameFiguresOnBothBackends() async throws {
        try Repository.requireModelAndPhotos()
        let scratch = try TemporaryDirectory("pg-eval")
        let photos = Array(Repository.photoFiles().prefix(8))
        let rows = photos.enumerated().map { offset, photo in "e\(offset),photo \(offset),\(photo)" }
        let csv = scratch.path + "/items.csv"
        try (["id,title,url"] + rows).joined(separator: "\n").write(toFile: csv, atomically: true, encoding: .utf8)
        let url = try await Fixture.newDatabase()
        let environment = ["VSEARCH_CACHE": scratch.path + "/cache"]
        var figures: [String] = []
        for store in [scratch.path + "/store", url] {
            let ingested = try await runVSearch(["ingest", "--store", store, csv], environment: environment)
            try #require(ingested.status == 0, "\(ingested.error)")
            let evaluated = try await runVSearch(
                ["eval", "--store", store, "--json", "--queries-per-item", "2", "--no-breakdown"],
                environment: environment)
            try #require(evaluated.status == 0, "\(evaluated.error)")
            figures.append(evaluated.output)
        }
        let object = try JSONSerialization.jsonObject(with: Foundation.Data(figures[0].utf8)) as? [String: Any]
        #expect(object?["items"] as? Int == photos.count)
        #expect(figures[0] == figures[1])
    }

    /// The ids of each `search --json` line's results, best first.
    static func results(_ output: String) throws -> [[String]] {
        try output.split(separator: "\n").map { line in
            let object = try JSONSerialization.jsonObject(with: Foundation.Data(line.utf8)) as? [String: Any]
            return (object?["results"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
        }
    }
}
