import ArgumentParser
import Foundation
import VSearchCore
import VectorIndex

/// `vsearch index query`: one JSON line per query vector.
struct IndexQuery: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Search an index with query vectors from a .npy or .fvecs file.",
        discussion: """
            Prints one line per query: {"query": i, "ids": [...], "scores": [...]}, best first. For ip \
            and cosine a score is a similarity (higher is better); for l2 it is the squared distance \
            (lower is better). With --timing, a final line {"timing": {...}} goes to stderr, with \
            queries per second counted over search time only (not loading or printing).
            """
    )

    @Option(help: "The index directory.") var index: String
    @Option(help: "The queries: .npy float32 [N, d] or .fvecs.") var queries: String
    @Option(name: .short, help: "Results per query.") var k: Int = 10
    @Option(help: "HNSW candidate list (default: the value stored at build).") var ef: Int?
    @Option(help: "Threads (default: all cores).") var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Queries answered together; 1 answers each alone on all threads (latency).") var batch: Int = 256
    @Flag(help: "Print search timing to stderr as a final JSON line.") var timing = false
    @Flag(help: "Skip checking every section's checksum when opening (faster load of large indexes).")
    var noVerify = false

    func run() throws {
        try runIndexCommand {
            guard k >= 1 else { throw ValidationError("-k must be at least 1") }
            guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
            guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
            let loadStart = Date()
            let store = try IndexStore.open(directory: index, verify: !noVerify, threads: threads)
            let loadSeconds = Date().timeIntervalSince(loadStart)
            let searcher = store.index
            if let ef, let graph = searcher as? HNSWIndex {
                guard ef >= 1 else { throw ValidationError("--ef must be at least 1") }
                graph.efSearch = ef
            }
            let file = try VectorFile.read(path: queries)
            guard file.dimension == searcher.dimension else {
                throw IndexError.wrongDimension(context: queries, expected: searcher.dimension, got: file.dimension)
            }
            var searchSeconds = 0.0
            let d = file.dimension
            let output = FileHandle.standardOutput
            for lower in stride(from: 0, to: file.count, by: batch) {
                let upper = min(lower + batch, file.count)
                let slice = Array(file.values[(lower * d)..<(upper * d)])
                let started = DispatchTime.now().uptimeNanoseconds
                let results: [[SearchHit]]
                if upper - lower == 1 {
                    results = [try searcher.search(slice, k: k)]
                } else {
                    results = try searcher.search(batch: slice, k: k)
                }
                searchSeconds += Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
                var text = ""
                for (offset, hits) in results.enumerated() {
                    text += "{\"query\": \(lower + offset), \"ids\": ["
                    text += hits.map { String($0.id) }.joined(separator: ", ")
                    text += "], \"scores\": ["
                    text += hits.map { $0.score.isFinite ? "\($0.score)" : "null" }.joined(separator: ", ")
                    text += "]}\n"
                }
                output.write(Data(text.utf8))
            }
            if timing {
                let qps = searchSeconds > 0 ? Double(file.count) / searchSeconds : 0
                let line =
                    "{\"timing\": {\"queries\": \(file.count), \"search_seconds\": \(searchSeconds), "
                    + "\"queries_per_second\": \(qps), \"load_seconds\": \(loadSeconds), \"threads\": \(threads), "
                    + "\"batch\": \(batch)}}\n"
                FileHandle.standardError.write(Data(line.utf8))
            }
        }
    }
}
