import Foundation
import Testing
import VSearchCore
import VSearchTesting

@testable import Featurizer

/// The descriptor recipe of `model.json`: pooling, regions, and its round trip.
@Suite(.offThePool) struct DescriptorTests {
    static let spec = DescriptorSpec(
        map: "head", pooling: .gem, power: 3, item: .init(longSide: 224, shortSide: 224),
        query: .init(longSide: 384, shortSide: 288), regions: [3, 5], overlap: 0.5)

    /// The default network with the region recipe (`scripts/prepare-model.sh lite0 --regions`).
    static let regionsModel = Repository.root + "/models/efficientnet-lite0-regions"

    static func regions() throws -> Featurizer {
        guard FileManager.default.fileExists(atPath: regionsModel + "/model.json") else {
            throw TestFailure("no model at \(regionsModel): run scripts/prepare-model.sh lite0 --regions")
        }
        return try Featurizer(model: ModelDirectory(path: regionsModel))
    }

    @Test func theRecipeRoundTripsThroughModelJSON() throws {
        let directory = try ModelDirectory(path: Self.regionsModel)
        let recipe = try #require(directory.descriptor.descriptor, "the regions model has a descriptor recipe")
        #expect(recipe.problem == nil)
        let data = try JSONEncoder().encode(directory.descriptor)
        let decoded = try JSONDecoder().decode(ModelDescriptor.self, from: data)
        #expect(decoded == directory.descriptor)
        // A recipe is part of the model's identity: its id is not the plain pooled model's.
        let plain = try ModelDirectory(path: Repository.model)
        #expect(plain.descriptor.descriptor == nil)
        #expect(directory.descriptor.id != plain.descriptor.id)
    }

    @Test func badRecipesAreNamed() {
        var spec = Self.spec
        spec.overlap = 1
        #expect(spec.problem?.contains("overlap") == true)
        spec = Self.spec
        spec.query = .init(longSide: 100, shortSide: 200)
        #expect(spec.problem?.contains("descriptor.query") == true)
        spec = Self.spec
        spec.power = .nan
        #expect(spec.problem?.contains("power") == true)
    }

    /// A 2-channel 4 × 6 map whose first channel is hot in one 2 × 2 corner.
    static func map() -> [Float] {
        var data = [Float](repeating: 0.5, count: 2 * 4 * 6)
        for y in 0..<2 { for x in 4..<6 { data[y * 6 + x] = 6 } }
        return data
    }

