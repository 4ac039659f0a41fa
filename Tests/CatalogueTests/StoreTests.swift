import Foundation
import GRDB
import Testing
import VSearchCore
import VSearchTesting
import VectorIndex

@testable import Catalogue

@Suite(.offThePool) struct StoreTests {
    static func staged(_ id: String, title: String = "item") -> StagedItem {
        StagedItem(
            id: id, title: title, url: "/img/\(id).png", attributes: #"{"colour":"\#(id == "a" ? "red" : "blue")"}"#,
            contentHash: "h-\(id)")
    }

    static func unit(_ values: [Float]) -> [Float] {
        let norm = values.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return values.map { $0 / norm }
    }

    @Test func putSearchFilterRemoveAndReopen() throws {
        let dir = try TemporaryDirectory()
        do {
            let store = try CatalogueStore.open(directory: dir.path, mode: .write)
            try store.bind(modelID: "test/1", dimension: 3)
            try store.put(
                [Self.staged("a"), Self.staged("b"), Self.staged("c")],
                vectors: Self.unit([1, 0, 0]) + Self.unit([0.9, 0.1, 0]) + Self.unit([0, 0, 1]))
            let results = try store.search([Self.unit([1, 0, 0])], modelID: "test/1", query: CatalogueQuery(k: 2))
            #expect(results[0].map(\.id) == ["a", "b"])
            let blue = try store.search(
                [Self.unit([1, 0, 0])], modelID: "test/1",
                query: CatalogueQuery(k: 4, filters: [(key: "colour", value: "blue")]))
            #expect(blue[0].map(\.id) == ["b", "c"])
            let close = try store.search(
                [Self.unit([1, 0, 0])], modelID: "test/1", query: CatalogueQuery(k: 4, minScore: 0.5))
            #expect(close[0].map(\.id) == ["a", "b"])
            #expect(try store.remove(ids: ["b", "zz"]) == ["b"])
        }
        let reader = try CatalogueStore.open(directory: dir.path, mode: .read)
        let after = try reader.search([Self.unit([1, 0, 0])], modelID: "test/1", query: CatalogueQuery(k: 4))
        #expect(after[0].map(\.id) == ["a", "c"])
        #expect(throws: CatalogueError.self) {
            try reader.search([Self.unit([1, 0, 0])], modelID: "other/1", query: CatalogueQuery())
        }
    }

    @Test func aQueryOfSeveralVectorsRanksEachItemByItsBestVector() throws {
        let dir = try TemporaryDirectory()
        let store = try CatalogueStore.open(directory: dir.path, mode: .write)
        try store.bind(modelID: "test/1", dimension: 3)
        try store.put(
            [Self.staged("a"), Self.staged("b"), Self.staged("c")],
            vectors: Self.unit([1, 0, 0]) + Self.unit([0.6, 0.8, 0]) + Self.unit([0, 0.1, 1]))
        // The whole view is nearest "a"; a region frames "c" almost exactly, and wins.
        let query = [Self.unit([1, 0.1, 0]), Self.unit([0, 0.1, 1])]
        let found = try store.search(regions: [query], modelID: "test/1", query: CatalogueQuery(k: 2))
        #expect(found[0].map(\.id) == ["c", "a"])
        #expect(abs((found[0].first?.score ?? 0) - 1) < 1e-5)
        // Each item once, with its best score; filters and k apply to the merged list.
        let all = try store.search(
            regions: [query, [Self.unit([0, 1, 0])]], modelID: "test/1", query: CatalogueQuery(k: 5))
        #expect(all[0].map(\.id) == ["c", "a", "b"])
        #expect(all[1].first?.id == "b")
        let blue = try store.search(
            regions: [query], modelID: "test/1", query: CatalogueQuery(k: 5, filters: [(key: "colour", value: "blue")]))
        #expect(blue[0].map(\.id) == ["c", "b"])
    }

    /// The blend recipe's windows repeat the picture's plain part (the first two components here):
    /// telling the store so changes how the index scores them, not what it finds.
    @Test func windowsThatShareAPrefixFindWhatTheyFindScoredInFull() throws {
        let dir = try TemporaryDirectory()
        let store = try CatalogueStore.open(directory: dir.path, mode: .write)
        try store.bind(modelID: "test/1", dimension: 4)
        let ids = (0..<40).map { "item-\($0)" }
        var vectors: [Float] = []
        for i in 0..<40 {
            let angle = Float(i) / 7
            vectors += Self.unit([cos(angle), sin(angle), Float(i % 5) / 4, Float(i % 3) / 2 + 0.1])
        }
        try store.put(ids.map { Self.staged($0) }, vectors: vectors)
        func windows(plain: [Float], tails: [[Float]]) -> [[Float]] {
            tails.map { Self.unit(plain.map { $0 * 0.4 } + $0.map { $0 * 0.6 }) }
        }
        let pictures = [
            windows(plain: Self.unit([1, 0.2]), tails: [[1, 0], [0.2, 1], [0.7, 0.7]]),
            windows(plain: Self.unit([0.1, 1]), tails: [[0, 1], [1, 0.3]]),
        ]
        let full = try store.search(regions: pictures, modelID: "test/1", query: CatalogueQuery(k: 6))
        let shared = try store.search(
            regions: pictures, modelID: "test/1", query: CatalogueQuery(k: 6, sharedPrefix: 2))
        #expect(full.map { $0.map(\.id) } == shared.map { $0.map(\.id) })
        #expect(full[0].count == 6 && full[1].count == 6)
        for (a, b) in zip(full.flatMap { $0 }, shared.flatMap { $0 }) { #expect(abs(a.score - b.score) < 1e-5) }
    }

    /// A checked search asks each vector for twice the candidates it checks, so the fused score reorders a
    /// pool larger than what it keeps; a larger `k` asks for `k`, and an unchecked search for `k` alone.
    @Test func aCheckedSearchAsksEachVectorForTwiceItsCandidates() {
        let check = CandidateCheck(spec: VerificationSpec(candidates: 10), plainWeight: 0.4)
        #expect(CatalogueQuery(k: 5, check: check).hitsPerVector == 20)
        #expect(CatalogueQuery(k: 50, check: check).hitsPerVector == 50)
        #expect(CatalogueQuery(k: 5).hitsPerVector == 5)
    }

    /// The store merges a picture's vectors on the index's hits and reads only the items that can
    /// still be among the best; the result is the merge of every vector's matches, ties (items with
    /// the same vector) broken by id, the window penalty and the score floor applied after it.
    @Test func mergingTheHitsFindsWhatMergingEveryMatchFinds() throws {
        let dir = try TemporaryDirectory()
        let store = try CatalogueStore.open(directory: dir.path, mode: .write)
        try store.bind(modelID: "test/1", dimension: 4)
        // 60 items on 20 distinct vectors, listed out of id order, so every score is a three-way tie.
        let ids = (0..<60).map { "item-\((37 * $0) % 60)" }
        var vectors: [Float] = []
        for i in 0..<60 {
            let angle = Float(i % 20) / 3
            vectors += Self.unit([cos(angle), sin(angle), Float(i % 20 % 4) / 3, 0.5])
        }
        try store.put(ids.map { Self.staged($0) }, vectors: vectors)
        var pictures: [[[Float]]] = []
        for p in 0..<3 {
            var windows: [[Float]] = []
            for w in 0..<5 {
                let values: [Float] = [Float(w) - 2, Float(p) + 0.3, Float(w % 2), Float(p % 2)]
                windows.append(Self.unit(values))
            }
            pictures.append(windows)
        }
        let queries: [CatalogueQuery] = [
            CatalogueQuery(k: 4), CatalogueQuery(k: 5, windowPenalty: 0.05),
            CatalogueQuery(k: 7, minScore: 0.6, windowPenalty: 0.02),
        ]
        for query in queries {
            var unfloored = query
            unfloored.minScore = nil
            let each = try store.search(pictures.flatMap { $0 }, modelID: "test/1", query: unfloored)
            let expected: [[CatalogueMatch]] = query.mergeRegions(each, sizes: pictures.map { $0.count })
            let found: [[CatalogueMatch]] = try store.search(regions: pictures, modelID: "test/1", query: query)
            #expect(found == expected)
            #expect(found.allSatisfy { !$0.isEmpty })
        }
    }

    @Test func aSecondWriterIsRefused() throws {
        let dir = try TemporaryDirectory()
        let first = try CatalogueStore.open(directory: dir.path, mode: .write)
        #expect(throws: CatalogueError.busy(path: dir.path)) {
            _ = try CatalogueStore.open(directory: dir.path, mode: .write)
        }
        _ = first
    }

    /// Closing hands the writer lock on at once, while the closed store is still referenced, and
    /// the closed store refuses to write (it no longer holds the lock) but still reads.
    @Test func closeReleasesTheWriterLockAndEndsWriting() throws {
        let dir = try TemporaryDirectory()
        let first = try CatalogueStore.open(directory: dir.path, mode: .write)
        try first.bind(modelID: "test/1", dimension: 3)
        try first.put([Self.staged("a")], vectors: Self.unit([1, 0, 0]))
        first.close()
        let second = try CatalogueStore.open(directory: dir.path, mode: .write)
        #expect(throws: CatalogueError.store(path: dir.path, reason: "the store is closed")) {
            try first.put([Self.staged("b")], vectors: Self.unit([0, 1, 0]))
        }
        #expect(try first.item(id: "a") != nil)
        try second.put([Self.staged("c")], vectors: Self.unit([0, 0, 1]))
        #expect(try second.count() == 2)
        first.close()  // a second close does nothing
    }

    @Test func anotherModelIsRefusedUntilSwitchingWhichMarksEverythingPending() throws {
        let dir = try TemporaryDirectory()
        let store = try CatalogueStore.open(directory: dir.path, mode: .write)
        try store.bind(modelID: "test/1", dimension: 3)
        try store.put([Self.staged("a")], vectors: Self.unit([1, 0, 0]))
        #expect(throws: CatalogueError.modelMismatch(store: "test/1", model: "test/2")) {
            try store.bind(modelID: "test/2", dimension: 5)
        }
        try store.bind(modelID: "test/2", dimension: 5, switching: true)
        #expect(try store.pendingCount() == 1)
        #expect(store.index?.count == 0)
        #expect(store.dimension == 5)
        // Refused although the store has no vectors to search yet: the query's model is not the store's.
        #expect(throws: CatalogueError.modelMismatch(store: "test/2", model: "test/1")) {
            try store.search([Self.unit([1, 0, 0, 0, 0])], modelID: "test/1", query: CatalogueQuery(k: 1))
        }
    }

    @Test func withoutARecordedChoiceTheIndexSwitchesAtTheIngestsDefault() throws {
        let dir = try TemporaryDirectory()
        let store = try CatalogueStore.open(directory: dir.path, mode: .write)
        try store.bind(modelID: "test/1", dimension: 3)
        try store.put(
            (0..<12).map { Self.staged("item-\($0)") }, vectors: (0..<12).flatMap { Self.unit([Float($0 + 1), 1, 0]) })
        #expect(try !store.conformIndex(defaultThreshold: 20) && store.indexKind == .flat)
        #expect(try store.conformIndex(defaultThreshold: 12) && store.indexKind == .hnsw)
        #expect(try store.indexChoice(defaultThreshold: 12) == IndexChoice(kind: .auto, autoThreshold: 12))
        // A recorded choice wins over the default.
        try store.setIndexChoice(IndexChoice(kind: .auto, autoThreshold: 100))
        #expect(try store.conformIndex(defaultThreshold: 12) && store.indexKind == .flat)
        #expect(
            try store.search([Self.unit([12, 1, 0])], modelID: "test/1", query: CatalogueQuery(k: 1))[0][0].id
                == "item-11")
    }

    @Test func pendingItemsAreCountedFromTheStateIndexWithoutReadingAllOfIt() throws {
        let dir = try TemporaryDirectory()
        let store = try CatalogueStore.open(directory: dir.path, mode: .write)
        try store.bind(modelID: "test/1", dimension: 3)
        try store.put([Self.staged("a"), Self.staged("b")], vectors: Self.unit([1, 0, 0]) + Self.unit([0, 1, 0]))
        #expect(try store.pendingCount() == 0)
        try store.write { db in try db.execute(sql: "UPDATE item SET state = 'pending' WHERE id = 'a'") }
        #expect(try store.pendingCount() == 1)
        // Every unfiltered search asks: a plan that scans grows with the catalogue, a search of the index does not.
        let plan = try store.read { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + CatalogueStore.pendingCountSQL).map {
                $0["detail"] as String
            }
        }
        #expect(plan.contains { $0.hasPrefix("SEARCH item USING COVERING INDEX item_state") }, "\(plan)")
        #expect(!plan.contains { $0.hasPrefix("SCAN") }, "\(plan)")
    }

    @Test func reopeningReconcilesPendingRowsAndStrayVectors() throws {
        let dir = try TemporaryDirectory()
        do {
            let store = try CatalogueStore.open(directory: dir.path, mode: .write)
            try store.bind(modelID: "test/1", dimension: 3)
            try store.put([Self.staged("a"), Self.staged("b")], vectors: Self.unit([1, 0, 0]) + Self.unit([0, 1, 0]))
            // As if a crash came between the steps of an update and of a removal.
            try store.write { db in try db.execute(sql: "UPDATE item SET state = 'pending' WHERE id = 'a'") }
            try store.write { db in try db.execute(sql: "DELETE FROM item WHERE id = 'b'") }
        }
        let store = try CatalogueStore.open(directory: dir.path, mode: .write)
        #expect(try store.pendingCount() == 1)
        #expect(store.index?.count == 0)
        let results = try store.search([Self.unit([1, 0, 0])], modelID: "test/1", query: CatalogueQuery(k: 4))
        #expect(results[0].isEmpty)
    }

    @Test func itemsListNumericIdsInNumberOrderThenTheRest() throws {
        let dir = try TemporaryDirectory()
        let store = try CatalogueStore.open(directory: dir.path, mode: .write)
        try store.bind(modelID: "test/1", dimension: 3)
        let ids = ["10", "b", "2", "a", "1x"]
        try store.put(ids.map { Self.staged($0) }, vectors: ids.flatMap { _ in Self.unit([1, 1, 1]) })
        #expect(try store.items().map(\.id) == ["2", "10", "1x", "a", "b"])
    }

    @Test func theBatchWriterStoresInOrderAndStopsAtTheFirstFailure() async throws {
        let dir = try TemporaryDirectory()
        let store = try CatalogueStore.open(directory: dir.path, mode: .write)
        try store.bind(modelID: "test/1", dimension: 3)
        let counter = WrittenCounter()
        let writer = BatchWriter(store: store, depth: 1) { counter.add($0) }
        // The same id twice: the later batch must win, as it came later.
        await writer.submit([Self.staged("a", title: "first")], vectors: Self.unit([1, 0, 0]), isNew: [true])
        await writer.submit([Self.staged("a", title: "second")], vectors: Self.unit([0, 1, 0]), isNew: [false])
        await writer.submit([Self.staged("b")], vectors: [1, 0], isNew: [true])  // a wrong vector size
        await writer.submit([Self.staged("c")], vectors: Self.unit([0, 0, 1]), isNew: [true])
        let result = await writer.finish()
        guard case .failure(let error) = result else {
            Issue.record("the writer did not report the failure")
            return
        }
        #expect(error.description.contains("index"))
        #expect(counter.total == 2)
        #expect(try store.item(id: "a")?.title == "second")
        #expect(try store.item(id: "c") == nil)
        let found = try store.search([Self.unit([0, 1, 0])], modelID: "test/1", query: CatalogueQuery(k: 1))
        #expect(found[0].first?.id == "a")
    }
}

/// Counts what a writer reports stored, from its thread.
private final class WrittenCounter: Sendable {
    private let count = Locked(0)

    func add(_ n: Int) { count.withLock { $0 += n } }
    var total: Int { count.withLock { $0 } }
}
