import Catalogue
import Foundation
import ImageDecoding
import Testing
import VSearchCore
import VSearchTesting

@testable import RetrievalEval

/// Cut-outs with alpha pasted into real scenes, seeds, halves and the pairs task of `vsearch eval`.
@Suite(.offThePool) struct ObjectSceneTests {
    /// A red disc of radius 20 centred in a 60 × 50 picture, transparent around it: the photo over
    /// white, as decoded, and its alpha (soft at the rim).
    static func redDisc() -> (image: Image, alpha: [UInt8]) {
        let (width, height) = (60, 50)
        var pixels = [UInt8](repeating: 255, count: width * height * 3)
        var alpha = [UInt8](repeating: 0, count: width * height)
        for y in 0..<height {
            for x in 0..<width {
                let distance =
                    ((Double(x) + 0.5 - 30) * (Double(x) + 0.5 - 30) + (Double(y) + 0.5 - 25) * (Double(y) + 0.5 - 25))
                    .squareRoot()
                let a = min(max(20.5 - distance, 0), 1)
                alpha[y * width + x] = UInt8((a * 255).rounded())
                let i = (y * width + x) * 3
                // Red over white by `a`, as the decoder composites.
                (pixels[i], pixels[i + 1], pixels[i + 2]) = (
                    255, UInt8((255 * (1 - a)).rounded()), UInt8((255 * (1 - a)).rounded())
                )
            }
        }
        return (Image(width: width, height: height, pixels: pixels), alpha)
    }

    static func green(width: Int, height: Int) -> Image {
        Image(
            width: width, height: height,
            pixels: (0..<(width * height * 3)).map { $0 % 3 == 1 ? 160 : 40 })
    }

