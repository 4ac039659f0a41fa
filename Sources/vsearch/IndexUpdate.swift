import ArgumentParser
import Foundation
import VSearchCore
import VectorIndex

/// `vsearch index add`: appends vectors to an existing index durably.
struct IndexAdd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Add or replace vectors in an index; each batch is in the write-ahead log before it is applied.",
        discussion: """
            Row r of the file gets id START + r. A process killed at any moment reopens with every \
            batch that was committed (the log is replayed when the index is opened).
            """
    )

    @Option(help: "The index directory.") var index: String
    @Option(help: "The vectors: .npy float32 [N, d] or .fvecs.") var vectors: String
    @Option(help: "The id of the first row.") var startID: UInt64 = 0
    @Option(help: "Rows per committed batch.") var batch: Int = 1000
    @Option(help: "Fold the log into a new snapshot after every N batches (0: only at the end).")
    var checkpointEvery: Int = 0
    @Flag(help: "Do not write a snapshot at the end; leave the additions in the log.") var noCheckpoint = false

    func run() throws {
        try runIndexCommand {
            guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
            let store = try IndexStore.open(directory: index, verify: false)
            let file = try VectorFile.read(path: vectors)
            let d = file.dimension
            var batches = 0
            for lower in stride(from: 0, to: file.count, by: batch) {
                let upper = min(lower + batch, file.count)
                let ids = (lower..<upper).map { startID + UInt64($0) }
                try store.add(ids: ids, vectors: Array(file.values[(lower * d)..<(upper * d)]))
                batches += 1
                if checkpointEvery > 0, batches % checkpointEvery == 0 { try store.checkpoint() }
            }
            if !noCheckpoint { try store.checkpoint() }
            FileHandle.standardError.write(Data("added \(file.count) vectors; index holds \(store.index.count)\n".utf8))
        }
    }
}

/// `vsearch index remove`: removes items by id.
struct IndexRemove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove", abstract: "Remove items from an index by id.")

    @Option(help: "The index directory.") var index: String
    @Argument(help: "Item ids.") var ids: [UInt64]

    func run() throws {
        try runIndexCommand {
            let store = try IndexStore.open(directory: index, verify: false)
            var removed = 0
            for id in ids where try store.remove(id: id) { removed += 1 }
            try store.checkpoint()
            FileHandle.standardError.write(Data("removed \(removed) of \(ids.count) ids\n".utf8))
        }
    }
}
