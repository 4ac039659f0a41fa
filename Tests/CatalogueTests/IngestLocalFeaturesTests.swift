import Featurizer
import Foundation
import ImageDecoding
import LocalFeatures
import Testing
import VSearchCore
import VSearchTesting

@testable import Catalogue

/// Ingest with the default model, whose descriptor verifies candidates: every item keeps the local
/// features of its photo, described inside a product shot's outline.
@Suite(.offThePool) struct IngestLocalFeaturesTests {
    static let blendModel = Repository.root + "/models/efficientnet-lite0-blend"

    @Test func itemsKeepTheLocalFeaturesOfTheirPhotoAndAPlainModelKeepsNone() async throws {
        let featurizer = try Featurizer(model: ModelDirectory(path: try Repository.requireModel(Self.blendModel)))
        #expect(featurizer.descriptor.descriptor?.verify != nil)
        let dir = try TemporaryDirectory()
        // A product shot: the cup on a transparent canvas half as large again.
        let shot = dir.path + "/cup.png"
        try Tool.run(
            "convert",
            [
                try Repository.photo("skimage/coffee.png"), "-alpha", "set", "-background", "none", "-gravity",
                "center", "-extent", "150%x150%", shot,
            ])
        let chelsea = try Repository.photo("skimage/chelsea.png")
        let listing = dir.path + "/items.csv"
        try "id,title,url\ncup,Cup,\(shot)\ncat,Cat,\(chelsea)\n".write(
            toFile: listing, atomically: true, encoding: .utf8)
        let store = try CatalogueStore.open(directory: dir.path + "/store", mode: .write)
        let summary = try await Ingester(store: store, featurizer: featurizer).ingest(sources: [listing])
        #expect(summary.added == 2 && summary.failures.isEmpty)

        for (id, path) in [("cup", shot), ("cat", chelsea)] {
            let stored = try #require(try store.localFeatures(ofItem: id))
            let decoded = try featurizer.decodeWithAlpha(
                bytes: Array(try Data(contentsOf: URL(fileURLWithPath: path))), name: path)
            #expect(stored == featurizer.localFeatures(of: decoded.image, alpha: decoded.alpha), "\(id)")
            #expect(stored.count > 300, "\(id): \(stored.count) keypoints")
        }
        // The outline bounds the cup's keypoints: none in the transparent margin (a sixth of each side).
        let cup = try #require(try store.localFeatures(ofItem: "cup"))
        let width = cup.points.map(\.x).max() ?? 0
        #expect(cup.points.allSatisfy { $0.x > 0.15 * 480 && $0.x < 0.85 * 480 }, "a keypoint in the margin")
        #expect(width > 0.6 * 480)

        // The plain model verifies nothing, and stores nothing beside its vectors.
        let plain = try Featurizer(model: ModelDirectory(path: try Repository.requireModel()))
        #expect(plain.localFeatures(of: Image(width: 8, height: 8, pixels: .init(repeating: 0, count: 192))) == nil)
        let plainStore = try CatalogueStore.open(directory: dir.path + "/plain", mode: .write)
        _ = try await Ingester(store: plainStore, featurizer: plain).ingest(sources: [listing])
        #expect(try plainStore.localFeatures(ofItem: "cup") == nil)
        #expect(try plainStore.count() == 2)
    }
}