    @Test func theObjectIsPastedByItsOutlineAtItsScale() throws {
        let (disc, alpha) = Self.redDisc()
        let scene = Self.green(width: 200, height: 100)
        let object = ObjectScene(scale: 0.5, x: 0.25, y: 0.5, pick: 0)
        let composite = object.render(disc, alpha: alpha, scene: scene)
        #expect(composite.width == 200 && composite.height == 100)
        // The disc (41 px across) becomes 50 % of the scene's short side: 50 px, placed a quarter of
        // the way along the 150 px of room, so it spans x 38–88 and y 25–75.
        let red = (0..<(200 * 100)).filter { composite[$0 % 200, $0 / 200] == (255, 0, 0) }
        let xs = red.map { $0 % 200 }
        let ys = red.map { $0 / 200 }
        #expect((36...41).contains(xs.min()!) && (85...90).contains(xs.max()!))
        #expect((23...28).contains(ys.min()!) && (72...77).contains(ys.max()!))
        // Everything outside the disc is the scene, and no white backdrop or fringe comes along.
        #expect(
            composite[0, 0] == scene[0, 0] && composite[199, 99] == scene[199, 99] && composite[40, 27] == scene[40, 27]
        )
        #expect(!(0..<(200 * 100)).contains { composite[$0 % 200, $0 / 200] == (255, 255, 255) })
        let rim = (0..<(200 * 100)).map { composite[$0 % 200, $0 / 200] }.filter { $0.g > 165 || $0.b > 45 }
        #expect(rim.isEmpty, "no pixel is lighter than both the object and the scene")
    }

    @Test func theCameraAimsAtThePastedObject() throws {
        let (disc, alpha) = Self.redDisc()
        let scene = Self.green(width: 200, height: 100)
        // The disc lands at the right edge (x 150–200 of 200); the chain's crop, drawn at the left,
        // would leave none of it in the picture.
        var distortion = QueryDistortion()
        (distortion.cropX, distortion.cropY, distortion.cropWidth, distortion.cropHeight) = (0, 0.2, 0.6, 0.6)
        distortion.cutout = CutoutScene(scale: 0.5, x: 0, y: 0, ellipse: false, cornerRadius: 0, picks: [0], grid: 0)
        distortion.objectScene = ObjectScene(scale: 0.5, x: 1, y: 0.5, pick: 0)
        let query = try distortion.apply(to: disc, backgrounds: [scene], alpha: alpha)
        #expect(query.width == 120 && query.height == 60)
        let red = (0..<(120 * 60)).filter {
            let (r, g, b) = query[$0 % 120, $0 / 120]
            return r > 200 && g < 60 && b < 60
        }
        // The whole disc (about 50 × 50 px, 1,960 px of solid red) is in the crop.
        #expect(red.count > 1_700, "the crop holds the object, \(red.count) red pixels")

        // A crop that already holds the object stays where it was drawn; one smaller than the
        // object is centred on it.
        let placed = FractionalBox(x: 0.4, y: 0.4, width: 0.2, height: 0.2)
        var inside = QueryDistortion()
        (inside.cropX, inside.cropY, inside.cropWidth, inside.cropHeight) = (0.3, 0.35, 0.6, 0.6)
        #expect(inside.aimed(at: placed) == inside)
        var small = QueryDistortion()
        (small.cropX, small.cropY, small.cropWidth, small.cropHeight) = (0, 0, 0.1, 0.1)
        let centred = small.aimed(at: placed)
        #expect(abs(centred.cropX - 0.45) < 1e-9 && abs(centred.cropY - 0.45) < 1e-9)
    }

    /// A photo without an outline is pasted under a mask into other catalogue photos; the camera aims at it too,
    /// or the query would show only those others.
    @Test func theCameraAimsAtAMaskedPhoto() throws {
        // Reds that vary, so that no uniform border is keyed out as a product shot's backdrop would be.
        var pixels = [UInt8](repeating: 20, count: 200 * 100 * 3)
        for p in 0..<(200 * 100) { pixels[p * 3] = UInt8(205 + (p * 7) % 50) }
        let photo = Image(width: 200, height: 100, pixels: pixels)
        let background = Self.green(width: 200, height: 100)
        var distortion = QueryDistortion()
        (distortion.cropX, distortion.cropY, distortion.cropWidth, distortion.cropHeight) = (0, 0, 0.4, 0.4)
        // A rectangle of half the scene, at the bottom right (x 100–200, y 50–100); the crop was drawn at the top left.
        distortion.cutout = CutoutScene(scale: 0.5, x: 1, y: 1, ellipse: false, cornerRadius: 0, picks: [0], grid: 0)
        let query = try distortion.apply(to: photo, backgrounds: [background])
        #expect(query.width == 80 && query.height == 40)
        let red = (0..<(80 * 40)).filter { query[$0 % 80, $0 / 80].r > 200 }
        #expect(red.count == 3_200, "the crop lies inside the pasted photo: \(red.count) of 3,200 pixels")
        #expect(distortion.cutout?.placed == FractionalBox(x: 0.5, y: 0.5, width: 0.5, height: 0.5))
    }

    @Test func onlyARealOutlineCounts() {
        #expect(ObjectScene.outline(nil) == nil)
        #expect(ObjectScene.outline([UInt8](repeating: 255, count: 400)) == nil)
        #expect(ObjectScene.outline([UInt8](repeating: 0, count: 400)) == nil)
        let half = [UInt8](repeating: 0, count: 200) + [UInt8](repeating: 255, count: 200)
        #expect(ObjectScene.outline(half) == half)
    }

    @Test func aCutOutIsPastedIntoAnotherRealSceneNeverACutOut() throws {
        let photos = syntheticPhotos()
        let (disc, alpha) = Self.redDisc()
        let images = [disc] + photos + [disc]
        let evaluation = RetrievalEvaluation(embedder: GridColourEmbedder())
        let scenes = [1, 2, 3, 4]
        for item in [0, 5] {
            let queries = evaluation.queries(for: item).filter { $0.distortion.cutout != nil }
            #expect(!queries.isEmpty && queries.allSatisfy { $0.distortion.objectScene != nil })
            for query in queries {
                let scale = try #require(query.distortion.objectScene?.scale)
                #expect(scale >= 0.25 && scale <= 0.6)
            }
            var asked: [Int] = []
            let rendered = try RetrievalEvaluation.render(
                queries, from: disc, name: "disc", alpha: alpha, scenes: scenes,
                backgrounds: {
                    asked.append($0)
                    return images[$0]
                }, item: item, count: images.count)
            #expect(asked.count == queries.count && asked.allSatisfy { scenes.contains($0) })
            // Each query has the size of the scene it was pasted into (before any crop or warp).
            let cutoutRow = try #require(queries.firstIndex { $0.label == "cutout" })
            let scene = images[asked[cutoutRow]]
            #expect(rendered[cutoutRow].width == scene.width && rendered[cutoutRow].height == scene.height)
        }
    }

    @Test func itemsWithoutAlphaDrawTheSameQueriesAsBefore() {
        // The object scene has a stream of its own: every other parameter is drawn as before.
        let evaluation = RetrievalEvaluation(embedder: GridColourEmbedder())
        var generator = SeededGenerator(seed: 1, stream: 4)
        let first = QueryDistortion.random(settings: DistortionSettings(), using: &generator)
        var query = evaluation.queries(for: 4)[0].distortion
        query.objectScene = nil
        #expect(query == first)
    }

    @Test func aRunReportsCutOutsWithAlphaApart() async throws {
        let (disc, alpha) = Self.redDisc()
        let photos = syntheticPhotos()
        var options = RetrievalEvaluation.Options()
        options.queriesPerItem = 1
        let report = try await RetrievalEvaluation(embedder: GridColourEmbedder(), options: options)
            .run(images: photos + [disc], names: ["a", "b", "c", "d", "disc"], alphas: [nil, nil, nil, nil, alpha])
        #expect(report.objectItems == [4])
        let rows = Dictionary(uniqueKeysWithValues: report.rows.map { ($0.label, $0.metrics) })
        #expect(rows["cutout"]?.queries == 5 && rows["cutout/alpha"]?.queries == 1 && rows["cutout/mask"]?.queries == 4)
        #expect(rows["pairs"] == nil)
    }
}

