import Catalogue
import Foundation
import ImageDecoding
import ImageOps
import Testing
import VSearchCore
import VSearchTesting

@testable import RetrievalEval

/// A stand-in for the network: the mean colour of each cell of a 4×4 grid, so tests need no model.
struct GridColourEmbedder: ImageEmbedder {
    func embed(_ images: [Image]) throws -> [[Float]] {
        images.map { image in
            var vector = [Float](repeating: 0, count: 48)
            var counts = [Float](repeating: 0, count: 16)
            for y in 0..<image.height {
                for x in 0..<image.width {
                    let cell = (y * 4 / image.height) * 4 + x * 4 / image.width
                    let (r, g, b) = image[x, y]
                    vector[cell * 3] += Float(r)
                    vector[cell * 3 + 1] += Float(g)
                    vector[cell * 3 + 2] += Float(b)
                    counts[cell] += 1
                }
            }
            return vector.enumerated().map { $0.element / max(1, counts[$0.offset / 3]) - 128 }
        }
    }
}

/// Distinct synthetic photos: gradients and stripes in different colours and directions.
func syntheticPhotos() -> [Image] {
    (0..<4).map { n in
        let (width, height) = (64 + 8 * n, 48)
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let i = (y * width + x) * 3
                let stripe = ((x + y * n) / (4 + n)) % 2 == 0
                pixels[i] = UInt8((x * 255 / width + n * 60) % 256)
                pixels[i + 1] = stripe ? UInt8(40 * n) : 200
                pixels[i + 2] = UInt8((y * 255 / height + n * 90) % 256)
            }
        }
        return Image(width: width, height: height, pixels: pixels)
    }
}

/// `vsearch eval`: query generation, the evaluation loop and the metrics.
@Suite(.offThePool) struct EvalTests {
    @Test func sameSeedMakesTheSameQueries() throws {
        var options = RetrievalEvaluation.Options()
        options.seed = 7
        let first = RetrievalEvaluation(embedder: GridColourEmbedder(), options: options)
        let second = RetrievalEvaluation(embedder: GridColourEmbedder(), options: options)
        options.seed = 8
        let other = RetrievalEvaluation(embedder: GridColourEmbedder(), options: options)
        #expect(first.queries(for: 2) == second.queries(for: 2))
        #expect(first.queries(for: 2) != other.queries(for: 2))
        #expect(first.queries(for: 2) != first.queries(for: 3))
        let photo = syntheticPhotos()[1]
        let rendered = try RetrievalEvaluation.render(first.queries(for: 2), from: photo, name: "a")
        let again = try RetrievalEvaluation.render(second.queries(for: 2), from: photo, name: "a")
        #expect(rendered == again)
        #expect(rendered.count == 3 + DistortionKind.allCases.count)
        // The full-chain queries (the first three) always change the photo; a blur alone can be too small to.
        #expect(rendered.prefix(3).allSatisfy { $0 != photo })
    }

