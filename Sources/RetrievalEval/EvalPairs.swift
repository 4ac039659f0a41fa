import Foundation

/// The second task of the open eval set: the query is a different real photo of the same object or
/// place (another shot, not a distortion of the catalogue photo), and the right answer is the
/// other photo of its group.
///
/// Groups are folders named `pairs/GROUP/` anywhere in a photo's path; every photo of a group is
/// a catalogue item as well. Each photo is a query once: the catalogue is searched with its
/// vector, the photo itself left out, and the query scores by the rank of the best other photo of
/// its group (the group's other photos never count against it).
public struct PairTask: Sendable {
    /// Item numbers of each group's photos, in name order; groups of fewer than two are left out.
    public let groups: [[Int]]

    /// The groups among `names` (paths, as the catalogue names its photos).
    public init(names: [String]) {
        var byGroup: [String: [Int]] = [:]
        for (item, name) in names.enumerated() {
            if let group = Self.group(of: name) { byGroup[group, default: []].append(item) }
        }
        groups = byGroup.keys.sorted().compactMap { byGroup[$0]!.count >= 2 ? byGroup[$0] : nil }
    }

    /// The group of a photo at `path` (`…/pairs/GROUP/NAME`), or nil for a photo outside a group.
    public static func group(of path: String) -> String? {
        let parts = path.split(separator: "/").map(String.init)
        guard parts.count >= 3, parts[parts.count - 3] == "pairs" else { return nil }
        return parts[parts.count - 2]
    }

    /// For each photo of each group, in order, the rank its group reached; `vectors` are the
    /// catalogue's, unit length, by item.
    public func ranks(vectors: [[Float]]) -> [Int] {
        groups.flatMap { group in
            group.map { query in
                var scores = vectors.map { ExactRetrieval.dot($0, vectors[query]) }
                let others = group.filter { $0 != query }
                let best = others.max { scores[$0] < scores[$1] }!
                // The query itself and its group's other photos are no competitors.
                scores[query] = -.infinity
                for other in others where other != best { scores[other] = -.infinity }
                return RetrievalMetrics.rank(of: best, scores: scores)
            }
        }
    }

    /// The task's figures, or nil when there are no groups.
    public func metrics(vectors: [[Float]]) -> RetrievalMetrics? {
        groups.isEmpty ? nil : RetrievalMetrics(ranks: ranks(vectors: vectors))
    }
}

/// The two halves of an eval set, so that a recipe is chosen on one and reported on the other.
///
/// A photo's half follows from its file name alone (a pair's from its group, so a pair is never
/// split): FNV-1a (64-bit) of the UTF-8 name, A when even. scripts/eval_set.py computes the same
/// for data/eval/manifest.tsv.
public enum EvalHalf: String, Sendable, CaseIterable {
    case a = "A"
    case b = "B"

    /// The half of the photo at `path`.
    public static func of(path: String) -> EvalHalf {
        let key = PairTask.group(of: path) ?? String(path.split(separator: "/").last ?? "")
        return hash(key) % 2 == 0 ? .a : .b
    }

    /// FNV-1a, 64-bit.
    static func hash(_ text: String) -> UInt64 {
        var value: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in text.utf8 {
            value = (value ^ UInt64(byte)) &* 0x100_0000_01B3
        }
        return value
    }
}
