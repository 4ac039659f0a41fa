import Foundation
import Testing
import VSearchCore
import VSearchTesting

@testable import Featurizer

/// The blend recipe (`scripts/prepare-model.sh lite0 --blend`): every vector is the plain
/// centre-crop vector beside a GeM-pooled one, so one dot product scores both.
@Suite(.offThePool) struct BlendDescriptorTests {
    static let blendModel = Repository.root + "/models/efficientnet-lite0-blend"

    static func blend() throws -> Featurizer {
        guard FileManager.default.fileExists(atPath: blendModel + "/model.json") else {
            throw TestFailure("no model at \(blendModel): run scripts/prepare-model.sh lite0 --blend")
        }
        return try Featurizer(model: ModelDirectory(path: blendModel))
    }

    static func dot(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }

    /// The default model's network with its recipe changed by `change`, in a folder `name` of
    /// `scratch` (which the change may write files into).
    static func variant(
        _ name: String, in scratch: TemporaryDirectory, _ change: (inout ModelDescriptor, String) throws -> Void
    ) throws -> Featurizer {
        let source = try ModelDirectory(path: try Repository.requireModel(blendModel))
        let directory = scratch.path + "/" + name
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: directory + "/model.onnx", withDestinationPath: source.onnxURL.path)
        var descriptor = source.descriptor
        descriptor.id = "test-\(name)/1"
        descriptor.logits = nil
        try change(&descriptor, directory)
        try JSONEncoder().encode(descriptor).write(to: URL(fileURLWithPath: directory + "/model.json"))
        return try Featurizer(model: ModelDirectory(path: directory))
    }

    /// The default recipe without its whitening: the vectors its map is learned from.
    static func unwhitened(in scratch: TemporaryDirectory) throws -> Featurizer {
        try variant("unwhitened", in: scratch) { descriptor, _ in descriptor.descriptor?.whitening = nil }
    }

    @Test func theRecipeRoundTripsAndIsItsOwnModel() throws {
        let directory = try ModelDirectory(path: Self.blendModel)
        let recipe = try #require(directory.descriptor.descriptor)
        #expect(recipe.problem == nil)
        #expect(recipe.plainWeight == 0.4)
        #expect(recipe.item == .init(longSide: 160, shortSide: 160))
        let decoded = try JSONDecoder().decode(
            ModelDescriptor.self, from: try JSONEncoder().encode(directory.descriptor))
        #expect(decoded == directory.descriptor)
        #expect(directory.descriptor.vectorDimension == 2 * directory.descriptor.feature.dimension)
        let plain = try ModelDirectory(path: Repository.model)
        #expect(plain.descriptor.vectorDimension == plain.descriptor.feature.dimension)
        #expect(directory.descriptor.id != plain.descriptor.id)
    }

    @Test func aPlainWeightOutsideZeroToOneIsNamed() {
        var spec = DescriptorTests.spec
        for weight: Float in [0, 1, -0.5, .nan] {
            spec.plainWeight = weight
            #expect(spec.problem?.contains("plainWeight") == true, "\(weight)")
        }
        spec.plainWeight = 0.4
        spec.extraItemSizes = [.init(longSide: 0, shortSide: 0)]
        #expect(spec.problem?.contains("extraItemSizes") == true)
    }

    /// Without the whitening, an item's vector is [plain ; pooled] / √2 with `plain` exactly the plain
    /// model's vector of the same photo; every query vector's first part is the plain model's query
    /// vector, weighted 0.4 against 0.6, and there are as many as the windows kept.
    @Test func itemAndQueryVectorsCarryThePlainModelsVector() async throws {
        let scratch = try TemporaryDirectory("blend-unwhitened")
        let blend = try Self.unwhitened(in: scratch)
        let plain = try FeaturizerTests.load()
        let channels = plain.dimension
        #expect(blend.dimension == 2 * channels)
        let path = FeaturizerTests.photos + "/coffee.png"

        let item = try blend.features([try blend.decode(file: path)])[0]
        let plainItem = try plain.features([try plain.decode(file: path)])[0]
        #expect(item.count == 2 * channels)
        #expect(abs(Self.dot(item, item) - 1) < 1e-4)
        let firstHalf = item[0..<channels].map { $0 * Float(2).squareRoot() }
        #expect(zip(firstHalf, plainItem).allSatisfy { abs($0 - $1) < 1e-4 })
        let pooledHalf = Array(item[channels...])
        #expect(abs(Self.dot(pooledHalf, pooledHalf) - 0.5) < 1e-3)
        #expect(try #require(blend.plainPart(of: item)).count == channels)

        let query = try blend.queryVectors([try blend.decode(file: path, for: .query)])[0]
        let spec = try #require(blend.descriptor.descriptor)
        #expect(query.count == spec.keep)
        let plainQuery = try plain.queryVectors([try plain.decode(file: path, for: .query)])[0][0]
        for vector in query {
            #expect(abs(Self.dot(vector, vector) - 1) < 1e-4)
            let head = Array(vector[0..<channels])
            let tail = Array(vector[channels...])
            // 0.4 : 0.6 between the two unit halves.
            #expect(abs(Self.dot(head, head).squareRoot() / Self.dot(tail, tail).squareRoot() - 0.4 / 0.6) < 1e-3)
            // The query is decoded larger for its windows, so its plain half is close, not equal.
            #expect(Self.dot(try #require(blend.plainPart(of: vector)), plainQuery) > 0.98)
        }
        // The photo searched for scores its own item well above another photo's.
        let other = try blend.features([try blend.decode(file: FeaturizerTests.photos + "/chelsea.png")])[0]
        let own = query.map { Self.dot($0, item) }.max() ?? 0
        #expect(own > (query.map { Self.dot($0, other) }.max() ?? 1) + 0.2)
    }

    /// With `extraItemSizes`, an item's pooled half is the normalised sum of the unit vectors of
    /// every size: here 160 and 224, each checked against a recipe of that size alone.
    @Test func extraItemSizesSumTheVectorsOfEverySize() async throws {
        let scratch = try TemporaryDirectory("blend-sizes")
        func featurizer(_ name: String, item: Int, extra: [Int]) throws -> Featurizer {
            try Self.variant(name, in: scratch) { descriptor, _ in
                descriptor.descriptor?.whitening = nil
                descriptor.descriptor?.item = .init(longSide: item, shortSide: item)
                descriptor.descriptor?.extraItemSizes = extra.map { .init(longSide: $0, shortSide: $0) }
            }
        }
        let both = try featurizer("both", item: 224, extra: [160])
        let small = try featurizer("small", item: 160, extra: [])
        let large = try featurizer("large", item: 224, extra: [])
        let path = FeaturizerTests.photos + "/chelsea.png"
        func pooledHalf(_ featurizer: Featurizer) throws -> [Float] {
            let vector = try featurizer.features([try featurizer.decode(file: path)])[0]
            return vector[(vector.count / 2)...].map { $0 * Float(2).squareRoot() }
        }
        var sum = zip(try pooledHalf(small), try pooledHalf(large)).map { $0 + $1 }
        let norm = Self.dot(sum, sum).squareRoot()
        sum = sum.map { $0 / norm }
        let combined = try pooledHalf(both)
        #expect(zip(combined, sum).allSatisfy { abs($0 - $1) < 1e-4 })
        #expect(Self.dot(try pooledHalf(small), try pooledHalf(large)) < 0.999)
    }

    /// The coffee cup small in a meadow: the plain vector misses it among the skimage photos, a
    /// window of the blend finds it first.
    @Test func anObjectSmallInASceneIsFoundByTheBlendAndNotByThePlainVector() async throws {
        let blend = try Self.blend()
        let plain = try FeaturizerTests.load()
        let scratch = try TemporaryDirectory("blend")
        let query = scratch.path + "/query.jpg"
        try Tool.run(
            "convert",
            [
                Repository.photos + "/mate/GreenMeadow.jpg", "-resize", "640x480^", "-gravity", "center",
                "-extent", "640x480", "(", FeaturizerTests.photos + "/coffee.png", "-resize", "150x150", ")",
                "-gravity", "northwest", "-geometry", "+420+260", "-composite", "-quality", "85", query,
            ])
        let names = ["coffee.png", "chelsea.png", "astronaut.png", "rocket.jpg", "grass.png", "motorcycle_left.png"]
        func best(_ featurizer: Featurizer) throws -> String {
            let items = try featurizer.features(
                try names.map { try featurizer.decode(file: FeaturizerTests.photos + "/\($0)") })
            let vectors = try featurizer.queryVectors([try featurizer.decode(file: query, for: .query)])[0]
            let scores = items.map { item in vectors.map { Self.dot($0, item) }.max() ?? -1 }
            return names[scores.indices.max { scores[$0] < scores[$1] }!]
        }
        #expect(try best(blend) == "coffee.png")
        #expect(try best(plain) != "coffee.png")
    }
}
