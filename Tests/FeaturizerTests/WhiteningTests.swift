import Foundation
import Testing
import VSearchCore
import VSearchTesting

@testable import Featurizer

/// `descriptor.whitening`: each half of a blended vector goes through a map learned without labels
/// before the halves are put together (Round 9 of docs/retrieval.md).
@Suite(.offThePool) struct WhiteningTests {
    static func unit(_ vector: [Float]) -> [Float] {
        let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return vector.map { $0 / norm }
    }

    /// A file of two maps (plain half first) for halves of `channels` values, each map one row per
    /// direction after its mean.
    static func write(
        _ maps: [(mean: [Float], directions: [([Float], Float)])], channels: Int, to path: String
    ) throws {
        let rows = 1 + maps[0].directions.count
        var values: [Float] = []
        for map in maps {
            values += map.mean + [0]
            for (direction, gain) in map.directions { values += direction + [gain] }
        }
        try NumpyArray(shape: [2, rows, channels + 1], values: values).write(path: path)
    }

    /// What a whitened blend makes of an unwhitened blended `vector`: each half, a unit vector up to
    /// its weight, mapped by its map, then the two joined at `weight` and normalised.
    static func mapped(
        _ vector: [Float], by pair: (plain: WhiteningMap, view: WhiteningMap), weight: Float
    ) throws -> [Float] {
        let channels = vector.count / 2
        let first = try pair.plain.apply(unit(Array(vector[..<channels])))
        let second = try pair.view.apply(unit(Array(vector[channels...])))
        return unit(first.map { $0 * weight } + second.map { $0 * (1 - weight) })
    }

    @Test func aMapCentresScalesItsDirectionsAndNormalises() throws {
        let map = WhiteningMap(mean: [0.1, 0, 0, 0], directions: [1, 0, 0, 0, 0, 1, 0, 0], gains: [-1, -0.5])
        let mapped = try map.apply(Self.unit([0.6, 0.8, 0.3, 0.2]))
        let input = Self.unit([0.6, 0.8, 0.3, 0.2])
        // The first direction is removed, the second halved, the others kept; then normalised.
        let expected = Self.unit([0, input[1] * 0.5, input[2], input[3]])
        #expect(zip(mapped, expected).allSatisfy { abs($0 - $1) < 1e-6 })
        #expect(mapped != input)
        // A vector of another length is refused with both lengths, not mapped (nor a crash).
        let refused = #expect(throws: FeaturizerError.self) { try map.apply([1, 0, 0]) }
        #expect(refused?.description.contains("a whitening map of 4 values cannot map a vector of 3") == true)
    }

    @Test func aFileThatHoldsNoWhiteningIsRefusedByName() throws {
        let scratch = try TemporaryDirectory("whitening-file")
        let path = scratch.path + "/whitening.npy"
        let good: [(mean: [Float], directions: [([Float], Float)])] = [
            ([0, 0, 0], [([1, 0, 0], -0.5)]), ([0.1, 0.1, 0.1], [([0, 0.6, 0.8], -0.25)]),
        ]
        try Self.write(good, channels: 3, to: path)
        let pair = try WhiteningMap.pair(path: path, channels: 3)
        #expect(pair.plain == WhiteningMap(mean: [0, 0, 0], directions: [1, 0, 0], gains: [-0.5]))
        #expect(pair.view == WhiteningMap(mean: [0.1, 0.1, 0.1], directions: [0, 0.6, 0.8], gains: [-0.25]))

        func refusal(_ maps: [(mean: [Float], directions: [([Float], Float)])], channels: Int = 3) throws -> String? {
            try Self.write(maps, channels: 3, to: path)
            do {
                _ = try WhiteningMap.pair(path: path, channels: channels)
                return nil
            } catch {
                #expect(error.description.contains(path))
                return error.description
            }
        }
        #expect(try refusal(good, channels: 4)?.contains("shape [2, 2, 4]") == true)
        #expect(try refusal([good[0], ([0, 0, 0], [([2, 0, 0], -0.5)])])?.contains("not a unit vector") == true)
        #expect(try refusal([good[0], ([0, 0, 0], [([1, 0, 0], 0.5)])])?.contains("gain outside") == true)
        #expect(try refusal([good[0], ([.nan, 0, 0], [([1, 0, 0], -0.5)])])?.contains("not finite") == true)
        #expect(throws: FeaturizerError.self) { try WhiteningMap.pair(path: scratch.path + "/none.npy", channels: 3) }
    }

