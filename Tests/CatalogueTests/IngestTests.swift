import Featurizer
import Foundation
import ImageDecoding
import RetrievalEval
import Testing
import VSearchCore
import VSearchTesting

@testable import Catalogue

/// Ingestion over real HTTP from a loopback server, with real photos and the default model.
@Suite(.serialized) struct IngestTests {
    static func loadFeaturizer() throws -> Featurizer {
        try Featurizer(model: ModelDirectory(path: Repository.requireModel()))
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
        routes["/huge-bytes"] = big
        routes["/flaky"] = photos[1]
        routes["/commas/x.jpg"] = photos[2]
        // A URL that never answers has a test of its own (below): with it here, one read timeout
        // would have to be short enough for it and long enough for every photo under any load.
        let server = try await TestServer(routes: routes, slowSeconds: 0, directory: dir.path)
        lines += [
            "Mug, large, red, with a handle, HOST/commas/x.jpg",
            "Gone, HOST/missing/a.jpg",
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
        options.fetch.retries = 1
        options.fetch.backoff = .milliseconds(50)
        options.fetch.maxBytes = Self.size(big) - 1
        let storePath = dir.path + "/store"
        let summary: IngestSummary
        do {
            let store = try CatalogueStore.open(directory: storePath, mode: .write)
            summary = try await Ingester(store: store, featurizer: featurizer, options: options)
                .ingest(sources: [seed, extra])
            // The ingest's tasks may still hold the store for a moment; closing releases the writer
            // lock now, rather than at the last release, so the reopen below never finds it busy.
            store.close()
        }
        #expect(summary.added == 7, "failures: \(summary.failures.map { "\($0.id ?? "?"): \($0.reason)" })")
        let reasons = Dictionary(
            summary.failures.map { ($0.id ?? "?", $0.reason) }, uniquingKeysWith: { a, b in a + b })
        #expect(reasons["6"]?.contains("HTTP 404") == true)
        #expect(reasons["7"]?.contains("not a usable image") == true)
        #expect(reasons["8"]?.contains("limit") == true)
        #expect(reasons["9"]?.contains("not a usable image") == true)
        #expect(reasons["0"]?.contains("duplicate id") == true)
        #expect(summary.failures.count == 5)
        let report = try String(contentsOfFile: try #require(summary.reportPath), encoding: .utf8)
        #expect(report.split(separator: "\n").count == 5)

        let store = try CatalogueStore.open(directory: storePath, mode: .write)
        #expect(try store.item(id: "5")?.title == "Mug, large, red, with a handle")
        #expect(try store.item(id: "0")?.state == .ready)
        #expect(try store.count() == 7)
        // The missing URL was tried once, the flaky one twice (one retry).
        let counts = try server.requestCounts()
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

    /// A photo URL that never answers fails with "timed out" after one retry.
    @Test func aURLThatNeverAnswersTimesOutAndIsTriedTwice() async throws {
        let photos = Repository.photoFiles().filter { $0.hasSuffix(".jpg") }
        try #require(photos.count >= 1, "need real photos in \(Repository.photos): run scripts/fetch-photos.sh")
        let featurizer = try Self.loadFeaturizer()
        let dir = try TemporaryDirectory()
        // `/slow` answers only after the test has ended (the server is killed first), so the
        // timeout must fire whatever the machine's load: this test does not race the clock.
        let server = try await TestServer(routes: ["/slow": photos[0]], slowSeconds: 3600, directory: dir.path)
        let seed = dir.path + "/sample-data.txt"
        try "Slow, \(server.base)/slow/a.jpg\n".write(toFile: seed, atomically: true, encoding: .utf8)
        var options = IngestOptions()
        options.fetch.readTimeout = .milliseconds(500)
        options.fetch.retries = 1
        options.fetch.backoff = .milliseconds(50)
        let store = try CatalogueStore.open(directory: dir.path + "/store", mode: .write)
        let summary = try await Ingester(store: store, featurizer: featurizer, options: options)
            .ingest(sources: [seed])
        #expect(summary.added == 0)
        #expect(summary.failures.count == 1)
        #expect(summary.failures.first?.id == "0")
        #expect(summary.failures.first?.reason.contains("timed out") == true)
        // The client gives up before a starved server may even have read the request; wait for the
        // server to have seen both attempts, and no third.
        try await waitUntilCount(reaches: 2) { (try? server.requestCounts()["/slow/a.jpg"] ?? 0) ?? 0 }
        #expect(try server.requestCounts()["/slow/a.jpg"] == 2)
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

    @Test func aSourceGivenAsAURLIsDownloadedAndItsRelativeURLsFollowIt() async throws {
        let photos = Repository.photoFiles().filter { $0.hasSuffix(".jpg") }
        try #require(photos.count >= 3, "need real photos in \(Repository.photos): run scripts/fetch-photos.sh")
        let featurizer = try Self.loadFeaturizer()
        let dir = try TemporaryDirectory()
        let metadata = dir.path + "/metadata.json"
        try #"[{"id": "a", "title": "A", "url": "img/a.jpg"}, {"id": "b", "title": "B", "url": "/shop/b.jpg"}]"#
            .write(toFile: metadata, atomically: true, encoding: .utf8)
        let csv = dir.path + "/items.csv"
        try "id,title,url,shelf\nc,\"C, with a comma\",c.jpg,3\n".write(
            toFile: csv, atomically: true, encoding: .utf8)
        let big = dir.path + "/big.jsonl"
        try String(repeating: #"{"id": "x", "url": "x.jpg"}"# + "\n", count: 200)
            .write(toFile: big, atomically: true, encoding: .utf8)
        let server = try await TestServer(
            routes: [
                "/cat/metadata.json": metadata, "/cat/img/a.jpg": photos[0], "/shop/b.jpg": photos[1],
                "/cat/items.csv": csv, "/cat/big.jsonl": big, "/cat/c.jpg": photos[2],
            ], slowSeconds: 0, directory: dir.path)
        var options = IngestOptions()
        options.fetch.maxSourceBytes = 4096
        let store = try CatalogueStore.open(directory: dir.path + "/store", mode: .write)
        let sources = ["metadata.json", "items.csv", "missing.json", "big.jsonl"].map { server.base + "/cat/" + $0 }
        let summary = try await Ingester(store: store, featurizer: featurizer, options: options)
            .ingest(sources: sources)
        #expect(summary.added == 3)
        #expect(try store.item(id: "a")?.url == server.base + "/cat/img/a.jpg")
        #expect(try store.item(id: "b")?.url == server.base + "/shop/b.jpg")
        #expect(try store.item(id: "c")?.title == "C, with a comma")
        #expect(try store.item(id: "c")?.attributes == #"{"shelf":"3"}"#)
        let reasons = summary.failures.map { "\($0.source): \($0.reason)" }
        #expect(reasons.count == 2)
        #expect(reasons.contains { $0.contains("missing.json") && $0.contains("HTTP 404") })
        #expect(reasons.contains { $0.contains("big.jsonl") && $0.contains("limit") })
    }

    @Test func anHNSWStoreFindsTheSameFirstMatchAsAFlatOneOnRealPhotos() async throws {
        let photos = Repository.photoFiles()
        try #require(photos.count >= 20, "need real photos in \(Repository.photos): run scripts/fetch-photos.sh")
        let featurizer = try Self.loadFeaturizer()
        let vectors = try await featurizer.embed(files: photos).map { try $0.get() }
        let staged = photos.enumerated().map { n, path in
            StagedItem(id: "p\(n)", title: path, url: path, attributes: "{}", contentHash: "h\(n)")
        }
        // Queries: camera-like distortions of every photo, so that the first match is not trivially exact.
        var generator = SeededGenerator(seed: 11)
        let decoder = ImageDecoder()
        var queryImages: [Image] = []
        for path in photos {
            let image = try decoder.decode(file: path, targetShortSide: 256)
            queryImages.append(
                try QueryDistortion.random(kinds: [.crop, .rotate, .colour], using: &generator).apply(to: image))
        }
        let queries = try featurizer.features(queryImages)

        let dir = try TemporaryDirectory()
        let flat = try CatalogueStore.open(directory: dir.path + "/flat", mode: .write)
        try flat.setIndexChoice(IndexChoice(kind: .flat))
        try flat.bind(modelID: featurizer.descriptor.id, dimension: featurizer.dimension)
        try flat.put(staged, vectors: vectors.flatMap { $0 })
        #expect(try !flat.conformIndex() && flat.indexKind == .flat)

        let automatic = dir.path + "/auto"
        do {
            let store = try CatalogueStore.open(directory: automatic, mode: .write)
            try store.setIndexChoice(IndexChoice(kind: .auto, autoThreshold: 10))
            try store.bind(modelID: featurizer.descriptor.id, dimension: featurizer.dimension)
            try store.put(Array(staged.prefix(5)), vectors: vectors.prefix(5).flatMap { $0 })
            #expect(try !store.conformIndex() && store.indexKind == .flat)
            try store.put(Array(staged.dropFirst(5)), vectors: vectors.dropFirst(5).flatMap { $0 })
            #expect(try store.conformIndex() && store.indexKind == .hnsw)
        }
        let hnsw = try CatalogueStore.open(directory: automatic, mode: .read)
        #expect(hnsw.indexKind == .hnsw && hnsw.index?.count == photos.count)
        let query = CatalogueQuery(k: 3)
        let exact = try flat.search(queries, modelID: featurizer.descriptor.id, query: query)
        let approximate = try hnsw.search(queries, modelID: featurizer.descriptor.id, query: query)
        for (flatMatches, hnswMatches) in zip(exact, approximate) {
            let best = try #require(flatMatches.first)
            let found = try #require(hnswMatches.first)
            #expect(abs(found.score - best.score) < 1e-5)
            // Two demo photos (the chessboards) have identical pixels: either may come first.
            let tied = flatMatches.filter { abs($0.score - best.score) < 1e-5 }.map(\.id)
            #expect(tied.contains(found.id), "HNSW found \(found.id), exact search \(tied)")
        }
        let selfMatches = exact.enumerated().count { n, matches in matches.first?.id == "p\(n)" }
        #expect(selfMatches >= photos.count - 4)
    }

    @Test func anInterruptedIndexSwapIsFinishedOrDiscardedOnOpening() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path + "/store"
        let vectors: [Float] = [1, 0, 0, 0, 1, 0]
        let staged = ["a", "b"].map {
            StagedItem(id: $0, title: $0, url: "/\($0).png", attributes: "{}", contentHash: $0)
        }
        do {
            let store = try CatalogueStore.open(directory: path, mode: .write)
            try store.setIndexChoice(IndexChoice(kind: .hnsw))
            try store.bind(modelID: "test/1", dimension: 3)
            try store.put(staged, vectors: vectors)
            #expect(store.indexKind == .hnsw)
        }
        // A crash between the swap's two renames: only index.next/ is there.
        try FileManager.default.moveItem(atPath: path + "/index", toPath: path + "/index.next")
        do {
            let store = try CatalogueStore.open(directory: path, mode: .write)
            #expect(store.indexKind == .hnsw && store.index?.count == 2)
            #expect(try store.pendingCount() == 0)
        }
        // A crash while building: a half-written index.next/ beside the index is dropped.
        try FileManager.default.createDirectory(atPath: path + "/index.next", withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: path + "/index.next/index.vsi", contents: Data([1, 2, 3])))
        let store = try CatalogueStore.open(directory: path, mode: .write)
        #expect(!FileManager.default.fileExists(atPath: path + "/index.next"))
        #expect(store.index?.count == 2)
        // Back to flat on request, with the same vectors.
        try store.setIndexChoice(IndexChoice(kind: .flat))
        #expect(try store.conformIndex() && store.indexKind == .flat && store.index?.count == 2)
        let found = try store.search([[1, 0, 0]], modelID: "test/1", query: CatalogueQuery(k: 1))
        #expect(found[0].first?.id == "a")
    }

    static func size(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
    }
}
