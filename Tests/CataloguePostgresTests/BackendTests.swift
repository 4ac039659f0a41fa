import Foundation
import Testing
import VSearchCore
import VSearchTesting

@testable import Catalogue
@testable import CataloguePostgres

/// The catalogue contract (``CatalogueBackend``), the same tests against the embedded store and
/// against PostgreSQL with pgvector.
///
/// Serialized: each test has its own store or database, but the machine has two cores shared with
/// the rest of the suite, and a PostgreSQL under load answers no faster.
@Suite(.serialized, PostgresScope()) struct BackendTests {
    @Test(arguments: Backend.allCases) func itemsAndVectorsRoundTrip(_ kind: Backend) async throws {
        let fixture = try await Fixture.make(kind)
        let catalogue = fixture.backend
        #expect(try await catalogue.binding() == nil)
        try await catalogue.bind(modelID: "test/1", dimension: 4, switching: false)
        let binding = try #require(try await catalogue.binding())
        #expect(binding.model == "test/1" && binding.dimension == 4)
        // Values whose every bit must survive: signed zero, a subnormal, large and tiny magnitudes.
        let exact: [Float] = [-0.0, Float.leastNonzeroMagnitude, 1e30, -1.000_000_1e-20]
        let vectors = Samples.vectors(2, dimension: 4, seed: 1)
        try await catalogue.put(
            [
                Samples.staged("10", attributes: #"{"colour":"red","size":3}"#), Samples.staged("9"),
                Samples.staged("b"),
            ],
            vectors: vectors[0] + vectors[1] + exact, onlyNew: false)
        #expect(try await catalogue.count() == 3)
        #expect(try await catalogue.pendingCount() == 0)
        #expect(try await catalogue.items().map(\.id) == ["9", "10", "b"])
        #expect(try await catalogue.items(offset: 1, limit: 1).map(\.id) == ["10"])
        let item = try #require(try await catalogue.item(id: "10"))
        #expect(item.title == "item 10" && item.url == "https://example.com/10.jpg")
        #expect(item.contentHash == "hash-10" && item.modelID == "test/1" && item.state == .ready)
        let attributes = try JSONSerialization.jsonObject(with: Foundation.Data(item.attributes.utf8)) as? NSDictionary
        #expect(attributes == ["colour": "red", "size": 3])
        #expect(try await catalogue.item(id: "nope") == nil)
        let stored = try #require(try await catalogue.vector(ofItem: "b"))
        #expect(stored.map(\.bitPattern) == exact.map(\.bitPattern))
        #expect(try await catalogue.vector(ofItem: "9") == vectors[1])
        #expect(try await catalogue.vector(ofItem: "nope") == nil)

        try await catalogue.updateMetadata(id: "9", title: "nine", url: "https://example.com/9b.jpg", attributes: "{}")
        let renamed = try #require(try await catalogue.item(id: "9"))
        #expect(renamed.title == "nine" && renamed.url == "https://example.com/9b.jpg")
        #expect(try await catalogue.vector(ofItem: "9") == vectors[1])
        await fixture.close()
    }

    @Test(arguments: Backend.allCases) func onlyNewRefusesATakenIDAndAnUpsertReplaces(_ kind: Backend) async throws {
        let fixture = try await Fixture.make(kind, dimension: 3)
        let catalogue = fixture.backend
        let vectors = Samples.vectors(3, dimension: 3, seed: 2)
        try await catalogue.put([Samples.staged("a")], vectors: vectors[0], onlyNew: true)
        let key = try #require(try await catalogue.item(id: "a")).key
        await #expect(throws: CatalogueError.exists(id: "a")) {
            try await catalogue.put([Samples.staged("a", title: "other")], vectors: vectors[1], onlyNew: true)
        }
        // The refused write changed nothing, not even the new item of its batch.
        await #expect(throws: CatalogueError.exists(id: "a")) {
            try await catalogue.put(
                [Samples.staged("c"), Samples.staged("a")], vectors: vectors[2] + vectors[1], onlyNew: true)
        }
        #expect(try await catalogue.item(id: "a")?.title == "item a")
        #expect(try await catalogue.vector(ofItem: "a") == vectors[0])
        #expect(try await catalogue.item(id: "c") == nil)

        try await catalogue.put([Samples.staged("a", title: "replaced")], vectors: vectors[1], onlyNew: false)
        let replaced = try #require(try await catalogue.item(id: "a"))
        #expect(replaced.title == "replaced" && replaced.key == key)
        #expect(try await catalogue.vector(ofItem: "a") == vectors[1])
        await fixture.close()
    }

    @Test(arguments: Backend.allCases) func removeDropsItemsAndTheirVectors(_ kind: Backend) async throws {
        let fixture = try await Fixture.make(kind, dimension: 3)
        let catalogue = fixture.backend
        let vectors = Samples.vectors(3, dimension: 3, seed: 3)
        try await catalogue.put(
            ["a", "b", "c"].map { Samples.staged($0) }, vectors: vectors.flatMap { $0 }, onlyNew: false)
        #expect(try await catalogue.remove(ids: ["zz", "c", "a"]) == ["c", "a"])
        #expect(try await catalogue.items().map(\.id) == ["b"])
        #expect(try await catalogue.vector(ofItem: "a") == nil)
        let found = try await catalogue.search([vectors[0]], modelID: "test/1", query: CatalogueQuery(k: 3))
        #expect(found[0].map(\.id) == ["b"])
        await fixture.close()
    }

    @Test(arguments: Backend.allCases) func rankingAgreesWithBruteForce(_ kind: Backend) async throws {
        let fixture = try await Fixture.make(kind)
        let catalogue = fixture.backend
        let items = try await Samples.fill(catalogue, count: 400, dimension: 24, seed: 4)
        let queries = Samples.vectors(8, dimension: 24, seed: 40)
        let found = try await catalogue.search(queries, modelID: "test/1", query: CatalogueQuery(k: 10))
        var agreeing = 0
        for (query, matches) in zip(queries, found) {
            let truth = Samples.bruteForce(query, items: items, k: 10)
            #expect(matches.count == 10)
            // Every score is the true inner product, whatever the index.
            for match in matches {
                let vector = items.first { $0.id == match.id }!.vector
                let score = Samples.dot(query, vector)
                #expect(abs(match.score - score) < 1e-4, "score of \(match.id)")
            }
            #expect(matches.map(\.score) == matches.map(\.score).sorted(by: >))
            agreeing += Set(matches.map(\.id)).intersection(truth.map(\.0)).count
        }
        // The embedded store searches 400 items exactly (flat); HNSW is approximate, but on 400 items
        // with ef_search 40 it misses almost nothing.
        if kind == .embedded {
            #expect(agreeing == 80)
        } else {
            #expect(agreeing >= 76, "recall@10 \(agreeing)/80")
        }
        await fixture.close()
    }

    /// 1 % of 2,000 items pass the filter. pgvector's HNSW filters after its candidate list, so a
    /// plain query would return only the few red items among the nearest candidates.
    @Test(arguments: Backend.allCases) func aSelectiveFilterStillReturnsKResults(_ kind: Backend) async throws {
        let fixture = try await Fixture.make(kind)
        let catalogue = fixture.backend
        let red = Set((0..<2000).filter { $0 % 100 == 7 }.map { "item-\($0)" })
        let items = try await Samples.fill(catalogue, count: 2000, dimension: 16, seed: 5) { id in
            red.contains(id) ? #"{"colour":"red"}"# : #"{"colour":"blue"}"#
        }
        #expect(red.count == 20)
        let queries = Samples.vectors(5, dimension: 16, seed: 50)
        if kind == .postgres {
            // Without vsearch's second pass, pgvector's HNSW search with its default ef_search
            // returns only the red items among its 40 candidates: fewer than 10. (On 2,000 rows the
            // planner would rather scan them all; a large catalogue takes the index, as forced here.)
            let literal = "'[" + queries[0].map { "\($0)" }.joined(separator: ",") + "]'"
            let plain = try await SharedServer.require().psql(
                """
                SET hnsw.ef_search = 40; SET enable_seqscan = off;
                SELECT count(*) FROM (SELECT id FROM vsearch_items WHERE attributes->>'colour' = 'red'
                ORDER BY vector <#> \(literal) LIMIT 10) AS found
                """, database: fixture.database)
            #expect(Int(plain.trimmingCharacters(in: .whitespacesAndNewlines)).map { $0 < 10 } == true, "\(plain)")
        }
        let filter = [(key: "colour", value: "red")]
        let found = try await PostgresCatalogue.$forcesIndexScan.withValue(true) {
            try await catalogue.search(queries, modelID: "test/1", query: CatalogueQuery(k: 10, filters: filter))
        }
        for (query, matches) in zip(queries, found) {
            #expect(matches.count == 10)
            #expect(matches.allSatisfy { red.contains($0.id) })
            let truth = Samples.bruteForce(query, items: items.filter { red.contains($0.id) }, k: 10)
            #expect(matches.map(\.id) == truth.map(\.0))
        }
        // More asked for than exist: all 20, and no blue ones.
        let all = try await catalogue.search(
            [queries[0]], modelID: "test/1", query: CatalogueQuery(k: 30, filters: filter))
        #expect(Set(all[0].map(\.id)) == red)
        let none = try await catalogue.search(
            [queries[0]], modelID: "test/1", query: CatalogueQuery(k: 5, filters: [(key: "colour", value: "green")]))
        #expect(none[0].isEmpty)
        await fixture.close()
    }

    @Test(arguments: Backend.allCases) func regionsMinScoreAndModelChecks(_ kind: Backend) async throws {
        let fixture = try await Fixture.make(kind, dimension: 3)
        let catalogue = fixture.backend
        try await catalogue.put(
            [Samples.staged("a"), Samples.staged("b"), Samples.staged("c")],
            vectors: Samples.unit([1, 0, 0]) + Samples.unit([0.6, 0.8, 0]) + Samples.unit([0, 0.1, 1]),
            onlyNew: false)
        // The whole view is nearest "a"; a region frames "c" almost exactly, and wins.
        let query = [Samples.unit([1, 0.1, 0]), Samples.unit([0, 0.1, 1])]
        let found = try await catalogue.search(regions: [query], modelID: "test/1", query: CatalogueQuery(k: 2))
        #expect(found[0].map(\.id) == ["c", "a"])
        let close = try await catalogue.search(
            [Samples.unit([1, 0, 0])], modelID: "test/1", query: CatalogueQuery(k: 3, minScore: 0.5))
        #expect(close[0].map(\.id) == ["a", "b"])
        await #expect(throws: CatalogueError.modelMismatch(store: "test/1", model: "other/1")) {
            try await catalogue.search([Samples.unit([1, 0, 0])], modelID: "other/1", query: CatalogueQuery())
        }
        await #expect(throws: CatalogueError.modelMismatch(store: "test/1", model: "other/1")) {
            try await catalogue.bind(modelID: "other/1", dimension: 5, switching: false)
        }
        await #expect(throws: CatalogueError.self) {
            try await catalogue.search([[1, 0]], modelID: "test/1", query: CatalogueQuery())
        }
        // A switch keeps the items and drops every vector until a reindex puts them back.
        try await catalogue.bind(modelID: "other/1", dimension: 5, switching: true)
        #expect(try await catalogue.count() == 3)
        #expect(try await catalogue.pendingCount() == 3)
        #expect(try await catalogue.vector(ofItem: "a") == nil)
        let after = try await catalogue.search(
            [Samples.unit([1, 0, 0, 0, 0])], modelID: "other/1", query: CatalogueQuery(k: 3))
        #expect(after[0].isEmpty)
        await fixture.close()
    }

    /// The ingest's writer: batches land in order (the later of two for one id wins), and after a
    /// failure the rest are dropped and the failure reported. PostgreSQL's writes go through a chain of
    /// tasks rather than the embedded store's thread.
    @Test(arguments: Backend.allCases) func theBatchWriterKeepsOrderAndStopsAtTheFirstFailure(_ kind: Backend)
        async throws
    {
        let fixture = try await Fixture.make(kind, dimension: 3)
        let catalogue = fixture.backend
        let stored = Locked(0)
        let writer = BatchWriter(catalogue: catalogue, depth: 2) { count in stored.withLock { $0 += count } }
        await writer.submit([Samples.staged("a", title: "first")], vectors: Samples.unit([1, 0, 0]), isNew: [true])
        await writer.submit([Samples.staged("a", title: "second")], vectors: Samples.unit([0, 1, 0]), isNew: [false])
        await writer.submit([Samples.staged("b")], vectors: [1, 0], isNew: [true])  // a wrong vector size
        await writer.submit([Samples.staged("c")], vectors: Samples.unit([0, 0, 1]), isNew: [true])
        let result = await writer.finish()
        guard case .failure = result else {
            Issue.record("the writer did not report the failure")
            return
        }
        #expect(stored.withLock { $0 } == 2)
        #expect(try await catalogue.item(id: "a")?.title == "second")
        // The failed batch left no vector: the embedded store keeps its row pending, PostgreSQL rolled it back.
        #expect(try await catalogue.vector(ofItem: "b") == nil)
        #expect(try await catalogue.item(id: "b") == nil || kind == .embedded)
        #expect(try await catalogue.item(id: "c") == nil)
        await fixture.close()
    }

    @Test(arguments: Backend.allCases) func matchEventsKeepTheNewestAndTheTokenMoves(_ kind: Backend) async throws {
        let fixture = try await Fixture.make(kind, dimension: 3)
        let catalogue = fixture.backend
        let before = try await catalogue.changeToken()
        try await catalogue.put([Samples.staged("a")], vectors: Samples.unit([1, 0, 0]), onlyNew: false)
        let after = try await catalogue.changeToken()
        #expect(before != after)
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let events = (0..<5).map { n in
            StoredMatchEvent(
                eventID: "e-\(n)", json: #"{"n":\#(n)}"#, queryJPEG: n == 4 ? [0xFF, 0xD8, 0x00, 0xFF] : nil,
                createdAt: start.addingTimeInterval(Double(n)))
        }
        try await catalogue.saveMatchEvents(Array(events[0..<2]), keepingLast: 3)
        try await catalogue.saveMatchEvents(Array(events[2...]), keepingLast: 3)
        let recent = try await catalogue.recentMatchEvents(limit: 10)
        #expect(recent.map(\.eventID) == ["e-4", "e-3", "e-2"])
        #expect(recent.first == events[4])
        #expect(try await catalogue.recentMatchEvents(limit: 1).map(\.eventID) == ["e-4"])
        await fixture.close()
    }
}
