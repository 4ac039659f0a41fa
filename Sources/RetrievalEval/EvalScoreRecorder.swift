import Foundation
import VSearchCore

/// Keeps every query's score against every catalogue item, in two parts, so that a ranking the
/// store cannot compute yet (a gate between the parts, a re-ranking by another signal) can be
/// tried offline on exactly the queries `vsearch eval` made, before it is built.
///
/// A recipe whose query vectors share their first `prefix` values up to a scale (the blend's plain
/// half, `Featurizer.sharedPrefix`) scores an item as the dot product over that prefix plus the
/// best dot product over the rest; the two are kept apart. With `prefix` 0 the first part is 0
/// and the second is the item's best score over the query's vectors. Neither includes the window
/// penalty.
public final class EvalScoreRecorder: Sendable {
    /// The values every query vector shares up to a scale; scored once, from the first vector.
    public let prefix: Int
    /// Whether the vectors themselves are kept too, to try another scoring of them offline.
    public let keepsVectors: Bool
    private let rows = Locked<[Row]>([])
    private let catalogue = Locked<[[Float]]>([])

    /// One query's scores: `scores[2 · i]` the prefix part for item `i`, `scores[2 · i + 1]` the rest.
    struct Row {
        var item: Int
        var number: Int
        var scores: [Float]
        var vectors: [[Float]] = []
    }

    public init(prefix: Int, keepsVectors: Bool = false) {
        self.prefix = max(0, prefix)
        self.keepsVectors = keepsVectors
    }

    /// Scores item `item`'s queries (in the order ``RetrievalEvaluation/queries(for:)`` made them)
    /// against every vector of `catalogue`.
    func record(item: Int, queries: [[[Float]]], catalogue: [[Float]]) {
        let made = queries.enumerated().map { number, vectors in
            var scores = [Float](repeating: 0, count: 2 * catalogue.count)
            for (index, row) in catalogue.enumerated() {
                let split = min(prefix, row.count)
                scores[2 * index] = vectors.first.map { ExactRetrieval.dot($0, row, over: 0..<split) } ?? 0
                scores[2 * index + 1] =
                    vectors.map { ExactRetrieval.dot($0, row, over: split..<row.count) }.max() ?? -.infinity
            }
            return Row(item: item, number: number, scores: scores, vectors: keepsVectors ? vectors : [])
        }
        rows.withLock { $0 += made }
        if keepsVectors { self.catalogue.withLock { if $0.isEmpty { $0 = catalogue } } }
    }

    /// Writes `scores.npy` (float32, queries × items × 2: the prefix part and the rest),
    /// `queries.tsv` (each row's item, label and number, which name the image `--save-queries`
    /// writes) and `items.tsv` (each item's photo) into `folder`.
    ///
    /// With ``keepsVectors``, also `items.npy` (items × dimension, the catalogue's vectors) and
    /// `query-vectors.npy` (queries × the most vectors of any query × dimension; a query with fewer
    /// repeats its first, which changes no best score).
    ///
    /// `labels(item)` gives the labels of an item's queries in order.
    public func write(to folder: String, items names: [String], labels: (Int) -> [String]) throws(EvalError) {
        let rows = self.rows.withLock { $0 }.sorted { ($0.item, $0.number) < ($1.item, $1.number) }
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw EvalError.write(path: folder, reason: "cannot create the folder")
        }
        let array = NumpyArray(shape: [rows.count, names.count, 2], values: rows.flatMap(\.scores))
        do {
            try array.write(path: folder + "/scores.npy")
        } catch {
            throw EvalError.write(path: error.path, reason: error.reason)
        }
        if keepsVectors { try writeVectors(rows, to: folder) }
        var queries = "query\titem\tlabel\tnumber\n"
        var itemLabels: [Int: [String]] = [:]
        for (index, row) in rows.enumerated() {
            let label = itemLabels[row.item, default: labels(row.item)]
            itemLabels[row.item] = label
            let name = row.number < label.count ? label[row.number] : "?"
            queries += "\(index)\t\(row.item)\t\(name)\t\(row.number)\n"
        }
        let items = "item\tphoto\n" + names.enumerated().map { "\($0)\t\($1)\n" }.joined()
        for (file, text) in [("queries.tsv", queries), ("items.tsv", items)] {
            let path = folder + "/" + file
            guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8)) else {
                throw EvalError.write(path: path, reason: "cannot write the file")
            }
        }
    }

    private func writeVectors(_ rows: [Row], to folder: String) throws(EvalError) {
        let catalogue = self.catalogue.withLock { $0 }
        let dimension = catalogue.first?.count ?? 0
        let most = rows.map(\.vectors.count).max() ?? 0
        var values = [Float]()
        values.reserveCapacity(rows.count * most * dimension)
        for row in rows {
            for index in 0..<most { values += row.vectors[index < row.vectors.count ? index : 0] }
        }
        let arrays = [
            ("items.npy", NumpyArray(shape: [catalogue.count, dimension], values: catalogue.flatMap { $0 })),
            ("query-vectors.npy", NumpyArray(shape: [rows.count, most, dimension], values: values)),
        ]
        for (file, array) in arrays {
            do {
                try array.write(path: folder + "/" + file)
            } catch {
                throw EvalError.write(path: error.path, reason: error.reason)
            }
        }
    }
}
