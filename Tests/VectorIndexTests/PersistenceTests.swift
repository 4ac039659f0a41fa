import Foundation
import Testing
import VSearchTesting

@testable import VectorIndex

@Suite(.offThePool) struct PersistenceTests {
    let d = 16

    private func makeIndex(_ kind: IndexKind, storage: VectorStorage = .f32, n: Int = 600) throws -> any VectorIndex {
        let options = IndexOptions(
            kind: kind, metric: .cosine, storage: storage, hnsw: HNSWParameters(m: 8, efConstruction: 40))
        let index = try options.makeIndex(dimension: d, expectedCount: n)
        try index.add(ids: (0..<n).map { UInt64($0 * 3) }, vectors: TestData.clustered(n, d, seed: 21))
        return index
    }

    @Test(arguments: [(IndexKind.flat, VectorStorage.f32), (.flat, .f16), (.flat, .i8), (.hnsw, .f32)])
    func roundTrip(kind: IndexKind, storage: VectorStorage) throws {
        let directory = TestData.temporaryDirectory("roundtrip")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let index = try makeIndex(kind, storage: storage)
        index.remove(id: 9)
        let store = try IndexStore.create(directory: directory, index: index)
        let queries = TestData.clustered(10, d, seed: 22)
        let before = try store.index.search(batch: queries, k: 7)
        for verify in [true, false] {
            let reopened = try IndexStore.open(directory: directory, verify: verify)
            #expect(reopened.index.count == index.count)
            #expect(reopened.index.metric == .cosine)
            #expect(!reopened.index.contains(id: 9))
            #expect(try reopened.index.search(batch: queries, k: 7) == before)
        }
    }

