import Foundation
import Testing
import VSearchTesting

@testable import Catalogue

#if canImport(Glibc)
    import Glibc
#endif

/// The built `vsearch` binary end to end: an ingest killed midway resumes to a complete,
/// consistent store, and `search --json` agrees with a brute-force search over `embed` vectors.
@Suite(.serialized) struct BinaryTests {
    /// Every ready row has its vector, the index holds nothing else, and nothing is pending.
    static func checkConsistent(_ store: CatalogueStore) throws -> Int {
        let items = try store.items()
        let index = try #require(store.index)
        let ready = items.filter { $0.state == .ready }
        for item in ready { #expect(index.contains(id: UInt64(bitPattern: item.key)), "\(item.id) has no vector") }
        #expect(index.count == ready.count)
        return ready.count
    }

    /// Thirty-two copies of every real photo under distinct names, so that even a release build
    /// takes long enough to ingest that the test can kill it midway. Hard links where the file
    /// system allows them: the copies cost no space.
    static func copies(of photos: [String], in directory: String) throws -> [String] {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var files: [String] = []
        for copy in 0..<32 {
            for photo in photos {
                let file = directory + "/\(copy)-" + URL(fileURLWithPath: photo).lastPathComponent
                if (try? FileManager.default.linkItem(atPath: photo, toPath: file)) == nil {
                    try FileManager.default.copyItem(atPath: photo, toPath: file)
                }
                files.append(file)
            }
        }
        return files
    }

    @Test func killedIngestResumesToACompleteConsistentStore() async throws {
        let vsearch = try Repository.binary()
        let photos = Repository.photoFiles()
        try #require(photos.count >= 20, "need real photos in \(Repository.photos): run scripts/fetch-photos.sh")
        let dir = try TemporaryDirectory()
        let copies = try Self.copies(of: photos, in: dir.path + "/photos")
        let store = dir.path + "/store"
        let arguments = [
            "ingest", "--store", store, "--model", Repository.model, "--batch", "1", "--concurrency", "1",
            dir.path + "/photos",
        ]

        // Kill the ingest once some items are stored, while it is still writing.
        let child = Process()
        child.executableURL = URL(fileURLWithPath: vsearch)
        child.arguments = arguments
        child.standardError = FileHandle.nullDevice
        try child.run()
        // Watched from a thread of its own, so the kill follows the second stored item at once,
        // however busy the rest of the suite keeps Swift's cooperative pool.
        let watched = SendableProcess(child)
        let watch = try await onOwnThread { () -> (ready: Int, searched: [Int], lastError: String?) in
            var ready = 0
            var searched: [Int] = []
            var lastError: String?
            while watched.value.isRunning {
                do {
                    let counter = try CatalogueStore.open(directory: store, mode: .read)
                    ready = try counter.items().filter { $0.state == .ready }.count
                    // A reader searches while the writer ingests. It is opened after the count: a
                    // reader's index is the one on disk when it opens, while its SQLite reads are
                    // live, so a reader opened before the count could know of a ready item whose
                    // vector its index does not hold. (An item's vector is logged before it is ready.)
                    let reader = try CatalogueStore.open(directory: store, mode: .read)
                    if ready > 0, let model = reader.modelID, let dimension = reader.dimension {
                        let probe = [Float(1)] + [Float](repeating: 0, count: dimension - 1)
                        searched.append(
                            try reader.search([probe], modelID: model, query: CatalogueQuery(k: 1))[0].count)
                    }
                    if ready >= 2 {
                        kill(watched.value.processIdentifier, SIGKILL)
                        break
                    }
                } catch {
                    lastError = "\(error)"
                }
                usleep(10_000)
            }
            return (ready, searched, lastError)
        }
        try await child.exited()
        #expect(
            child.terminationReason == .uncaughtSignal,
            "the ingest finished before it could be killed; the reader's last error: \(watch.lastError ?? "none")")
        #expect(watch.searched.allSatisfy { $0 == 1 })
        let readyBeforeKill = watch.ready
        #expect(readyBeforeKill >= 2)

        // Reopening reconciles; every ready item has exactly one vector.
        do {
            let reopened = try CatalogueStore.open(directory: store, mode: .write)
            let ready = try Self.checkConsistent(reopened)
            #expect(ready >= readyBeforeKill)
            #expect(ready < copies.count)
        }

        // The re-run completes the store.
        let rerun = try await runProcess(vsearch, arguments)
        #expect(rerun.status == 0, "\(rerun.error)")
        let complete = try CatalogueStore.open(directory: store, mode: .write)
        #expect(try complete.pendingCount() == 0)
        #expect(try Self.checkConsistent(complete) == copies.count)
        let expectedIDs = Set(copies.map { URL(fileURLWithPath: $0).deletingPathExtension().lastPathComponent })
        #expect(Set(try complete.items().map(\.id)) == expectedIDs)
    }

