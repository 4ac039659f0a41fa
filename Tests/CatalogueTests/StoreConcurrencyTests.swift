import Foundation
import Testing
import VSearchCore
import VSearchTesting
import VectorIndex

@testable import Catalogue

/// One store shared by many tasks of one process; ThreadSanitizer runs this suite in CI.
@Suite(.offThePool) struct StoreConcurrencyTests {
    static func vector(_ n: Int, dimension: Int = 8) -> [Float] {
        var values = (0..<dimension).map { Float(($0 * 7 + n * 13) % 17) + 1 }
        let norm = values.reduce(0) { $0 + $1 * $1 }.squareRoot()
        for i in values.indices { values[i] /= norm }
        return values
    }

    /// `flock` on one descriptor does not exclude two threads of one process; the file lock's
    /// mutex must. Counts how many threads are inside at once.
    @Test func theFileLockExcludesThreadsOfOneProcess() throws {
        let dir = try TemporaryDirectory()
        let lock = try FileLock(path: dir.path + "/test.lock")
        let inside = Locked((now: 0, most: 0))
        // Threads of their own, not libdispatch's, which are also the cooperative pool every test shares.
        WorkerThreads.forEach(64, threads: 8) { _ in
            lock.withExclusive {
                inside.withLock {
                    $0.now += 1
                    $0.most = max($0.most, $0.now)
                }
                usleep(200)
                inside.withLock { $0.now -= 1 }
            }
        }
        #expect(inside.withLock { $0.most } == 1)
    }

    /// Writers, searches and index-kind switches from many threads at once: afterwards every
    /// item is ready with its vector, and the index holds exactly the items.
    @Test func writesSearchesAndIndexSwitchesFromManyThreadsAtOnce() throws {
        let dir = try TemporaryDirectory()
        let store = try CatalogueStore.open(directory: dir.path, mode: .write)
        // A tiny auto threshold, so the index switches between flat and HNSW while items come and go.
        try store.setIndexChoice(IndexChoice(kind: .auto, autoThreshold: 40))
        let failures = Locked<[String]>([])
        WorkerThreads.forEach(8, threads: 8) { worker in
            do {
                // Every worker binds: only the first may create the index; later binds see it.
                try store.bind(modelID: "test/1", dimension: 8)
                for n in 0..<20 {
                    let id = "w\(worker)-\(n)"
                    try store.put(
                        [StagedItem(id: id, title: id, url: "/x", attributes: "{}", contentHash: id)],
                        vectors: Self.vector(worker * 100 + n))
                    if n % 3 == 0 { try store.remove(ids: ["w\(worker)-\(n - 1)"]) }
                    _ = try store.search([Self.vector(n)], modelID: "test/1", query: CatalogueQuery(k: 3))
                    if n % 5 == 0 { try store.conformIndex() }
                    _ = try store.vector(ofItem: id)
                }
            } catch {
                failures.withLock { $0.append("worker \(worker): \(error)") }
            }
        }
        #expect(failures.withLock { $0 } == [])
        let items = try store.items()
        #expect(items.count == 8 * (20 - 6))
        for item in items {
            #expect(item.state == .ready)
            #expect(try store.vector(ofItem: item.id) != nil)
        }
        let index = try #require(store.index)
        #expect(index.count == items.count)
    }

    /// `bind` reads the store's model with an error thrown, not swallowed: a store whose
    /// settings cannot be read is not rebound, which would empty its index. (Reading the
    /// dimension with `try?` made an unreadable value look like "no model yet".)
    @Test func bindRefusesWhenTheSettingsCannotBeRead() throws {
        let dir = try TemporaryDirectory()
        let store = try CatalogueStore.open(directory: dir.path, mode: .write)
        try store.bind(modelID: "test/1", dimension: 8)
        try store.put(
            [StagedItem(id: "a", title: "a", url: "/x", attributes: "{}", contentHash: "a")], vectors: Self.vector(1))
        try store.database.write { db in
            try db.execute(sql: "UPDATE setting SET value = 'eight' WHERE name = 'dimension'")
        }
        #expect(throws: CatalogueError.self) { try store.bind(modelID: "test/1", dimension: 8) }
        try store.database.write { db in
            try db.execute(sql: "UPDATE setting SET value = '8' WHERE name = 'dimension'")
        }
        #expect(try store.vector(ofItem: "a") != nil)
        #expect(try store.binding()?.model == "test/1")
    }

    /// The batch writer is finished when `ingest` returns: nothing keeps the store, so the
    /// writer lock is free and the store reopens for writing at once, every time.
    @Test func theWriterLockIsFreeAsSoonAsTheStoreIsReleased() async throws {
        let dir = try TemporaryDirectory()
        for round in 0..<20 {
            let store = try CatalogueStore.open(directory: dir.path, mode: .write)
            try store.bind(modelID: "test/1", dimension: 8)
            let writer = BatchWriter(store: store, depth: 3)
            for n in 0..<4 {
                let id = "r\(round)-\(n)"
                await writer.submit(
                    [StagedItem(id: id, title: id, url: "/x", attributes: "{}", contentHash: id)],
                    vectors: Self.vector(n), isNew: [true])
            }
            guard case .success(let totals) = await writer.finish() else {
                Issue.record("round \(round): the writer failed")
                return
            }
            #expect(totals.added == 4)
        }
        let store = try CatalogueStore.open(directory: dir.path, mode: .write)
        #expect(try store.count() == 80)
    }
}
