import Foundation
import Testing
import VSearchTesting

@testable import VectorIndex

/// Kills a writing `vsearch index add` with SIGKILL and checks that the index reopens consistently.
@Suite(.serialized) struct CrashTests {
    @Test(arguments: [IndexKind.flat, .hnsw])
    func sigkillDuringWritesReopensToCommittedState(kind: IndexKind) async throws {
        let binary = URL(fileURLWithPath: try Repository.binary())
        let directory = TestData.temporaryDirectory("crash")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let d = 8
        let initial = 200
        // Enough small fsynced batches that the writer is still going when the first kill lands, even
        // for a release binary on a fast disk (3,000 rows were all written before the kill there).
        let extra = 20_000
        let base = TestData.uniform(initial, d, seed: 31)
        let more = TestData.uniform(extra, d, seed: 32)
        let options = IndexOptions(kind: kind, metric: .l2, hnsw: HNSWParameters(m: 8, efConstruction: 32))
        let index = try options.makeIndex(dimension: d, expectedCount: initial)
        try index.add(ids: (0..<initial).map { UInt64($0) }, vectors: base)
        _ = try IndexStore.create(directory: directory, index: index)
        try VectorFile.writeNPY(path: directory + "/more.npy", values: more, count: extra, dimension: d)

        var rng = TestData.generator(seed: kind == .flat ? 33 : 34)
        var lastCount = initial
        var counts: [Int] = []
        for round in 0..<4 {
            let process = Process()
            process.executableURL = binary
            // Small batches, each fsynced, with snapshots rewritten now and then, so the kill lands
            // in a log append, a snapshot write or a rename.
            process.arguments = [
                "index", "add", "--index", directory, "--vectors", directory + "/more.npy", "--start-id",
                String(initial), "--batch", "7", "--checkpoint-every", "40",
            ]
            process.standardError = FileHandle.nullDevice
            try process.run()
            let delay = Double.random(in: 0.05...0.3, using: &rng) * Double(round + 1)
            // The delay is slept on a thread of its own: a task's sleep can end late by seconds when the
            // whole suite keeps the cooperative pool busy, and the writer would be done by then.
            let pid = process.processIdentifier
            try await onOwnThread {
                usleep(UInt32(delay * 1_000_000))
                kill(pid, SIGKILL)
            }
            try await process.exited()

            let store = try IndexStore.open(directory: directory)
            let count = store.index.count
            // Committed batches form a prefix of the file (re-adding the same rows only replaces them).
            #expect(count >= initial && count <= initial + extra)
            #expect(count >= lastCount)
            lastCount = count
            counts.append(count)
            for id in 0..<UInt64(count) { #expect(store.index.contains(id: id), "id \(id) missing after kill") }
            // Every stored vector is the one that was written.
            var checked = 0
            store.index.forEachItem { id, vector in
                let row = Int(id)
                let expected =
                    row < initial
                    ? base[(row * d)..<((row + 1) * d)] : more[((row - initial) * d)..<((row - initial + 1) * d)]
                if Array(vector) != Array(expected) { Issue.record("item \(id) has a wrong vector") }
                checked += 1
            }
            #expect(checked == count)
            let probe = Array(more[0..<d])
            let hits = try store.index.search(probe, k: 1)
            if count > initial { #expect(hits.first?.id == UInt64(initial)) }
        }
        // At least one kill landed while the writer was still going.
        #expect(counts.contains { $0 < initial + extra }, "counts after kills: \(counts)")
    }
}