    @Test(arguments: [IndexKind.flat, .hnsw])
    func logReplaysUncheckpointedChanges(kind: IndexKind) throws {
        let directory = TestData.temporaryDirectory("wal")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let store = try IndexStore.create(directory: directory, index: try makeIndex(kind, n: 100))
            try store.add(ids: [1000, 1001], vectors: [Float](repeating: 0.5, count: 2 * d))
            #expect(try store.remove(id: 0))
            #expect(try !store.remove(id: 123_456))
            try store.add(ids: [1000], vectors: [Float](repeating: -1, count: d))
        }
        let reopened = try IndexStore.open(directory: directory)
        #expect(reopened.index.count == 101)
        #expect(!reopened.index.contains(id: 0))
        #expect(reopened.index.contains(id: 1001))
        let hits = try reopened.index.search([Float](repeating: -1, count: d), k: 1)
        #expect(hits.first?.id == 1000)
        try reopened.checkpoint()
        let again = try IndexStore.open(directory: directory)
        #expect(again.index.count == 101)
        #expect(try again.index.search([Float](repeating: -1, count: d), k: 1).first?.id == 1000)
    }

    @Test func tornLogTailIsDropped() throws {
        let directory = TestData.temporaryDirectory("torn")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let store = try IndexStore.create(directory: directory, index: try makeIndex(.flat, n: 50))
            try store.add(ids: [500], vectors: [Float](repeating: 1, count: d))
            try store.add(ids: [501], vectors: [Float](repeating: 1, count: d))
        }
        let log = directory + "/" + IndexStore.logName
        let size = try FileManager.default.attributesOfItem(atPath: log)[.size] as! Int
        #expect(truncate(log, off_t(size - 5)) == 0)  // the second record is now torn
        let reopened = try IndexStore.open(directory: directory)
        #expect(reopened.index.contains(id: 500))
        #expect(!reopened.index.contains(id: 501))
        // New records follow the last good one.
        try reopened.add(ids: [502], vectors: [Float](repeating: 1, count: d))
        let third = try IndexStore.open(directory: directory)
        #expect(third.index.contains(id: 502) && third.index.contains(id: 500) && third.index.count == 52)
    }

    @Test func staleLogFromInterruptedCheckpointIsIgnored() throws {
        let directory = TestData.temporaryDirectory("stale")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try IndexStore.create(directory: directory, index: try makeIndex(.flat, n: 20))
        try store.add(ids: [900], vectors: [Float](repeating: 1, count: d))
        let log = directory + "/" + IndexStore.logName
        let oldLog = try Data(contentsOf: URL(fileURLWithPath: log))
        try store.remove(id: 900)
        try store.checkpoint()
        // Simulate a crash between the snapshot rename and the log replacement.
        try oldLog.write(to: URL(fileURLWithPath: log))
        let reopened = try IndexStore.open(directory: directory)
        #expect(!reopened.index.contains(id: 900))
        #expect(reopened.index.count == 20)
    }

    @Test(arguments: [IndexKind.flat, .hnsw])
    func damagedFilesGiveErrorsNotCrashes(kind: IndexKind) throws {
        let directory = TestData.temporaryDirectory("fuzz")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = try IndexStore.create(directory: directory, index: try makeIndex(kind, n: 120))
        let path = directory + "/" + IndexStore.snapshotName
        let original = try Data(contentsOf: URL(fileURLWithPath: path))
        let query = [Float](repeating: 0.25, count: d)
        func attempt(_ bytes: Data, verify: Bool) -> Bool {
            try? FileManager.default.removeItem(atPath: directory + "/" + IndexStore.logName)
            try! bytes.write(to: URL(fileURLWithPath: path))
            do {
                let store = try IndexStore.open(directory: directory, verify: verify)
                _ = try store.index.search(query, k: 5)
                return true
            } catch {
                // Typed throws: only IndexError can arrive here.
                #expect(!error.description.isEmpty)
                return false
            }
        }
        // Truncation at every header and table offset, and at some later ones: always an error.
        let tableEnd = 128 + 32 * 12
        for length in Array(0..<min(tableEnd, original.count)) + stride(from: tableEnd, to: original.count, by: 97) {
            #expect(!attempt(original.prefix(length), verify: false), "truncated to \(length) bytes opened")
        }
        // Random byte flips: with full verification every flip inside a checksummed region is caught;
        // a flip in padding between sections may open. Nothing crashes either way.
        var rng = TestData.generator(seed: 23)
        var rejected = 0
        for _ in 0..<300 {
            var bytes = original
            let position = Int.random(in: 0..<bytes.count, using: &rng)
            bytes[position] ^= UInt8.random(in: 1...255, using: &rng)
            if !attempt(bytes, verify: true) { rejected += 1 }
            _ = attempt(bytes, verify: false)
        }
        #expect(rejected >= 270, "only \(rejected) of 300 flips detected")
        // Garbage and an empty file.
        #expect(!attempt(Data(repeating: 0xAB, count: 4096), verify: false))
        #expect(!attempt(Data(), verify: false))
        // The untouched file still opens.
        #expect(attempt(original, verify: true))
    }

    @Test func vectorFilesAreValidated() throws {
        let directory = TestData.temporaryDirectory("npy")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/x.npy"
        let values = TestData.uniform(7, 5, seed: 24)
        try VectorFile.writeNPY(path: path, values: values, count: 7, dimension: 5)
        let file = try VectorFile.read(path: path)
        #expect(file.count == 7 && file.dimension == 5 && file.values == values)
        // fvecs
        var fvecs = Data()
        for r in 0..<7 {
            withUnsafeBytes(of: Int32(5)) { fvecs.append(contentsOf: $0) }
            values[(r * 5)..<((r + 1) * 5)].withUnsafeBytes { fvecs.append(contentsOf: $0) }
        }
        try fvecs.write(to: URL(fileURLWithPath: directory + "/x.fvecs"))
        #expect(try VectorFile.read(path: directory + "/x.fvecs").values == values)
        try fvecs.prefix(fvecs.count - 3).write(to: URL(fileURLWithPath: directory + "/bad.fvecs"))
        #expect(throws: IndexError.self) { _ = try VectorFile.read(path: directory + "/bad.fvecs") }
        let npy = try Data(contentsOf: URL(fileURLWithPath: path))
        for length in [0, 5, 9, 30, npy.count - 1] {
            try npy.prefix(length).write(to: URL(fileURLWithPath: directory + "/t.npy"))
            do {
                _ = try VectorFile.read(path: directory + "/t.npy")
                Issue.record("truncated .npy of \(length) bytes was accepted")
            } catch {
                #expect(error.description.contains("t.npy"))
            }
        }
        var withNaN = values
        withNaN[2 * 5 + 3] = .nan
        try VectorFile.writeNPY(path: directory + "/nan.npy", values: withNaN, count: 7, dimension: 5)
        #expect(throws: IndexError.nonFinite(context: directory + "/nan.npy row 2", position: 3)) {
            _ = try VectorFile.read(path: directory + "/nan.npy")
        }
        var wrongType = npy
        wrongType.replaceSubrange(20..<23, with: Array("<i4".utf8))
        try wrongType.write(to: URL(fileURLWithPath: directory + "/i.npy"))
        #expect(throws: IndexError.self) { _ = try VectorFile.read(path: directory + "/i.npy") }
    }
}
