import Featurizer
import Foundation
import Testing
import VSearchCore

@testable import Catalogue

/// Ingestion over real HTTP from a loopback server, with real photos and the default model.
@Suite(.serialized) struct IngestTests {
    static func loadFeaturizer() throws -> Featurizer {
        guard FileManager.default.fileExists(atPath: Repository.model + "/model.json") else {
            throw TestFailure("no model at \(Repository.model): run scripts/prepare-model.sh")
        }
        return try Featurizer(model: ModelDirectory(path: Repository.model))
    }

    /// The first lines of the seed's sample-data.txt (its image host is unreachable; the test serves these paths).
    static let seedSample = """
        Bedtime Originals Plush Monkey Ollie, https://images-na.ssl-images-amazon.com/images/I/41ZmuuKMtmL._SL224_.jpg
        Gund Baby Nicky Noodle Monkey Stuffed Animal, https://images-na.ssl-images-amazon.com/images/I/51IvSHMnwRL._SL224_.jpg
        Ty Beanie Boos - Coconut - Monkey, https://images-na.ssl-images-amazon.com/images/I/51YXM8lvD%2BL._SL224_.jpg
        Jellycat Bashful Monkey, https://images-na.ssl-images-amazon.com/images/I/51Zq%2BPzdbXL._SL224_.jpg
        Fiesta Toys Brown Orangutan Plush Stuffed Animal, https://images-na.ssl-images-amazon.com/images/I/41496M5M%2BsL._SL224_.jpg
        """

    /// The first seed lines, with their URL paths served from real photos.
    static func seedLines(count: Int, photos: [String]) throws -> (lines: [String], routes: [String: String]) {
        let text = seedSample
        var lines: [String] = []
        var routes: [String: String] = [:]
        for (index, line) in text.split(separator: "\n").prefix(count).enumerated() {
            // The raw path, percent escapes and all, is what the client sends and the server sees.
            guard let comma = line.lastIndex(of: ","),
                let scheme = line[comma...].range(of: "://"),
                let slash = line[scheme.upperBound...].firstIndex(of: "/")
            else { throw TestFailure("unexpected seed line \(line)") }
            let path = line[slash...].trimmingCharacters(in: .whitespaces)
            routes[path] = photos[index % photos.count]
            lines.append(String(line[..<comma]) + ", HOST" + path)
        }
        return (lines, routes)
    }