    @Test func distortionsStayWithinTheirRanges() {
        var generator = SeededGenerator(seed: 3)
        for _ in 0..<200 {
            let d = QueryDistortion.random(using: &generator)
            #expect(d.cropWidth >= 0.57 && d.cropWidth <= 0.945 && d.cropX >= 0 && d.cropX + d.cropWidth <= 1)
            #expect(abs(d.rotation) <= 10 * Double.pi / 180)
            #expect(d.jpegQuality.map { (40...70).contains($0) } == true)
        }
        let cropOnly = QueryDistortion.random(kinds: [.crop], using: &generator)
        #expect(
            cropOnly.rotation == 0 && cropOnly.jpegQuality == nil && cropOnly.contrast == 1 && cropOnly.cropWidth < 1)
    }

    @Test func unmodifiedQueriesRankTheirPhotoFirst() async throws {
        let photos = syntheticPhotos()
        #expect(try QueryDistortion.identity.apply(to: photos[0]) == photos[0])
        var options = RetrievalEvaluation.Options()
        options.perKind = false
        options.queriesPerItem = 2
        options.settings.cropFraction = 1...1
        options.settings.maxRotationDegrees = 0
        options.settings.maxPerspective = 0
        options.settings.maxBrightness = 0
        options.settings.contrast = 1...1
        options.settings.saturation = 1...1
        options.settings.maxWhiteBalance = 0
        options.settings.blurSigma = 0...0
        options.settings.jpegQuality = nil
        options.settings.cutoutShare = 0
        let report = try await RetrievalEvaluation(embedder: GridColourEmbedder(), options: options)
            .run(images: photos, names: ["a", "b", "c", "d"])
        #expect(report.overall == RetrievalMetrics(ranks: Array(repeating: 1, count: 8)))
        #expect(report.overall.recallAt1 == 1 && report.overall.meanReciprocalRank == 1)
    }

    @Test func theFullChainStillChangesEveryPhoto() async throws {
        let photos = syntheticPhotos()
        var options = RetrievalEvaluation.Options()
        options.queriesPerItem = 1
        let report = try await RetrievalEvaluation(embedder: GridColourEmbedder(), options: options)
            .run(images: photos, names: ["a", "b", "c", "d"])
        #expect(report.overall.queries == 4)
        #expect(report.byKind.map(\.kind) == DistortionKind.allCases)
        #expect(report.byKind.allSatisfy { $0.metrics.queries == 4 })
        #expect(report.ranks.allSatisfy { (1...4).contains($0.rank) })
    }

    @Test func metricsFollowTheirDefinitions() {
        let metrics = RetrievalMetrics(ranks: [1, 2, 6, 1])
        #expect(metrics.queries == 4)
        #expect(metrics.recallAt1 == 0.5)
        #expect(metrics.recallAt5 == 0.75)
        #expect(abs(metrics.meanReciprocalRank - (1 + 0.5 + 1.0 / 6 + 1) / 4) < 1e-12)
        #expect(RetrievalMetrics(ranks: []).recallAt1 == 0)
    }

    @Test func ranksCountTiesAgainstTheRightAnswer() {
        #expect(RetrievalMetrics.rank(of: 2, scores: [0.1, 0.5, 0.9, 0.3]) == 1)
        #expect(RetrievalMetrics.rank(of: 0, scores: [0.1, 0.5, 0.9, 0.3]) == 4)
        #expect(RetrievalMetrics.rank(of: 1, scores: [0.5, 0.5, 0.2]) == 2)
    }

    @Test func jpegRoundTripKeepsTheImage() throws {
        // A smooth gradient: JPEG keeps it close, where sharp stripes would ring.
        let (width, height) = (64, 48)
        let pixels = (0..<width * height).flatMap { i -> [UInt8] in
            let (x, y) = (i % width, i / width)
            return [UInt8(x * 3), UInt8(y * 4), UInt8(100 + x + y)]
        }
        let photo = Image(width: width, height: height, pixels: pixels)
        let bytes = try JPEGEncoder.encode(photo, quality: 95, name: "x")
        #expect(bytes.prefix(2) == [0xFF, 0xD8])
        let decoded = try ImageDecoder().decode(bytes: bytes, name: "x")
        #expect(decoded.width == photo.width && decoded.height == photo.height)
        let error = zip(decoded.pixels, photo.pixels).map { abs(Int($0) - Int($1)) }.reduce(0, +)
        #expect(Double(error) / Double(photo.pixels.count) < 3)
    }
}

/// Product cut-outs on a cluttered background, and evaluating an existing store.
@Suite(.offThePool) struct CutoutEvalTests {
    /// A red square product on a white studio backdrop.
    static func productShot() -> Image {
        let (width, height) = (60, 40)
        var pixels = [UInt8](repeating: 255, count: width * height * 3)
        for y in 10..<30 {
            for x in 20..<40 {
                let i = (y * width + x) * 3
                (pixels[i], pixels[i + 1], pixels[i + 2]) = (200, 20, 20)
            }
        }
        return Image(width: width, height: height, pixels: pixels)
    }

