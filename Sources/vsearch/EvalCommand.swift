import ArgumentParser
import Catalogue
import CataloguePostgres
import Featurizer
import Foundation
import ImageDecoding
import RetrievalEval
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
            re-encoding at quality 40–70; 30 % of them first put the item in a scene: a photo with alpha (a \
            cut-out) is pasted by its own outline into a real scene photo (one without alpha: with --half, one of \
            the other half's, which is not in the catalogue; otherwise one of the catalogue's), \
            its longer side 25–60 % of the scene's shorter side; any other photo is masked by an ellipse or \
            rounded rectangle, scaled to 50–80 %, and put on another catalogue photo or a clutter of patches of \
            several; the crop that follows is moved to keep the pasted item in the picture, as a person aims the \
            camera at it. Photos under a folder pairs/GROUP/ also make the pairs task: each is a query for the other \
            photos of its group. --photos searches exactly; --store searches through the store's own index \
            (ranks beyond 100 count as misses). The report gives recall@1, recall@5 and MRR for the full chain, \
            each distortion alone, the cut-outs with alpha and without, and the pairs; with several seeds, each \
            as the mean over seeds with the range.
            """
    )

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .long, help: "A folder of catalogue photos.")
    var photos: String?

    @Option(name: .long, help: "Evaluate this store (a directory or a postgres:// URL) instead of a folder of photos.")
    var store: String?

    @Option(name: .long, help: "With --store, make queries from this many items spread over the catalogue.")
    var items: Int?

    @Option(name: .long, help: "Full-chain queries per catalogue photo.")
    var queriesPerItem = 3

    @Option(name: .long, help: "The seed the distortions are drawn from.")
    var seed: UInt64 = 1

    @Option(
        name: .long,
        help:
            "Run several seeds: a count (3: --seed, --seed+1, --seed+2) or a list (1,2,3); rows give the mean and range."
    )
    var seeds: String?

    @Option(name: .long, help: "Evaluate only half A or B of the photos (by a hash of each file name; --photos only).")
    var half: EvalHalf?

    @Flag(name: .long, help: "Skip the per-distortion queries (one per kind per photo).")
    var noBreakdown = false

    @Option(name: .long, help: "Decode catalogue photos with at least this short side before distorting them.")
    var shortSide = 448

    @Option(name: .long, help: "Write every query image to this folder (JPEG), to see what is searched.")
    var saveQueries: String?

    @Option(
        name: .long,
        help:
            "Write every query's score against every item to this folder (scores.npy, queries.tsv, items.tsv), to try a ranking offline (--photos and one seed only)."
    )
    var saveScores: String?

    @Flag(
        name: .long,
        help: "With --save-scores, also write the catalogue's and every query's vectors (items.npy, query-vectors.npy)."
    )
    var saveVectors = false

    @Flag(
        name: .long,
        help:
            "Rank as the default model's searches do: gated fusion, then the best candidates (the model's verify.candidates) checked by local features (docs/retrieval.md, Rounds 4-5; --photos only: a --store is always searched as its model says)."
    )
    var verify = false

    @Flag(help: "Print the figures as one JSON object.")
    var json = false

    func validate() throws {
        guard (photos == nil) != (store == nil) else {
            throw ValidationError("give exactly one of --photos and --store")
        }
        if let items, items < 1 { throw ValidationError("--items must be at least 1") }
        guard queriesPerItem >= 0 else { throw ValidationError("--queries-per-item must not be negative") }
        guard shortSide >= 32 else { throw ValidationError("--short-side must be at least 32") }
        _ = try seedList()
        if half != nil, store != nil { throw ValidationError("--half works with --photos only") }
        if verify, store != nil {
            throw ValidationError("--verify works with --photos only: a --store is searched as its model says")
        }
        if saveVectors, saveScores == nil { throw ValidationError("--save-vectors needs --save-scores") }
        if saveScores != nil {
            guard store == nil else { throw ValidationError("--save-scores works with --photos only") }
            guard try seedList().count == 1 else { throw ValidationError("--save-scores works with one seed only") }
        }
    }

    /// The seeds to run, from --seeds (a count from --seed, or a list) or --seed alone.
    func seedList() throws -> [UInt64] {
        guard let seeds else { return [seed] }
        if seeds.contains(",") {
            let list = seeds.split(separator: ",").map { UInt64($0.trimmingCharacters(in: .whitespaces)) }
            guard !list.isEmpty, list.allSatisfy({ $0 != nil }) else {
                throw ValidationError("--seeds: want a count or a comma-separated list of seeds, not '\(seeds)'")
            }
            return list.map { $0! }
        }
        guard let count = Int(seeds), (1...100).contains(count) else {
            throw ValidationError("--seeds: want a count from 1 to 100 or a comma-separated list, not '\(seeds)'")
        }
        return (0..<count).map { seed &+ UInt64($0) }
    }

    func run() async throws {
        let featurizer = try modelOptions.loadFeaturizer()
        var options = RetrievalEvaluation.Options()
        options.seed = seed
        options.queriesPerItem = queriesPerItem
        options.perKind = !noBreakdown
        options.queryFolder = saveQueries
        if saveScores != nil {
            options.scoreRecorder = EvalScoreRecorder(prefix: featurizer.sharedPrefix, keepsVectors: saveVectors)
        }
        if verify {
            let blend = featurizer.descriptor.descriptor?.plainWeight.map {
                CandidateVerification.Blend(prefix: featurizer.sharedPrefix, plainWeight: $0)
            }
            // The model's own check when it has one, so the eval measures what its searches do.
            options.verification = CandidateVerification(
                spec: featurizer.descriptor.descriptor?.verify ?? VerificationSpec(), blend: blend)
        }
        if let half, let photos { options.heldOutScenes = try heldOutScenes(in: photos, other: half) }
        let seeds = try seedList()
        let evaluation = SeededEvaluation(embedder: featurizer, options: options, seeds: seeds)
        let reports: [RetrievalEvaluation.Report]
        if let store {
            reports = try await StoreOptions.withCatalogue(at: store, .read) { catalogue in
                try await evaluate(catalogue, at: store, with: evaluation, featurizer: featurizer)
            }
            for line in reports.first?.skipped ?? [] { printError(line) }
        } else {
            let photos = try loadPhotos()
            reports = try await evaluation.run(photos: photos) { seed in
                ProgressReporter(label: "eval seed \(seed)", total: photos.count)
            }
            if let saveScores, let recorder = options.scoreRecorder {
                let made = RetrievalEvaluation(embedder: featurizer, options: options)
                try recorder.write(to: saveScores, items: photos.names) { made.queries(for: $0).map(\.label) }
            }
        }
        // A store is searched as `vsearch search` searches it: checked when the model says so.
        let checked = verify || (store != nil && featurizer.descriptor.descriptor?.verify != nil)
        let summary = EvalSummary(
            reports: reports, seeds: seeds, half: half, settings: options.settings, verified: checked)
        let output = StandardOutput()
        output.write(json ? summary.json() : summary.table())
        output.flush()
    }

    /// Evaluates a catalogue, a store directory or PostgreSQL alike: its items' images from the
    /// files or the download cache its ingest kept (see ``CatalogueOpener/workDirectory(for:environment:)``),
    /// searched through the catalogue's own index.
    private func evaluate(
        _ catalogue: any CatalogueBackend, at location: String, with evaluation: SeededEvaluation,
        featurizer: Featurizer
    ) async throws -> [RetrievalEvaluation.Report] {
        let photos = StorePhotos(
            items: try await catalogue.items(), cacheDirectory: CatalogueOpener.workDirectory(for: location) + "/cache",
            shortSide: shortSide, limit: items)
        guard photos.count >= 1 else { throw CommandError("\(catalogue.location): no ready items to evaluate") }
        let target = StoreRetrieval(
            store: catalogue, ids: photos.items.map(\.id), modelID: featurizer.descriptor.id,
            windowPenalty: featurizer.windowPenalty, sharedPrefix: featurizer.sharedPrefix,
            check: CandidateCheck(model: featurizer), describe: { featurizer.localFeatures(of: $0) })
        return try await evaluation.run(photos: photos, target: target) { seed in
            ProgressReporter(label: "eval seed \(seed)", total: photos.count)
        }
    }

    /// The photos under --photos (of --half only, when given), with the outlines of those with alpha.
    private func loadPhotos() throws -> PhotosInMemory {
        let folder = photos ?? "."
        var files = try Self.imageFiles(under: folder)
        if let half { files = files.filter { EvalHalf.of(path: $0) == half } }
        guard files.count >= 2 else { throw CommandError("\(folder): need at least two images to evaluate retrieval") }
        let decoder = ImageDecoder(options: modelOptions.decoding)
        var images: [Image] = []
        var names: [String] = []
        var alphas: [[UInt8]?] = []
        for file in files {
            do {
                let decoded = try decoder.decodeWithAlpha(file: file, targetShortSide: shortSide)
                images.append(decoded.image)
                alphas.append(decoded.alpha)
                names.append(file)
            } catch {
                printError(error)
            }
        }
        return PhotosInMemory(images: images, names: names, alphas: alphas)
    }

    /// The scene photos (no alpha) of the half that is not evaluated: backgrounds that are not in
    /// the catalogue for the objects-in-a-scene queries.
    private func heldOutScenes(in folder: String, other half: EvalHalf) throws -> [Image] {
        let decoder = ImageDecoder(options: modelOptions.decoding)
        var scenes: [Image] = []
        for file in try Self.imageFiles(under: folder) where EvalHalf.of(path: file) != half {
            guard let decoded = try? decoder.decodeWithAlpha(file: file, targetShortSide: shortSide),
                decoded.alpha.flatMap(ObjectScene.outline) == nil
            else { continue }
            scenes.append(decoded.image)
        }
        return scenes
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
}

extension EvalHalf: ExpressibleByArgument {}
