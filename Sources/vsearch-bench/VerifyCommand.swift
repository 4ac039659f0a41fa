import ArgumentParser
import Foundation
import ImageDecoding
import LocalFeatures
import VSearchCore

/// Re-ranks `vsearch eval`'s saved candidates by local features, in Swift: the same job as
/// `scripts/bench/local_features.py` does with OpenCV, on the same files, so the two can be compared.
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Re-rank saved eval candidates by local features that agree on one placement (Swift).",
        discussion: """
            Reads what `vsearch eval --save-scores SCORES --save-queries QUERIES` wrote (one seed). For each \
            query, its best candidates by the blend recipe and by the gated fusion G1 (docs/retrieval.md) get \
            `weight × min(inliers, cap)` added, where `inliers` counts the query's keypoint matches to the \
            candidate's photo that one similarity transform explains. Prints recall@1 / recall@5 per row, and \
            the medians of the query's extraction and of one candidate's check.
            """
    )

    @Argument(help: "The folder --save-scores wrote.")
    var scores: String

    @Argument(help: "The folder --save-queries wrote.")
    var queries: String

    @Option(help: "What the item photos' paths are relative to.")
    var root = "."

    @Option(help: "Candidates verified.")
    var top = 20

    @Option(parsing: .upToNextOption, help: "Score per inlier.")
    var weight: [Float] = [0.005, 0.01]

    @Option(help: "Also verify the best this many by the window cosine alone and by the plain cosine alone.")
    var extra = 0

    @Option(help: "Inliers counted at most.")
    var cap = 100

    @Option(
        parsing: .upToNextOption, help: "Matches every candidate is assumed to have by chance: only those above count.")
    var floor: [Int] = [0]

    @Option(help: "Lowe's ratio: a match is kept when nearer than this fraction of the second nearest.")
    var ratio: Float = 0.8

    @Option(help: "RANSAC's tolerance, in pixels.")
    var tolerance: Float = 8

    @Option(help: "Keypoints per picture.")
    var keypoints = 1_500

    @Option(help: "Longest side pictures are described at.")
    var side = 640

    @Option(help: "FAST's brightness threshold.")
    var threshold = 20

    @Option(help: "Keypoints per query picture (default: --keypoints).")
    var queryKeypoints: Int?

    @Option(help: "Longest side query pictures are described at (default: --side).")
    var querySide: Int?

    @Option(help: "Screen each candidate first with every Nth query keypoint (1: no screen).")
    var screen = 1

    @Option(help: "A screened candidate with fewer consistent matches than this gains nothing (no full check).")
    var screenMinimum = 4

    @Option(
        help:
            "Write each query's label, item, rank by G1, the item's consistent matches and the most of any other candidate (TSV)."
    )
    var dump: String?

    @Option(
        help:
            "Write gated.npy (every item's G1 score per query) and inliers.npy (each checked candidate's consistent matches, -1 where not checked) to this folder, to try other ways of scoring the check offline."
    )
    var saveChecks: String?

    func run() throws {
        let folder = URL(fileURLWithPath: scores)
        let matrix = try NumpyArray.read(path: folder.appendingPathComponent("scores.npy").path)
        let queryRows = try TSV(contentsOf: folder.appendingPathComponent("queries.tsv"))
        let photos = try TSV(contentsOf: folder.appendingPathComponent("items.tsv")).column("photo")
        guard matrix.shape.count == 3, matrix.shape[0] == queryRows.rows.count, matrix.shape[1] == photos.count,
            matrix.shape[2] == 2
        else { throw ValidationError("scores.npy's shape \(matrix.shape) does not match the TSV files") }

        var extractorConfiguration = LocalFeatureExtractor.Configuration()
        extractorConfiguration.maximumKeypoints = keypoints
        extractorConfiguration.longestSide = side
        extractorConfiguration.cornerThreshold = threshold
        let extractor = LocalFeatureExtractor(configuration: extractorConfiguration)
        var queryConfiguration = extractorConfiguration
        queryConfiguration.maximumKeypoints = queryKeypoints ?? keypoints
        queryConfiguration.longestSide = querySide ?? side
        let queryExtractor = LocalFeatureExtractor(configuration: queryConfiguration)
        var verifierConfiguration = GeometricVerifier.Configuration()
        verifierConfiguration.ratio = ratio
        verifierConfiguration.tolerance = tolerance
        let verifier = GeometricVerifier(configuration: verifierConfiguration)
        let decoder = ImageDecoder()
        var screened = 0
        var checkedInFull = 0
        var items: [LocalFeatures] = []
        var outlined: [Bool] = []
        for photo in photos {
            let decoded = try decoder.decodeWithAlpha(
                file: URL(fileURLWithPath: root).appendingPathComponent(photo).path)
            let hasOutline = decoded.alpha?.contains(where: { $0 < 128 }) ?? false
            outlined.append(hasOutline)
            items.append(extractor.features(of: decoded.image, alpha: hasOutline ? decoded.alpha : nil))
        }

        let (queryCount, itemCount) = (matrix.shape[0], matrix.shape[1])
        // The saved parts are the blend's weighted halves: dividing by those weights gives the two cosines.
        let plainWeight = 0.4 / (0.52 as Float).squareRoot() / (2 as Float).squareRoot()
        let windowWeight = 0.6 / (0.52 as Float).squareRoot() / (2 as Float).squareRoot()
        var results: [VerifiedQuery] = []
        var extracting: [Double] = []
        var checking: [Double] = []
        for n in 0..<queryCount {
            let row = queryRows.rows[n]
            let (item, label) = (Int(row["item"] ?? "") ?? -1, row["label"] ?? "")
            let plain = (0..<itemCount).map { matrix.values[(n * itemCount + $0) * 2] / plainWeight }
            let window = (0..<itemCount).map { matrix.values[(n * itemCount + $0) * 2 + 1] / windowWeight }
            let recipe = zip(plain, window).map { 0.4 * $0 + 0.6 * $1 }
            let gated = VerificationSpec().fused(plain: plain, window: window)
            let extras = TopScores.indices(window, extra) + TopScores.indices(plain, extra)
            let candidates = Set(TopScores.indices(recipe, top) + TopScores.indices(gated, top) + extras)
            let path = "\(queries)/\(String(format: "%05d", item))-\(label)-\(row["number"] ?? "").jpg"
            let start = ContinuousClock.now
            let features = queryExtractor.features(of: try decoder.decode(file: path))
            let extracted = ContinuousClock.now
            var inliers = [Int](repeating: 0, count: itemCount)
            let subset = screen > 1 ? features.sample(every: screen) : features
            for candidate in candidates {
                if screen > 1 {
                    screened += 1
                    let first = verifier.consistentMatches(query: subset, candidate: items[candidate])
                    if first < screenMinimum { continue }
                    checkedInFull += 1
                }
                inliers[candidate] = verifier.consistentMatches(query: features, candidate: items[candidate])
            }
            extracting.append(Self.milliseconds(extracted - start))
            checking.append(Self.milliseconds(ContinuousClock.now - extracted) / Double(max(1, candidates.count)))
            results.append(
                VerifiedQuery(item: item, label: label, recipe: recipe, gated: gated, inliers: inliers, extras: extras))
            if n % 250 == 0 { FileHandle.standardError.write(Data("verified \(n + 1)/\(queryCount)\n".utf8)) }
        }

        if let saveChecks {
            try FileManager.default.createDirectory(atPath: saveChecks, withIntermediateDirectories: true)
            var checked = [Float](repeating: -1, count: queryCount * itemCount)
            for (n, query) in results.enumerated() {
                for i in TopScores.indices(query.gated, top) { checked[n * itemCount + i] = Float(query.inliers[i]) }
            }
            try NumpyArray(shape: [queryCount, itemCount], values: results.flatMap(\.gated)).write(
                path: saveChecks + "/gated.npy")
            try NumpyArray(shape: [queryCount, itemCount], values: checked).write(path: saveChecks + "/inliers.npy")
        }
        if let dump {
            var text = "label\titem\tgatedRank\tmatches\tbestOther\tfinalRank\n"
            for query in results {
                let rank =
                    1
                    + query.gated.indices.filter { $0 != query.item && query.gated[$0] >= query.gated[query.item] }
                    .count
                let other = query.inliers.indices.filter { $0 != query.item }.map { query.inliers[$0] }.max() ?? 0
                // The rank after the check at the first --weight, as the shipped search ranks.
                var final = [Float](repeating: -9, count: query.gated.count)
                for i in TopScores.indices(query.gated, top) {
                    final[i] = query.gated[i] + weight[0] * Float(min(query.inliers[i], cap))
                }
                let finalRank = 1 + final.indices.filter { $0 != query.item && final[$0] >= final[query.item] }.count
                text +=
                    "\(query.label)\t\(query.item)\t\(rank)\t\(query.inliers[query.item])\t\(other)\t\(finalRank)\n"
            }
            try text.write(toFile: dump, atomically: true, encoding: .utf8)
        }
        print("\(queryCount) queries, \(itemCount) items; recall@1/recall@5 per row")
        report("recipe (as saved)", results, outlined) { $0.recipe }
        report("gated (G1)", results, outlined) { $0.gated }
        for base in ["recipe", "gated"] {
            for weight in weight {
                for floor in floor {
                    report("\(base) + verify top \(top), \(weight)/inlier, floor \(floor)", results, outlined) {
                        query in
                        let scores = base == "recipe" ? query.recipe : query.gated
                        var out = [Float](repeating: -9, count: scores.count)
                        for i in Set(TopScores.indices(scores, top) + query.extras) {
                            out[i] = scores[i] + weight * Float(min(max(query.inliers[i] - floor, 0), cap))
                        }
                        return out
                    }
                }
            }
        }
        if screen > 1 { print("screen: \(checkedInFull) of \(screened) candidates checked in full") }
        print(
            String(
                format: "cost (Swift, 1 thread): the query's features %.1f ms, %.2f ms per candidate (medians)",
                Self.median(extracting), Self.median(checking)))
    }

    private func report(
        _ name: String, _ results: [VerifiedQuery], _ outlined: [Bool], score: (VerifiedQuery) -> [Float]
    ) {
        var ranks: [String: [Int]] = [:]
        for query in results {
            let scores = score(query)
            let truth = scores[query.item]
            let rank = 1 + scores.indices.filter { $0 != query.item && scores[$0] >= truth }.count
            ranks[query.label, default: []].append(rank)
            if query.label == "cutout" {
                ranks[outlined[query.item] ? "cutout/alpha" : "cutout/mask", default: []].append(rank)
            }
        }
        let rows = [
            "all", "crop", "rotate", "perspective", "colour", "blur", "jpeg", "cutout", "cutout/alpha", "cutout/mask",
        ]
        let cells = rows.compactMap { label -> String? in
            guard let r = ranks[label], !r.isEmpty else { return nil }
            let at1 = Double(r.filter { $0 == 1 }.count) / Double(r.count)
            let at5 = Double(r.filter { $0 <= 5 }.count) / Double(r.count)
            return String(format: "%@ %.3f/%.3f", label, at1, at5)
        }
        print("| \(name) | " + cells.joined(separator: " | ") + " |")
    }

    static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1_000 + Double(duration.components.attoseconds) / 1e15
    }

    static func median(_ values: [Double]) -> Double { values.isEmpty ? 0 : values.sorted()[values.count / 2] }
}

private struct VerifiedQuery {
    var item: Int
    var label: String
    var recipe: [Float]
    var gated: [Float]
    var inliers: [Int]
    var extras: [Int]
}

/// G1 of docs/retrieval.md, on the two cosines: a blend when a second item also has a strong window.
private enum TopScores {
    /// The indices of the `count` highest scores, highest first (ties by index).
    static func indices(_ scores: [Float], _ count: Int) -> [Int] {
        Array(scores.indices.sorted { (scores[$0], $1) > (scores[$1], $0) }.prefix(count))
    }
}

/// A tab-separated file with a header row.
private struct TSV {
    var rows: [[String: String]]

    init(contentsOf url: URL) throws {
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map {
            $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        }
        guard let header = lines.first else { throw ValidationError("\(url.path): empty") }
        rows = lines.dropFirst().map { Dictionary(zip(header, $0), uniquingKeysWith: { first, _ in first }) }
    }

    func column(_ name: String) -> [String] { rows.map { $0[name] ?? "" } }
}