    @Test func backgroundsAreOtherItemsAndTheSceneFollowsTheSeed() {
        var generator = SeededGenerator(seed: 5)
        for _ in 0..<100 {
            let scene = CutoutScene.random(scales: 0.5...0.8, clutterShare: 0.5, using: &generator)
            #expect(scene.scale >= 0.5 && scene.scale <= 0.8)
            let items = scene.backgroundItems(item: 3, count: 7)
            #expect(items.count == (scene.grid == 0 ? 1 : scene.grid * scene.grid))
            #expect(items.allSatisfy { $0 != 3 && (0..<7).contains($0) })
        }
        var first = SeededGenerator(seed: 9)
        var second = SeededGenerator(seed: 9)
        #expect(
            CutoutScene.random(scales: 0.5...0.8, clutterShare: 0.5, using: &first)
                == CutoutScene.random(scales: 0.5...0.8, clutterShare: 0.5, using: &second))
    }

    @Test func aProductOnWhiteIsKeyedOutOntoTheBackground() {
        let product = Self.productShot()
        let green = Image(
            width: 60, height: 40,
            pixels: [UInt8](repeating: 0, count: 60 * 40 * 3).enumerated().map {
                $0.offset % 3 == 1 ? 180 : 30
            })
        let scene = CutoutScene(
            scale: 0.8, x: 0.5, y: 0.5, ellipse: false, cornerRadius: 0.1, picks: [0.2], grid: 0)
        let composite = scene.render(product, backgrounds: [green])
        #expect(composite.width == product.width && composite.height == product.height)
        // The scene's corners are background; its centre is the product; no white backdrop is left.
        #expect(composite[0, 0] == green[0, 0])
        #expect(composite[30, 20] == (200, 20, 20))
        let white = (0..<(60 * 40)).count { composite[$0 % 60, $0 / 60] == (255, 255, 255) }
        #expect(white == 0)
    }

    @Test func theCutoutRowAlwaysShowsAScene() throws {
        let photos = syntheticPhotos()
        let evaluation = RetrievalEvaluation(embedder: GridColourEmbedder())
        let queries = evaluation.queries(for: 1)
        let cutout = try #require(queries.first { $0.label == "cutout" })
        #expect(cutout.distortion.cutout != nil && cutout.distortion.jpegQuality == nil)
        let rendered = try RetrievalEvaluation.render(
            [cutout], from: photos[1], name: "b", backgrounds: { photos[$0] }, item: 1, count: photos.count)
        #expect(rendered[0] != photos[1])
        #expect(rendered[0].width == photos[1].width)
        // Over many items about the configured share of full-chain queries are scenes.
        let all = (0..<200).flatMap { evaluation.queries(for: $0).filter { $0.label == "all" } }
        let share = Double(all.count { $0.distortion.cutout != nil }) / Double(all.count)
        #expect(share > 0.2 && share < 0.4)
    }

    @Test func aStoreIsEvaluatedThroughItsIndexFromItsImages() async throws {
        let dir = try TemporaryDirectory()
        let photos = syntheticPhotos()
        let embedder = GridColourEmbedder()
        let store = try CatalogueStore.open(directory: dir.path + "/store", mode: .write)
        try store.bind(modelID: "grid/1", dimension: 48)
        var staged: [StagedItem] = []
        for (n, photo) in photos.enumerated() {
            let path = dir.path + "/p\(n).jpg"
            try Data(try JPEGEncoder.encode(photo, quality: 95, name: path)).write(to: URL(fileURLWithPath: path))
            staged.append(StagedItem(id: "p\(n)", title: "", url: path, attributes: "{}", contentHash: "h\(n)"))
        }
        staged.append(
            StagedItem(id: "gone", title: "", url: dir.path + "/gone.jpg", attributes: "{}", contentHash: "g"))
        let vectors = try embedder.embed(photos + [photos[0]]).map(RetrievalEvaluation.normalised)
        try store.put(staged, vectors: vectors.flatMap { $0 })

        var options = RetrievalEvaluation.Options()
        options.perKind = false
        options.queriesPerItem = 1
        options.settings.jpegQuality = nil
        options.settings.cutoutShare = 0
        options.settings.maxRotationDegrees = 0
        options.settings.maxPerspective = 0
        options.settings.cropFraction = 0.95...0.95
        let source = try StorePhotos(store: store, shortSide: 32)
        #expect(source.items.map(\.id) == ["gone", "p0", "p1", "p2", "p3"])
        let target = StoreRetrieval(store: store, ids: source.items.map(\.id), modelID: "grid/1")
        let report = try await RetrievalEvaluation(embedder: embedder, options: options)
            .run(photos: source, target: target)
        #expect(report.skipped.count == 1 && report.skipped[0].hasPrefix("gone"))
        #expect(report.items == 4)
        #expect(report.overall.queries == 4)
        #expect(report.ranks.allSatisfy { $0.rank >= 1 })
        #expect(report.overall.recallAt5 == 1)
    }
}

