import ArgumentParser
import Catalogue
import Foundation
import ImageDecoding
import VSearchCore

/// `vsearch eval --photos DIR`: an open retrieval benchmark on real photos.
struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Measure retrieval: search camera-like distortions of catalogue photos against the catalogue.",
        discussion: """
            Every image under --photos (searched recursively; .jpg .jpeg .png .webp) is a catalogue item. From each,
            queries are made with a fixed seed as a camera would see the item: a crop of 60–90 %, a rotation of up to
            ±10°, a perspective change, brightness/contrast/saturation/white-balance changes, a blur, and JPEG
            re-encoding at quality 40–70. Each query is searched against the whole catalogue (exact cosine
            similarity); the report gives recall@1, recall@5 and MRR for the full chain and for each distortion alone.
            """
    )

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .long, help: "A folder of catalogue photos.")
    var photos: String

    @Option(name: .long, help: "Full-chain queries per catalogue photo.")
    var queriesPerItem = 3

    @Option(name: .long, help: "The seed the distortions are drawn from.")
    var seed: UInt64 = 1

    @Flag(name: .long, help: "Skip the per-distortion queries (one per kind per photo).")
    var noBreakdown = false

    @Option(name: .long, help: "Decode catalogue photos with at least this short side before distorting them.")
    var shortSide = 448

    @Flag(help: "Print the figures as one JSON object.")
    var json = false

    func validate() throws {
        guard queriesPerItem >= 0 else { throw ValidationError("--queries-per-item must not be negative") }
        guard shortSide >= 32 else { throw ValidationError("--short-side must be at least 32") }
    }

    func run() async throws {
        let files = try Self.imageFiles(under: photos)
        guard files.count >= 2 else { throw CommandError("\(photos): need at least two images to evaluate retrieval") }
        let featurizer = try modelOptions.loadFeaturizer()
        let decoder = ImageDecoder()
        var images: [Image] = []
        var names: [String] = []
        for file in files {
            do {
                images.append(try decoder.decode(file: file, targetShortSide: shortSide))
                names.append(file)
            } catch {
                printError(error)
            }
        }
        var options = RetrievalEvaluation.Options()
        options.seed = seed
        options.queriesPerItem = queriesPerItem
        options.perKind = !noBreakdown
        let evaluation = RetrievalEvaluation(embedder: featurizer, options: options)
        let progress = ProgressReporter(label: "eval", total: images.count)
        let report = try evaluation.run(images: images, names: names, progress: progress)
        let output = StandardOutput()
        output.write(json ? Self.json(report, options: options) : Self.table(report, options: options))
        output.flush()
    }

    /// Image files under `directory`, sorted, so that item numbers (and so the queries) are stable.
    static func imageFiles(under directory: String) throws -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: directory) else {
            throw CommandError("\(directory): cannot read the folder")
        }
        let extensions: Set<String> = ["jpg", "jpeg", "png", "webp"]
        var files: [String] = []
        while let relative = walker.nextObject() as? String {
            if extensions.contains((relative as NSString).pathExtension.lowercased()) {
                files.append(directory + "/" + relative)
            }
        }
        return files.sorted()
    }

    private static func rows(_ report: RetrievalEvaluation.Report) -> [(String, RetrievalMetrics)] {
        [("all", report.overall)] + report.byKind.map { ($0.kind.rawValue, $0.metrics) }
    }

    static func table(_ report: RetrievalEvaluation.Report, options: RetrievalEvaluation.Options) -> String {
        var text = "\(report.items) catalogue photos, seed \(options.seed)\n"
        text += "distortion    queries  recall@1  recall@5     MRR\n"
        for (label, metrics) in rows(report) where metrics.queries > 0 {
            text += label.padding(toLength: 12, withPad: " ", startingAt: 0)
            text += String(
                format: "  %7d  %8.3f  %8.3f  %6.3f\n", metrics.queries, metrics.recallAt1, metrics.recallAt5,
                metrics.meanReciprocalRank)
        }
        return text
    }

    static func json(_ report: RetrievalEvaluation.Report, options: RetrievalEvaluation.Options) -> String {
        let entries = rows(report).filter { $0.1.queries > 0 }.map { label, metrics in
            "{\"distortion\":\(JSONText.string(label)),\"queries\":\(metrics.queries),"
                + "\"recall_at_1\":\(metrics.recallAt1),\"recall_at_5\":\(metrics.recallAt5),"
                + "\"mrr\":\(metrics.meanReciprocalRank)}"
        }
        return "{\"items\":\(report.items),\"seed\":\(options.seed),\"results\":[\(entries.joined(separator: ","))]}\n"
    }
}