    @Test func gemPoolingLeansTowardsStrongCellsAndAverageDoesNot() {
        let data = Self.map()
        var average = Self.spec
        average.pooling = .average
        let (gem, mean) = data.withUnsafeBufferPointer { map in
            (
                FeatureMapPooling(spec: Self.spec).whole(map, channels: 2, height: 4, width: 6),
                FeatureMapPooling(spec: average).whole(map, channels: 2, height: 4, width: 6)
            )
        }
        // Average: channel 0 is (4·6 + 20·0.5)/24 ≈ 1.417 against 0.5; GeM: ((4·216 + 20·0.125)/24)^(1/3) ≈ 3.31.
        #expect(abs(mean[0] / mean[1] - 1.4167 / 0.5) < 1e-3)
        #expect(abs(gem[0] / gem[1] - 3.3073 / 0.5) < 1e-2)
        for v in [gem, mean] { #expect(abs(v.reduce(0) { $0 + $1 * $1 } - 1) < 1e-5) }
    }

    @Test func regionsMatchPoolingTheWindowDirectly() {
        var spec = Self.spec
        spec.regions = [2]
        let pooling = FeatureMapPooling(spec: spec)
        let data = Self.map()
        let vectors = data.withUnsafeBufferPointer { pooling.windows($0, channels: 2, height: 4, width: 6) }
        let boxes = FeatureMapPooling.boxes(height: 4, width: 6, sizes: [2], overlap: 0.5)
        // 2 × 2 windows stepping by 1: 3 rows × 5 columns, after the whole map.
        #expect(boxes.count == 15)
        #expect(vectors.count == 16)
        for (box, vector) in zip(boxes, vectors.dropFirst()) {
            var window: [Float] = []
            for c in 0..<2 {
                for y in box.top..<(box.top + box.height) {
                    for x in box.left..<(box.left + box.width) { window.append(data[c * 24 + y * 6 + x]) }
                }
            }
            let direct = window.withUnsafeBufferPointer {
                pooling.whole($0, channels: 2, height: box.height, width: box.width)
            }
            for (a, b) in zip(vector, direct) { #expect(abs(a - b) < 1e-5) }
        }
        // The hot corner's window points at channel 0 far more than the whole map does.
        let corner = boxes.firstIndex { $0.top == 0 && $0.left == 4 }.map { vectors[$0 + 1] }
        #expect((corner?[0] ?? 0) > vectors[0][0])
    }

    /// Average pooling, GeM at the cube (the default, with its own cube roots) and GeM at another power.
    @Test(arguments: [1, 3, 2] as [Float])
    func windowsOfAManyChannelMapMatchPoolingEachWindowDirectly(power: Float) {
        var spec = Self.spec
        spec.regions = [2, 3]
        if power == 1 { spec.pooling = .average } else { spec.power = power }
        let (channels, height, width) = (37, 5, 7)
        var state: UInt64 = 7
        let data = (0..<(channels * height * width)).map { _ -> Float in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(state >> 40) / Float(1 << 24) * 4
        }
        let pooling = FeatureMapPooling(spec: spec)
        let vectors = data.withUnsafeBufferPointer {
            pooling.windows($0, channels: channels, height: height, width: width)
        }
        let boxes = FeatureMapPooling.boxes(height: height, width: width, sizes: [2, 3], overlap: 0.5)
        #expect(vectors.count == 1 + boxes.count)
        let all = FeatureMapPooling.Box(top: 0, left: 0, height: height, width: width)
        for (box, vector) in zip([all] + boxes, vectors) {
            var window: [Float] = []
            for c in 0..<channels {
                for y in box.top..<(box.top + box.height) {
                    for x in box.left..<(box.left + box.width) { window.append(data[(c * height + y) * width + x]) }
                }
            }
            let direct = window.withUnsafeBufferPointer {
                pooling.whole($0, channels: channels, height: box.height, width: box.width)
            }
            #expect(zip(vector, direct).allSatisfy { abs($0 - $1) < 1e-6 }, "power \(power), window \(box)")
        }
    }

    @Test func cubeRootsAreTheLibrarysToFloatPrecision() {
        // Means of cubed activations: from the clamp's 1e-18 to far beyond any real activation, then the edges.
        var values = (0..<200_000).map { pow(10, -18 + 26 * Double($0) / 200_000) }
        values += [0, 0x1p-1000, 0x1p-1001, 1e-310, 0x1p1000, 0x1p1001, .infinity, 1, 8, 27, 0.125]
        let roots = FeatureMapPooling.cubeRoots(values)
        // Rounded to a Float, a root a few double ulps from the library's is the same Float unless it lies that
        // close to a midpoint between two Floats: none of these does.
        for (value, root) in zip(values, roots) {
            #expect(root == Float(cbrt(value)), "∛\(value)")
        }
        #expect(roots.suffix(4) == [1, 2, 3, 0.5])
    }

    @Test func keepingTheStrongestWindowsKeepsTheHotCorner() {
        var spec = Self.spec
        spec.regions = [2]
        spec.keep = 2
        let data = Self.map()
        let kept = data.withUnsafeBufferPointer {
            FeatureMapPooling(spec: spec).windows($0, channels: 2, height: 4, width: 6)
        }
        #expect(kept.count == 3)
        // The strongest window is the 2 × 2 corner where channel 0 is hot: almost all channel 0.
        #expect(kept[1][0] > 0.99)
    }

    @Test func windowsCoverTheFarEdgesAndSkipTheWholeMap() {
        let boxes = FeatureMapPooling.boxes(height: 9, width: 12, sizes: [3, 5, 12], overlap: 0.5)
        #expect(boxes.contains { $0.left + $0.width == 12 && $0.top + $0.height == 9 && $0.width == 3 })
        #expect(boxes.contains { $0.left + $0.width == 12 && $0.top + $0.height == 9 && $0.width == 5 })
        // A window as large as the map in both directions is the whole view, already first.
        #expect(!boxes.contains { $0.width == 12 && $0.height == 9 })
        #expect(Set(boxes).count == boxes.count)
    }

    @Test func aQueryIsTheWholePictureThenItsRegionsAndAnItemIsOneVector() async throws {
        let featurizer = try Self.regions()
        let photo = try featurizer.decode(file: FeaturizerTests.photos + "/coffee.png", for: .query)
        let query = try featurizer.queryVectors([photo])[0]
        let spec = try #require(featurizer.descriptor.descriptor)
        let map = (w: spec.query.longSide / 32, h: spec.query.shortSide / 32)
        let expected = FeatureMapPooling.boxes(height: map.h, width: map.w, sizes: spec.regions, overlap: spec.overlap)
        #expect(query.count == 1 + min(spec.keep ?? expected.count, expected.count))
        let item = try featurizer.features([try featurizer.decode(file: FeaturizerTests.photos + "/coffee.png")])
        #expect(item.count == 1 && item[0].count == featurizer.dimension)
        // The same photo as a query finds itself as an item: its best vector is close to the item's.
        let best = query.map { q in zip(q, item[0]).reduce(0) { $0 + $1.0 * $1.1 } }.max() ?? 0
        #expect(best > 0.85)
    }

    @Test func withoutARecipeAQueryIsTheOnePlainVector() async throws {
        let featurizer = try FeaturizerTests.load()
        let photo = try featurizer.decode(file: FeaturizerTests.photos + "/coffee.png", for: .query)
        let query = try featurizer.queryVectors([photo])
        #expect(query.count == 1 && query[0].count == 1)
        #expect(query[0][0] == (try featurizer.features([photo]))[0])
        #expect(featurizer.windowPenalty == 0)
    }
}