/// Two query vectors per image that share their first half: the grid colours, and the same with
/// the second half reversed (the same length, so both keep the same prefix once normalised).
struct SharedPrefixEmbedder: ImageEmbedder {
    func embed(_ images: [Image]) throws -> [[Float]] { try GridColourEmbedder().embed(images) }
    func embedQueries(_ images: [Image]) throws -> [[[Float]]] {
        try embed(images).map { [$0, Array($0[..<24]) + $0[24...].reversed()] }
    }
}

/// `vsearch eval --save-scores`: what it writes adds up to the ranking the eval reported.
@Suite(.offThePool) struct EvalScoreRecorderTests {
    /// Evaluates four synthetic photos, two queries each, and writes what the recorder kept into `folder`.
    static func recordedRun(keepsVectors: Bool, into folder: String) async throws -> RetrievalEvaluation.Report {
        var options = RetrievalEvaluation.Options()
        options.queriesPerItem = 2
        let recorder = EvalScoreRecorder(prefix: 24, keepsVectors: keepsVectors)
        options.scoreRecorder = recorder
        let evaluation = RetrievalEvaluation(embedder: SharedPrefixEmbedder(), options: options)
        let names = ["a", "b", "c", "d"]
        let report = try await evaluation.run(images: syntheticPhotos(), names: names)
        try recorder.write(to: folder, items: names) { evaluation.queries(for: $0).map(\.label) }
        return report
    }

    @Test func theSavedPartsReproduceEveryReportedRank() async throws {
        let directory = try TemporaryDirectory()
        let folder = directory.path + "/scores"
        let report = try await Self.recordedRun(keepsVectors: false, into: folder)

        let scores = try NumpyArray.read(path: folder + "/scores.npy")
        #expect(scores.shape == [report.ranks.count, 4, 2])
        let rows = try String(contentsOfFile: folder + "/queries.tsv", encoding: .utf8)
            .split(separator: "\n").dropFirst().map { $0.split(separator: "\t").map(String.init) }
        #expect(rows.count == report.ranks.count)
        var windowsMatter = false
        for (index, (query, rank)) in report.ranks.enumerated() {
            #expect(rows[index][1] == String(query.item) && rows[index][2] == query.label)
            let parts = (0..<4).map { (scores.values[(index * 4 + $0) * 2], scores.values[(index * 4 + $0) * 2 + 1]) }
            #expect(RetrievalMetrics.rank(of: query.item, scores: parts.map { $0.0 + $0.1 }) == rank)
            if RetrievalMetrics.rank(of: query.item, scores: parts.map(\.0)) != rank { windowsMatter = true }
        }
        // The second part is what separates the items here, so the test would see it missing.
        #expect(windowsMatter)
        let items = try String(contentsOfFile: folder + "/items.tsv", encoding: .utf8)
        #expect(items == "item\tphoto\n0\ta\n1\tb\n2\tc\n3\td\n")
    }

    @Test func theSavedVectorsGiveTheSavedScores() async throws {
        let directory = try TemporaryDirectory()
        let folder = directory.path + "/scores"
        let report = try await Self.recordedRun(keepsVectors: true, into: folder)

        let scores = try NumpyArray.read(path: folder + "/scores.npy")
        let items = try NumpyArray.read(path: folder + "/items.npy")
        let queries = try NumpyArray.read(path: folder + "/query-vectors.npy")
        let dimension = items.shape[1]
        #expect(items.shape == [4, dimension] && dimension > 24)
        #expect(queries.shape == [report.ranks.count, 2, dimension])
        func slice(_ array: NumpyArray, _ row: Int, _ range: Range<Int>) -> [Float] {
            Array(array.values[(row * dimension + range.lowerBound)..<(row * dimension + range.upperBound)])
        }
        for query in 0..<report.ranks.count {
            for item in 0..<4 {
                let prefix = ExactRetrieval.dot(
                    slice(queries, query * 2, 0..<24), slice(items, item, 0..<24), over: 0..<24)
                let rest = (0..<2).map {
                    ExactRetrieval.dot(
                        slice(queries, query * 2 + $0, 24..<dimension), slice(items, item, 24..<dimension),
                        over: 0..<(dimension - 24))
                }.max()!
                #expect(abs(prefix - scores.values[(query * 4 + item) * 2]) < 1e-5)
                #expect(abs(rest - scores.values[(query * 4 + item) * 2 + 1]) < 1e-5)
            }
        }
    }
}
