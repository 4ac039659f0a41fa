import Foundation

/// The figures of `vsearch eval` over one or more seeds, as a table or as JSON.
public struct EvalSummary: Sendable {
    public let rows: [SeededRow]
    public let seeds: [UInt64]
    public let half: EvalHalf?
    /// Catalogue items (the first seed's; the same for every seed).
    public let items: Int
    /// Items whose photo has alpha (cut-outs).
    public let objectItems: Int
    /// Items left out because their photo could not be read.
    public let skipped: Int
    public let settings: DistortionSettings
    /// Whether each query's best candidates were re-ranked by local features (``CandidateVerification``).
    public let verified: Bool

    public init(
        reports: [RetrievalEvaluation.Report], seeds: [UInt64], half: EvalHalf?, settings: DistortionSettings,
        verified: Bool = false
    ) {
        rows = SeededEvaluation.summarise(reports)
        self.seeds = seeds
        self.half = half
        items = reports.first?.items ?? 0
        objectItems = reports.first?.objectItems.count ?? 0
        skipped = reports.first?.skipped.count ?? 0
        self.settings = settings
        self.verified = verified
    }

    /// A table: one line per row; with several seeds each figure is the mean and the range over seeds.
    public func table() -> String {
        let several = seeds.count > 1
        var text = "\(items) catalogue photos"
        if objectItems > 0 {
            text += String(
                format: " (%d cut-outs with alpha, pasted at %.0f–%.0f %% of a real scene's short side)",
                objectItems, settings.objectScale.lowerBound * 100, settings.objectScale.upperBound * 100)
        }
        if let half { text += ", half \(half.rawValue)" }
        text += several ? ", seeds \(seeds.map(String.init).joined(separator: ", "))" : ", seed \(seeds[0])"
        if verified { text += ", best candidates verified by local features" }
        text += skipped == 0 ? "\n" : ", \(skipped) without a readable photo\n"
        if several {
            text += "distortion    queries  recall@1 (min–max)     recall@5 (min–max)     MRR (min–max)\n"
        } else {
            text += "distortion    queries  recall@1  recall@5     MRR\n"
        }
        for row in rows {
            text += row.label.padding(toLength: 12, withPad: " ", startingAt: 0)
            text += String(format: "  %7d", row.queries)
            if several {
                for spread in [row.recallAt1, row.recallAt5, row.meanReciprocalRank] {
                    text += String(format: "  %6.3f (%.3f–%.3f)", spread.mean, spread.min, spread.max)
                }
                text += "\n"
            } else {
                text += String(
                    format: "  %8.3f  %8.3f  %6.3f\n", row.recallAt1.mean, row.recallAt5.mean,
                    row.meanReciprocalRank.mean)
            }
        }
        return text
    }

    /// One JSON object: each row's mean over seeds (`recall_at_1`, …), its range (`…_min`, `…_max`)
    /// and the figures of every seed.
    public func json() -> String {
        let results: [[String: Any]] = rows.map { row in
            var entry: [String: Any] = ["distortion": row.label, "queries": row.queries]
            for (key, spread) in [
                ("recall_at_1", row.recallAt1), ("recall_at_5", row.recallAt5), ("mrr", row.meanReciprocalRank),
            ] {
                entry[key] = spread.mean
                entry[key + "_min"] = spread.min
                entry[key + "_max"] = spread.max
            }
            entry["per_seed"] = zip(seeds, row.perSeed).map { seed, metrics in
                [
                    "seed": NSNumber(value: seed), "queries": metrics.queries, "recall_at_1": metrics.recallAt1,
                    "recall_at_5": metrics.recallAt5, "mrr": metrics.meanReciprocalRank,
                ] as [String: Any]
            }
            return entry
        }
        var object: [String: Any] = [
            "items": items, "cutouts_with_alpha": objectItems, "seed": NSNumber(value: seeds[0]),
            "seeds": seeds.map { NSNumber(value: $0) },
            "object_scale": [settings.objectScale.lowerBound, settings.objectScale.upperBound], "results": results,
            "verified": verified,
        ]
        if let half { object["half"] = half.rawValue }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
