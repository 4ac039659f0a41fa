import Foundation
import ImageDecoding
import ImageOps
import Testing
import VSearchTesting

@testable import RetrievalEval

/// A stand-in network that cannot tell pictures apart: every vector is the same.
struct BlindEmbedder: ImageEmbedder {
    func embed(_ images: [Image]) throws -> [[Float]] { images.map { _ in [1, 0, 0, 0] } }
}

/// `vsearch eval --verify`: candidates re-ranked by local features, on real photos.
@Suite(.offThePool) struct EvalVerificationTests {
    @Test func localFeaturesFindWhatTheVectorsCannot() async throws {
        let names = [
            "skimage/astronaut.png", "skimage/coffee.png", "skimage/chelsea.png", "skimage/rocket.jpg",
            "skimage/motorcycle_left.png",
        ]
        // At 320 pixels, so that the test stays quick in a debug build.
        let photos = try names.map {
            ImageResize.fit(try ImageDecoder().decode(file: try Repository.photo($0)), longestSide: 320)
        }
        var options = RetrievalEvaluation.Options()
        options.perKind = false
        options.queriesPerItem = 4
        options.settings.cutoutShare = 0
        // Every item ties, and a tie counts against the right answer: nothing is found first.
        let blind = try await RetrievalEvaluation(embedder: BlindEmbedder(), options: options)
            .run(images: photos, names: names)
        #expect(blind.overall.recallAt1 == 0)

        options.verification = CandidateVerification(blend: nil)
        let verified = try await RetrievalEvaluation(embedder: BlindEmbedder(), options: options)
            .run(images: photos, names: names)
        // Cropped, turned, recoloured, blurred and re-encoded photos still share placed keypoints with their
        // original, and with no other photo.
        #expect(verified.overall.queries == 20)
        #expect(verified.overall.recallAt1 >= 0.9, "recall@1 \(verified.overall.recallAt1)")
    }

    /// G1: the mean of the two cosines when a second item also has a strong window, else the better one.
    @Test func theGateChoosesBetweenMeanAndMaximum() {
        let p: Float = 0.4
        let settings = CandidateVerification(blend: .init(prefix: 2, plainWeight: p))
        let catalogue = VerifiedCatalogue(
            settings: settings,
            photos: PhotosInMemory(
                images: [Image](
                    repeating: Image(width: 8, height: 8, pixels: .init(repeating: 9, count: 192)), count: 3),
                names: ["a", "b", "c"]))
        let norm = (p * p + (1 - p) * (1 - p)).squareRoot()
        // Items [a ; s] / √2 with unit halves; the query [p·q ; (1 − p)·w] / norm.
        func item(_ plain: (Float, Float), _ window: (Float, Float)) -> [Float] {
            [plain.0, plain.1, window.0, window.1].map { $0 / (2 as Float).squareRoot() }
        }
        let query: [Float] = [p * 1, 0, (1 - p) * 1, 0].map { $0 / norm }
        let angle = { (cosine: Float) in (cosine, (1 - cosine * cosine).squareRoot()) }
        // Plain cosines 0.9, 0.2, 0.1; window cosines 0.3, 0.5, 0.8: no second window above 0.6.
        let weak = [item(angle(0.9), angle(0.3)), item(angle(0.2), angle(0.5)), item(angle(0.1), angle(0.8))]
        let maxima = catalogue.fused(query: [query], catalogue: weak, windowPenalty: 0)
        for (got, want) in zip(maxima, [Float(0.9), 0.5, 0.8]) { #expect(abs(got - want) < 1e-5) }
        // Windows 0.3, 0.7, 0.8: the second best is above 0.6, so each item gets the mean.
        let strong = [item(angle(0.9), angle(0.3)), item(angle(0.2), angle(0.7)), item(angle(0.1), angle(0.8))]
        let means = catalogue.fused(query: [query], catalogue: strong, windowPenalty: 0)
        for (got, want) in zip(means, [Float(0.6), 0.45, 0.45]) { #expect(abs(got - want) < 1e-5) }
    }
}
