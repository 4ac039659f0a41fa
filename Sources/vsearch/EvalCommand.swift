import ArgumentParser
import Catalogue
import Featurizer
import Foundation
import ImageDecoding
import VSearchCore

/// `vsearch eval --photos DIR`: an open retrieval benchmark on real photos.
struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Measure retrieval: search camera-like distortions of catalogue photos against the catalogue.",
        discussion: """
            The catalogue is every image under --photos (searched recursively; .jpg .jpeg .png .webp), or the items \
            of an existing store (--store), whose images come from the store's cache or their files. From each item, \
            queries are made with a fixed seed as a camera would see it: a crop of 60–90 %, a rotation of up to \
            ±10°, a perspective change, brightness/contrast/saturation/white-balance changes, a blur, and JPEG \
            re-encoding at quality 40–70; 30 % of them first put the item, cut out and scaled to 50–80 %, on \
            another catalogue photo or a clutter of patches of several. --photos searches exactly; --store \
            searches through the store's own index (ranks beyond 100 count as misses). The report gives recall@1, \
            recall@5 and MRR for the full chain and for each distortion alone.
            """
    )

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .long, help: "A folder of catalogue photos.")
    var photos: String?

    @Option(name: .long, help: "Evaluate this store instead of a folder of photos.")
    var store: String?

    @Option(name: .long, help: "With --store, make queries from this many items spread over the catalogue.")
    var items: Int?

    @Option(name: .long, help: "Full-chain queries per catalogue photo.")
    var queriesPerItem = 3

    @Option(name: .long, help: "The seed the distortions are drawn from.")
    var seed: UInt64 = 1

    @Flag(name: .long, help: "Skip the per-distortion queries (one per kind per photo).")
    var noBreakdown = false

    @Option(name: .long, help: "Decode catalogue photos with at least this short side before distorting them.")
    var shortSide = 448

    @Option(name: .long, help: "Write every query image to this folder (JPEG), to see what is searched.")
    var saveQueries: String?

    @Flag(help: "Print the figures as one JSON object.")
    var json = false

    func validate() throws {
        guard (photos == nil) != (store == nil) else {
            throw ValidationError("give exactly one of --photos and --store")
        }
        if let items, items < 1 { throw ValidationError("--items must be at least 1") }
        guard queriesPerItem >= 0 else { throw ValidationError("--queries-per-item must not be negative") }
        guard shortSide >= 32 else { throw ValidationError("--short-side must be at least 32") }
    }

    func run() async throws {
        let featurizer = try modelOptions.loadFeaturizer()
        var options = RetrievalEvaluation.Options()
        options.seed = seed
        options.queriesPerItem = queriesPerItem
        options.perKind = !noBreakdown
        options.queryFolder = saveQueries
        let evaluation = RetrievalEvaluation(embedder: featurizer, options: options)
        let report: RetrievalEvaluation.Report
        if let store {
            let opened = try CatalogueStore.open(directory: store, mode: .read)
            let photos = try StorePhotos(store: opened, shortSide: shortSide, limit: items)
            guard photos.count >= 1 else { throw CommandError("\(store): no ready items to evaluate") }
            let target = StoreRetrieval(
                store: opened, ids: photos.items.map(\.id), modelID: featurizer.descriptor.id)
            let progress = ProgressReporter(label: "eval", total: photos.count)
            report = try evaluation.run(photos: photos, target: target, progress: progress)
            for line in report.skipped { printError(line) }
        } else {
            report = try runOnPhotos(evaluation, featurizer: featurizer)
        }
        let output = StandardOutput()
        output.write(json ? Self.json(report, options: options) : Self.table(report, options: options))
        output.flush()
    }

    private func runOnPhotos(_ evaluation: RetrievalEvaluation, featurizer: Featurizer) throws
        -> RetrievalEvaluation.Report
    {
        let folder = photos ?? "."
        let files = try Self.imageFiles(under: folder)
        guard files.count >= 2 else { throw CommandError("\(folder): need at least two images to evaluate retrieval") }
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
        let progress = ProgressReporter(label: "eval", total: images.count)
        return try evaluation.run(images: images, names: names, progress: progress)
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
        var text = "\(report.items) catalogue photos, seed \(options.seed)"
        text += report.skipped.isEmpty ? "\n" : ", \(report.skipped.count) without a readable photo\n"
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
