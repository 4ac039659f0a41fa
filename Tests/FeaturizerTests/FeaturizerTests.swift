import Foundation
import Testing
import VSearchCore
import VSearchTesting

@testable import Featurizer

/// The featurizer on the prepared default model and real photos
/// (scripts/prepare-model.sh and scripts/fetch-photos.sh).
@Suite(.offThePool) struct FeaturizerTests {
    static let photos = Repository.photos + "/skimage"

    static func load(threads: Int? = nil, maxBatch: Int = 8) throws -> Featurizer {
        try Repository.requireModelAndPhotos()
        return try Featurizer(
            model: ModelDirectory(path: Repository.model), options: .init(threads: threads, maxBatch: maxBatch))
    }

    @Test func classifiesTheCatAndTheEspresso() async throws {
        let featurizer = try Self.load()
        let results = await featurizer.predict(files: [Self.photos + "/chelsea.png", Self.photos + "/coffee.png"])
        let cat = featurizer.classes(of: try results[0].get())
        let coffee = featurizer.classes(of: try results[1].get())
        #expect(cat.count == 5)
        #expect(cat.contains { $0.label.contains("cat") })
        #expect(coffee.first?.label == "espresso")
        #expect(coffee.first.map { $0.probability > 0.9 } == true)
    }

    @Test func vectorsAreUnitLengthAndTheSameAloneOrInABatch() async throws {
        let files = ["chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg"].map { Self.photos + "/" + $0 }
        let batched = try await Self.load(maxBatch: 8).embed(files: files).map { try $0.get() }
        let single = try await Self.load(threads: 1, maxBatch: 1).embed(files: files).map { try $0.get() }
        for (a, b) in zip(batched, single) {
            #expect(a.count == 1280)
            let norm = a.reduce(0) { $0 + $1 * $1 }.squareRoot()
            #expect(abs(norm - 1) < 1e-4)
            let cosine = zip(a, b).reduce(0) { $0 + $1.0 * $1.1 }
            #expect(cosine > 0.9999)
        }
        // Different photos give clearly different vectors.
        let catCoffee = zip(batched[0], batched[1]).reduce(0) { $0 + $1.0 * $1.1 }
        #expect(catCoffee < 0.9)
    }

    @Test func aBadFileFailsAloneAndIsNamed() async throws {
        let scratch = try TemporaryDirectory("featurizer")
        let directory = scratch.path
        let broken = directory + "/broken.jpg"
        try Data("not an image".utf8).write(to: URL(fileURLWithPath: broken))
        let files = [Self.photos + "/chelsea.png", broken, directory + "/missing.png", Self.photos + "/coffee.png"]
        let results = try await Self.load().embed(files: files)
        #expect((try? results[0].get())?.count == 1280)
        #expect((try? results[3].get())?.count == 1280)
        for (index, name) in [(1, "broken.jpg"), (2, "missing.png")] {
            guard case .failure(let error) = results[index] else {
                Issue.record("\(name) was embedded")
                continue
            }
            #expect(error.description.contains(name))
            #expect(!error.description.contains("\n"))
        }
    }

    @Test func manyTasksShareOneFeaturizer() async throws {
        let featurizer = try Self.load()
        let files = ["chelsea.png", "coffee.png"].map { Self.photos + "/" + $0 }
        let reference = try await featurizer.embed(files: files).map { try $0.get() }
        let runs = try await withThrowingTaskGroup(of: [[Float]].self) { group in
            for run in 0..<6 {
                // Each task on a thread of its own: the suite's executor would take them one at a time.
                group.addTask(executorPreference: QueueExecutor(label: "embed \(run)")) {
                    try await featurizer.embed(files: files).map { try $0.get() }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(runs.count == 6)
        for run in runs {
            for (a, b) in zip(run, reference) {
                #expect(zip(a, b).allSatisfy { abs($0 - $1) < 1e-5 })
            }
        }
    }
}