    @Test func ingestsOverHTTPAndReportsEveryBadItem() async throws {
        let photos = Repository.photoFiles().filter { $0.hasSuffix(".jpg") }
        try #require(photos.count >= 6, "need real photos in \(Repository.photos): run scripts/fetch-photos.sh")
        let featurizer = try Self.loadFeaturizer()
        let dir = try TemporaryDirectory()
        var (lines, routes) = try Self.seedLines(count: 5, photos: photos)
        let big = try #require(photos.max { Self.size($0) < Self.size($1) })
        routes["/slow"] = photos[0]
        routes["/huge-bytes"] = big
        routes["/flaky"] = photos[1]
        routes["/commas/x.jpg"] = photos[2]
        let server = try TestServer(routes: routes, slowSeconds: 4, directory: dir.path)
        lines += [
            "Mug, large, red, with a handle, HOST/commas/x.jpg",
            "Gone, HOST/missing/a.jpg",
            "Slow, HOST/slow/a.jpg",
            "Text, HOST/text/a.jpg",
            "Huge file, HOST/huge-bytes/a.jpg",
            "Huge picture, HOST/huge-pixels/a.png",
            "Flaky, HOST/flaky/a.jpg",
        ]
        let seed = dir.path + "/sample-data.txt"
        try lines.map { $0.replacingOccurrences(of: "HOST", with: server.base) }.joined(separator: "\n")
            .write(toFile: seed, atomically: true, encoding: .utf8)
        let extra = dir.path + "/extra.jsonl"
        try #"{"id": "0", "title": "same id as the seed's first line", "url": "\#(photos[3])"}"#
            .write(toFile: extra, atomically: true, encoding: .utf8)

        var options = IngestOptions()
        options.fetch.readTimeout = .milliseconds(700)
        options.fetch.retries = 1
        options.fetch.backoff = .milliseconds(50)
        options.fetch.maxBytes = Self.size(big) - 1
        let storePath = dir.path + "/store"
        let summary: IngestSummary
        do {
            let store = try CatalogueStore.open(directory: storePath, mode: .write)
            summary = try await Ingester(store: store, featurizer: featurizer, options: options)
                .ingest(sources: [seed, extra])
        }
        #expect(summary.added == 7)
        let reasons = Dictionary(
            summary.failures.map { ($0.id ?? "?", $0.reason) }, uniquingKeysWith: { a, b in a + b })
        #expect(reasons["6"]?.contains("HTTP 404") == true)
        #expect(reasons["7"]?.contains("timed out") == true)
        #expect(reasons["8"]?.contains("not a usable image") == true)
        #expect(reasons["9"]?.contains("limit") == true)
        #expect(reasons["10"]?.contains("not a usable image") == true)
        #expect(reasons["0"]?.contains("duplicate id") == true)
        #expect(summary.failures.count == 6)
        let report = try String(contentsOfFile: try #require(summary.reportPath), encoding: .utf8)
        #expect(report.split(separator: "\n").count == 6)

        let store = try CatalogueStore.open(directory: storePath, mode: .write)
        #expect(try store.item(id: "5")?.title == "Mug, large, red, with a handle")
        #expect(try store.item(id: "0")?.state == .ready)
        #expect(try store.count() == 7)
        // The slow URL was tried twice (one retry), the missing one once.
        let counts = try server.requestCounts()
        #expect(counts["/slow/a.jpg"] == 2)
        #expect(counts["/missing/a.jpg"] == 1)
        #expect(counts["/flaky/a.jpg"] == 2)

        // A query photo finds its own catalogue item first.
        let query = try #require(await featurizer.embed(files: [photos[2]]).first).get()
        let matches = try store.search([query], modelID: featurizer.descriptor.id, query: CatalogueQuery(k: 4))
        // Seed line 2 and the comma-titled item share that photo.
        #expect(Set(matches[0].prefix(2).map(\.id)) == ["2", "5"])
        #expect((matches[0].first?.score ?? 0) > 0.999)
        #expect(matches[0].count == 4)

        // Again, with one title changed: nothing is downloaded, nothing re-embedded.
        try String(contentsOfFile: seed, encoding: .utf8).replacingOccurrences(of: "Mug, large", with: "Mug, small")
            .write(toFile: seed, atomically: true, encoding: .utf8)
        let again = try await Ingester(store: store, featurizer: featurizer, options: options)
            .ingest(sources: [seed])
        #expect(again.added == 0 && again.updated == 0)
        #expect(again.unchanged == 6 && again.relabelled == 1)
        #expect(try store.item(id: "5")?.title == "Mug, small, red, with a handle")
        let countsAfter = try server.requestCounts()
        #expect(countsAfter["/flaky/a.jpg"] == 2)
        #expect(countsAfter["/commas/x.jpg"] == 1)

        // Pruning to the first two seed lines removes the rest.
        try lines.prefix(2).map { $0.replacingOccurrences(of: "HOST", with: server.base) }.joined(separator: "\n")
            .write(toFile: seed, atomically: true, encoding: .utf8)
        var pruning = options
        pruning.prune = true
        let pruned = try await Ingester(store: store, featurizer: featurizer, options: pruning).ingest(sources: [seed])
        #expect(pruned.pruned == 5)
        #expect(Set(try store.items().map(\.id)) == ["0", "1"])
        #expect(store.index?.count == 2)
    }

    @Test func anotherModelIsRefusedUntilReindexRecomputesEveryVector() async throws {
        let photos = Array(Repository.photoFiles().filter { $0.hasSuffix(".jpg") }.prefix(3))
        try #require(photos.count == 3, "need real photos in \(Repository.photos): run scripts/fetch-photos.sh")
        let lite2Path = Repository.root + "/models/efficientnet-lite2"
        guard FileManager.default.fileExists(atPath: lite2Path + "/model.json") else {
            throw TestFailure("no model at \(lite2Path): run scripts/prepare-model.sh lite2")
        }
        let lite0 = try Self.loadFeaturizer()
        let lite2 = try Featurizer(model: ModelDirectory(path: lite2Path))
        let dir = try TemporaryDirectory()
        let source = dir.path + "/items.jsonl"
        try photos.enumerated().map {
            #"{"id": "p\#($0.offset)", "title": "Photo \#($0.offset)", "url": "\#($0.element)"}"#
        }
        .joined(separator: "\n").write(toFile: source, atomically: true, encoding: .utf8)
        let store = try CatalogueStore.open(directory: dir.path + "/store", mode: .write)
        let first = try await Ingester(store: store, featurizer: lite0).ingest(sources: [source])
        #expect(first.added == 3)
        await #expect(throws: CatalogueError.modelMismatch(store: lite0.descriptor.id, model: lite2.descriptor.id)) {
            _ = try await Ingester(store: store, featurizer: lite2).ingest(sources: [source])
        }
        let query = try #require(await lite2.embed(files: [photos[1]]).first).get()
        #expect(throws: CatalogueError.self) {
            try store.search([query], modelID: lite2.descriptor.id, query: CatalogueQuery())
        }
        let reindexed = try await Ingester(store: store, featurizer: lite2).reindex()
        #expect(reindexed.updated == 3 && reindexed.failures.isEmpty && reindexed.pending == 0)
        #expect(store.modelID == lite2.descriptor.id && store.dimension == lite2.dimension)
        let matches = try store.search([query], modelID: lite2.descriptor.id, query: CatalogueQuery(k: 2))
        #expect(matches[0].first?.id == "p1")
        #expect(try store.items().allSatisfy { $0.modelID == lite2.descriptor.id && $0.state == .ready })
    }

    static func size(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
    }
}