    @Test func theSpecNeedsABlendAndAFileInTheModelsDirectory() {
        var spec = DescriptorTests.spec
        spec.whitening = "whitening.npy"
        #expect(spec.problem == "descriptor.whitening needs descriptor.plainWeight")
        spec.plainWeight = 0.4
        #expect(spec.problem == nil)
        for name in ["", "../whitening.npy", "maps/whitening.npy", ".hidden"] {
            spec.whitening = name
            #expect(spec.problem == "descriptor.whitening must name a file in the model's directory")
        }
    }

    /// The blend model with a whitening file beside it: every item and query vector is the plain
    /// model's halves, each mapped, then blended as before.
    @Test func aWhitenedBlendMapsEachHalfBeforeBlending() throws {
        let scratch = try TemporaryDirectory("whitened-blend")
        let plain = try BlendDescriptorTests.unwhitened(in: scratch)
        let channels = plain.dimension / 2
        var random = SeededGenerator(seed: 9)
        func direction() -> [Float] { Self.unit((0..<channels).map { _ in Float.random(in: -1...1, using: &random) }) }
        func mean() -> [Float] { (0..<channels).map { _ in Float.random(in: 0...0.05, using: &random) } }
        let maps: [(mean: [Float], directions: [([Float], Float)])] = [
            (mean(), [(direction(), -0.8), (direction(), -0.3)]), (mean(), [(direction(), -0.9), (direction(), -0.5)]),
        ]
        var mapFile = ""
        let whitened = try BlendDescriptorTests.variant("whitened", in: scratch) { descriptor, directory in
            mapFile = directory + "/whitening.npy"
            try Self.write(maps, channels: channels, to: mapFile)
            descriptor.descriptor?.whitening = "whitening.npy"
        }
        let pair = try WhiteningMap.pair(path: mapFile, channels: channels)
        let weight = try #require(whitened.descriptor.descriptor?.plainWeight)

        func expect(_ got: [Float], mapping vector: [Float], weight: Float) throws {
            let expected = try Self.mapped(vector, by: pair, weight: weight)
            #expect(zip(got, expected).allSatisfy { abs($0 - $1) < 1e-4 })
            #expect(zip(got, vector).contains { abs($0 - $1) > 1e-3 })
        }
        let photo = FeaturizerTests.photos + "/coffee.png"
        let item = try whitened.features([try whitened.decode(file: photo)])[0]
        try expect(item, mapping: try plain.features([try plain.decode(file: photo)])[0], weight: 0.5)
        let queries = try whitened.queryVectors([try whitened.decode(file: photo, for: .query)])[0]
        let unmapped = try plain.queryVectors([try plain.decode(file: photo, for: .query)])[0]
        #expect(queries.count == unmapped.count && !queries.isEmpty)
        for (query, vector) in zip(queries, unmapped) { try expect(query, mapping: vector, weight: weight) }
    }

    /// The default model ships its map (`scripts/prepare-model.sh lite0 --blend` learns it from half A
    /// of the open eval set): 16 directions per half, each shrunk, the strongest the most, and the
    /// gate tuned for mapped cosines. Its vectors are the unwhitened recipe's, mapped.
    @Test func theDefaultModelCarriesALearnedMap() throws {
        let model = try ModelDirectory(path: try Repository.requireModel(BlendDescriptorTests.blendModel))
        let recipe = try #require(model.descriptor.descriptor)
        #expect(recipe.whitening == "whitening.npy")
        #expect(recipe.verify?.gate == 0.4)
        #expect(recipe.verify?.screen == VerificationSpec.Screen(every: 8, minimum: 3))
        #expect(model.descriptor.id == "efficientnet-lite0-blend/5")
        let channels = model.descriptor.feature.dimension
        let pair = try WhiteningMap.pair(
            path: model.url.appendingPathComponent("whitening.npy").path, channels: channels)
        for map in [pair.plain, pair.view] {
            #expect(map.gains.count == 16)
            #expect(map.gains.allSatisfy { $0 < 0 && $0 > -1 })
            #expect(map.gains.first == map.gains.min())
        }

        let scratch = try TemporaryDirectory("default-whitening")
        let unwhitened = try BlendDescriptorTests.unwhitened(in: scratch)
        let whitened = try BlendDescriptorTests.blend()
        let photo = FeaturizerTests.photos + "/chelsea.png"
        let raw = try unwhitened.features([try unwhitened.decode(file: photo)])[0]
        let item = try whitened.features([try whitened.decode(file: photo)])[0]
        let expected = try Self.mapped(raw, by: pair, weight: 0.5)
        #expect(zip(item, expected).allSatisfy { abs($0 - $1) < 1e-4 })
    }
}
