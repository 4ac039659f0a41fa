/// Retrieval quality over a set of queries, each with one right answer.
public struct RetrievalMetrics: Sendable, Equatable {
    /// The number of queries.
    public var queries: Int
    /// The share of queries whose right answer came first.
    public var recallAt1: Double
    /// The share of queries whose right answer was among the first five.
    public var recallAt5: Double
    /// The mean over queries of 1 / (the right answer's rank).
    public var meanReciprocalRank: Double

    /// Metrics for queries whose right answers came at `ranks` (1 = first).
    public init(ranks: [Int]) {
        queries = ranks.count
        guard !ranks.isEmpty else {
            (recallAt1, recallAt5, meanReciprocalRank) = (0, 0, 0)
            return
        }
        let count = Double(ranks.count)
        recallAt1 = Double(ranks.count { $0 == 1 }) / count
        recallAt5 = Double(ranks.count { $0 >= 1 && $0 <= 5 }) / count
        meanReciprocalRank = ranks.reduce(0) { $0 + ($1 >= 1 ? 1 / Double($1) : 0) } / count
    }

    /// The rank (1 = first) of item `truth` when items are ordered by `scores`, highest first.
    ///
    /// Ties count against the right answer: an item scoring the same as it ranks ahead, so that a
    /// degenerate embedding (every score equal) cannot look perfect.
    public static func rank(of truth: Int, scores: [Float]) -> Int {
        let target = scores[truth]
        var rank = 1
        for (index, score) in scores.enumerated() where index != truth && score >= target {
            rank += 1
        }
        return rank
    }
}
