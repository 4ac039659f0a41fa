import Foundation
import ImageDecoding
import VSearchCore

/// A figure over several seeds: its mean and the range the seeds gave.
public struct SeedSpread: Sendable, Equatable {
    public var mean: Double
    public var min: Double
    public var max: Double

    /// The spread of `values` (at least one).
    public init(_ values: [Double]) {
        precondition(!values.isEmpty, "a spread needs at least one value")
        mean = values.reduce(0, +) / Double(values.count)
        min = values.min()!
        max = values.max()!
    }
}

/// One report row over several seeds.
public struct SeededRow: Sendable, Equatable {
    /// "all", a distortion kind, "cutout/alpha", "cutout/mask" or "pairs" (see ``RetrievalEvaluation/Report/rows``).
    public var label: String
    /// Queries per seed (the first seed's count; the same for every seed of one catalogue).
    public var queries: Int
    public var recallAt1: SeedSpread
    public var recallAt5: SeedSpread
    public var meanReciprocalRank: SeedSpread
    /// The row's figures for each seed, in seed order.
    public var perSeed: [RetrievalMetrics]
}

/// Runs one evaluation per seed on the same catalogue (its vectors made once) and reports each
/// row as the mean over seeds with the range, since one seed's queries are a sample.
public struct SeededEvaluation: Sendable {
    public let embedder: any ImageEmbedder
    public let options: RetrievalEvaluation.Options
    public let seeds: [UInt64]

    /// `options.seed` is replaced by each of `seeds` in turn.
    public init(embedder: any ImageEmbedder, options: RetrievalEvaluation.Options, seeds: [UInt64]) {
        self.embedder = embedder
        self.options = options
        self.seeds = seeds.isEmpty ? [options.seed] : seeds
    }

    /// One report per seed on in-memory photos searched exactly; the pairs task (seed-free) is in each.
    /// `progress` gives a reporter for each seed.
    public func run(photos: PhotosInMemory, progress: (UInt64) -> ProgressReporter? = { _ in nil }) async throws
        -> [RetrievalEvaluation.Report]
    {
        let catalogue = try embedder.embed(photos.images).map(RetrievalEvaluation.normalised)
        let pairs = PairTask(names: photos.names).metrics(vectors: catalogue)
        return try await run(
            photos: photos,
            target: ExactRetrieval(
                vectors: catalogue, windowPenalty: embedder.windowPenalty, recorder: options.scoreRecorder,
                verification: options.verification.map { VerifiedCatalogue(settings: $0, photos: photos) }),
            progress: progress
        ).map {
            var report = $0
            report.pairs = pairs
            return report
        }
    }

    /// One report per seed: queries from `photos`, ranked by `target`.
    public func run(
        photos: any EvalPhotos, target: any RetrievalTarget, progress: (UInt64) -> ProgressReporter? = { _ in nil }
    ) async throws -> [RetrievalEvaluation.Report] {
        var reports: [RetrievalEvaluation.Report] = []
        for seed in seeds {
            var options = self.options
            options.seed = seed
            reports.append(
                try await RetrievalEvaluation(embedder: embedder, options: options)
                    .run(photos: photos, target: target, progress: progress(seed)))
        }
        return reports
    }

    /// The rows of `reports` (one per seed, of the same catalogue), in the first report's order.
    public static func summarise(_ reports: [RetrievalEvaluation.Report]) -> [SeededRow] {
        guard let first = reports.first else { return [] }
        return first.rows.map { row in
            let perSeed = reports.map { report in
                report.rows.first { $0.label == row.label }?.metrics ?? RetrievalMetrics(ranks: [])
            }
            return SeededRow(
                label: row.label, queries: row.metrics.queries, recallAt1: SeedSpread(perSeed.map(\.recallAt1)),
                recallAt5: SeedSpread(perSeed.map(\.recallAt5)),
                meanReciprocalRank: SeedSpread(perSeed.map(\.meanReciprocalRank)), perSeed: perSeed)
        }
    }
}
