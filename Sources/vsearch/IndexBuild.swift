import ArgumentParser
import Foundation
import VSearchCore
import VectorIndex

/// `vsearch index build`: vectors file → index directory.
struct IndexBuild: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Build an index from a .npy (float32 [N, d]) or .fvecs file; item ids are row numbers.",
        discussion: """
            The directory gets index.vsi (the snapshot, memory-mapped when opened) and wal.log \
            (the write-ahead log). --kind auto builds a flat (exact) index below 20,000 vectors or \
            with f16/i8 storage, HNSW otherwise.
            """
    )

    @Option(help: "The vectors: .npy float32 [N, d] or .fvecs.") var vectors: String
    @Option(help: "The index directory to write.") var out: String
    @Option(help: "ip (inner product), cosine or l2 (squared distance, lower is better).") var metric: Metric =
        .innerProduct
    @Option(help: "flat, hnsw or auto.") var kind: IndexKind = .auto
    @Option(name: .customLong("m"), help: "HNSW links per node.") var m: Int = 16
    @Option(name: .customLong("ef-construction"), help: "HNSW candidate list while building.")
    var efConstruction: Int = 200
    @Option(name: .customLong("ef"), help: "HNSW candidate list stored as the default for searches.")
    var efSearch: Int = 64
    @Option(help: "Flat index storage: f32, f16 or i8 (compact codes, re-ranked with float32).")
    var storage: VectorStorage = .f32
    @Option(help: "Threads (default: all cores).") var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    func run() throws {
        try runIndexCommand {
            guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
            guard kind != .hnsw || storage == .f32 else {
                throw ValidationError("--storage \(storage.rawValue) needs --kind flat: HNSW stores float32 vectors")
            }
            let start = Date()
            let file = try VectorFile.read(path: vectors)
            guard file.count > 0 else { throw IndexError.invalidArgument("\(vectors): no vectors") }
            let read = Date()
            let options = IndexOptions(
                kind: kind, metric: metric, storage: storage,
                hnsw: HNSWParameters(m: m, efConstruction: efConstruction, efSearch: efSearch), threads: threads)
            let index = try options.makeIndex(dimension: file.dimension, expectedCount: file.count)
            let reporter = ProgressReporter(label: "indexing", total: file.count)
            let ids = (0..<file.count).map { UInt64($0) }
            if let graph = index as? HNSWIndex {
                graph.progress = { done, _ in reporter.update(done: done) }
                try graph.add(ids: ids, vectors: file.values)
            } else {
                let chunk = 50_000
                for lower in stride(from: 0, to: file.count, by: chunk) {
                    let upper = min(lower + chunk, file.count)
                    try index.add(
                        ids: Array(ids[lower..<upper]),
                        vectors: Array(file.values[(lower * file.dimension)..<(upper * file.dimension)]))
                    reporter.update(done: upper)
                }
            }
            reporter.finish()
            let built = Date()
            _ = try IndexStore.create(directory: out, index: index)
            let saved = Date()
            let kindName = index is HNSWIndex ? "hnsw" : "flat"
            let summary = String(
                format: "built %@ index: %d × %d, %@, %@; read %.2fs, build %.2fs, save %.2fs → %@\n", kindName,
                file.count, file.dimension, metric.rawValue, storage.rawValue, read.timeIntervalSince(start),
                built.timeIntervalSince(read), saved.timeIntervalSince(built), out)
            FileHandle.standardError.write(Data(summary.utf8))
            // One machine-readable line for scripts.
            print(
                "{\"kind\": \"\(kindName)\", \"count\": \(file.count), \"dimension\": \(file.dimension), "
                    + "\"build_seconds\": \(built.timeIntervalSince(read)), \"save_seconds\": \(saved.timeIntervalSince(built))}"
            )
        }
    }
}