@Suite(.offThePool) struct SeedsHalvesPairsTests {
    static func report(ranks: [Int]) -> RetrievalEvaluation.Report {
        let queries = ranks.enumerated().map {
            (EvalQuery(item: $0.offset, label: "all", distortion: .identity), $0.element)
        }
        return RetrievalEvaluation.Report(
            items: ranks.count, overall: RetrievalMetrics(ranks: ranks), byKind: [], ranks: queries)
    }

    @Test func seedsAreSummarisedAsMeanAndRange() throws {
        let reports = [[1, 1, 2, 1], [1, 3, 1, 1], [1, 1, 1, 1]].map(Self.report)
        let rows = SeededEvaluation.summarise(reports)
        let all = try #require(rows.first)
        #expect(rows.count == 1 && all.label == "all" && all.queries == 4)
        #expect(all.recallAt1 == SeedSpread([0.75, 0.75, 1]))
        #expect(abs(all.recallAt1.mean - 2.5 / 3) < 1e-12 && all.recallAt1.min == 0.75 && all.recallAt1.max == 1)
        #expect(all.recallAt5.min == 1 && all.recallAt5.max == 1)
        #expect(all.perSeed.map(\.recallAt1) == [0.75, 0.75, 1])
        let summary = EvalSummary(reports: reports, seeds: [1, 2, 3], half: .b, settings: DistortionSettings())
        #expect(summary.table().contains("0.833 (0.750–1.000)"))
        #expect(summary.table().contains("half B, seeds 1, 2, 3"))
        let json = try #require(
            try JSONSerialization.jsonObject(with: Data(summary.json().utf8)) as? [String: Any])
        let result = try #require((json["results"] as? [[String: Any]])?.first)
        #expect(result["recall_at_1_min"] as? Double == 0.75 && result["recall_at_1_max"] as? Double == 1)
        #expect((result["per_seed"] as? [[String: Any]])?.count == 3 && json["half"] as? String == "B")
    }

    @Test func eachSeedMakesItsOwnQueriesOnTheSameCatalogue() async throws {
        var options = RetrievalEvaluation.Options()
        options.queriesPerItem = 2
        let photos = PhotosInMemory(images: syntheticPhotos(), names: ["a", "p/pairs/g/b", "p/pairs/g/c", "d"])
        let reports = try await SeededEvaluation(embedder: GridColourEmbedder(), options: options, seeds: [1, 2, 3])
            .run(photos: photos)
        #expect(reports.count == 3)
        #expect(reports[0].ranks.map(\.query) != reports[1].ranks.map(\.query))
        #expect(reports.allSatisfy { $0.pairs?.queries == 2 && $0.pairs == reports[0].pairs })
    }

    @Test func pairsAreFoldersUnderPairsAndScoreByTheOtherPhoto() {
        #expect(PairTask.group(of: "data/eval/pairs/taj-mahal/a.jpg") == "taj-mahal")
        #expect(PairTask.group(of: "pairs/x/a.jpg") == "x")
        #expect(PairTask.group(of: "data/eval/scenes/a.jpg") == nil)
        #expect(PairTask.group(of: "data/pairs/a.jpg") == nil)
        let names = ["s/one.jpg", "pairs/g/a.jpg", "pairs/g/b.jpg", "pairs/g/c.jpg", "pairs/lone/x.jpg", "s/two.jpg"]
        let task = PairTask(names: names)
        #expect(task.groups == [[1, 2, 3]])
        // a is nearest to b; b is nearest to a; c is nearer to item 0 and 5 than to its group.
        let vectors: [[Float]] = [
            [0, 0, 1], [1, 0, 0], [0.96, 0.28, 0], [0.6, 0, 0.8], [0, 1, 0], [0.5, 0, 0.866],
        ]
        #expect(task.ranks(vectors: vectors) == [1, 1, 3])
        #expect(PairTask(names: ["a", "b"]).metrics(vectors: [[1], [1]]) == nil)
    }

    @Test func halvesFollowTheFileNameAndKeepPairsWhole() {
        // FNV-1a test vectors; scripts/eval_set.py computes the same.
        #expect(EvalHalf.hash("a") == 0xAF63_DC4C_8601_EC8C)
        #expect(EvalHalf.hash("foobar") == 0x8594_4171_F739_67E8)
        #expect(EvalHalf.of(path: "x/y/tuxpaint-birds-crow.png") == .a)
        #expect(
            EvalHalf.of(path: "data/eval/scenes/tuxpaint-birds-crow.png")
                == EvalHalf.of(path: "tuxpaint-birds-crow.png"))
        #expect(
            EvalHalf.of(path: "data/eval/pairs/taj-mahal/1.jpg") == EvalHalf.of(path: "data/eval/pairs/taj-mahal/2.jpg")
        )
        let names = (0..<200).map { "scenes/photo-\($0).jpg" }
        let inA = names.count { EvalHalf.of(path: $0) == .a }
        #expect(inA > 70 && inA < 130)
    }
}