    @Test func searchAgreesWithBruteForceOverEmbedVectors() async throws {
        let vsearch = try Repository.binary()
        let photos = Repository.photoFiles()
        try #require(photos.count >= 20, "need real photos in \(Repository.photos): run scripts/fetch-photos.sh")
        let dir = try TemporaryDirectory()
        let store = dir.path + "/store"
        let ingest = try await runProcess(
            vsearch,
            [
                "ingest", "--store", store, "--model", Repository.model, Repository.photos + "/skimage",
                Repository.photos + "/mate",
            ])
        #expect(ingest.status == 0, "\(ingest.error)")
        let complete = try CatalogueStore.open(directory: store, mode: .read)
        let total = try Self.checkConsistent(complete)
        let ids = Set(try complete.items().map(\.id))

        // Brute force over `vsearch embed` vectors.
        let embedded = try await runProcess(vsearch, ["embed", "--model", Repository.model] + photos)
        var vectors: [String: [Float]] = [:]
        for line in embedded.output.split(separator: "\n") {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let path = try #require(object["image"] as? String)
            let vector = try #require(object["vector"] as? [Double]).map(Float.init)
            vectors[URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent] = vector
        }
        #expect(Set(vectors.keys) == ids)
        #expect(total == ids.count)
        let queries = [photos[0], photos[photos.count / 2], photos[photos.count - 1]]
        let searched = try await runProcess(
            vsearch, ["search", "--store", store, "--model", Repository.model, "--json", "-k", "4"] + queries)
        #expect(searched.status == 0, "\(searched.error)")
        let answers = searched.output.split(separator: "\n")
        #expect(answers.count == queries.count)
        for (query, answer) in zip(queries, answers) {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(answer.utf8)) as? [String: Any])
            #expect(object["query"] as? String == query)
            let results = try #require(object["results"] as? [[String: Any]])
            let queryVector = try #require(
                vectors[URL(fileURLWithPath: query).deletingPathExtension().lastPathComponent])
            let expected = vectors.map { id, vector in
                (id, zip(queryVector, vector).reduce(Float(0)) { $0 + $1.0 * $1.1 })
            }.sorted { $0.1 > $1.1 }.prefix(4)
            #expect(results.compactMap { $0["id"] as? String } == expected.map(\.0))
            for (result, (_, score)) in zip(results, expected) {
                let got = try #require(result["score"] as? Double)
                #expect(abs(Float(got) - score) < 1e-4)
                #expect(result["title"] is String && result["url"] is String)
            }
        }
    }

    @Test func everyErrorIsOneLineStartingWithVsearch() async throws {
        let vsearch = try Repository.binary()
        let dir = try TemporaryDirectory()
        let cases: [[String]] = [
            ["search"],
            ["search", "-k", "0", "x.jpg"],
            ["frobnicate"],
            ["search", "--store", dir.path + "/none", "--model", Repository.model, "x.jpg"],
            ["index", "build", "--vectors", dir.path + "/missing.npy", "--out", dir.path + "/idx"],
            ["ingest", "--store", dir.path + "/s", "--model", dir.path + "/no-model", dir.path],
            ["eval", "--photos", dir.path, "--store", dir.path],
        ]
        for arguments in cases {
            let result = try await runProcess(vsearch, arguments)
            #expect(result.status != 0, "\(arguments)")
            let lines = result.error.split(separator: "\n")
            #expect(lines.count == 1, "\(arguments): \(result.error)")
            #expect(lines.first?.hasPrefix("vsearch: ") == true, "\(arguments): \(result.error)")
        }
    }
}
