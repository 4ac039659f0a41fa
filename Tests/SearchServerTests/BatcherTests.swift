import Featurizer
import Foundation
import ImageDecoding
import Testing
import VSearchCore
import VSearchTesting

@testable import SearchServer

@Suite struct BatcherTests {
    /// Concurrent requests share network calls, each gets its own image's vector, and no call exceeds the cap.
    @Test func concurrentImagesAreBatchedAndEachGetsItsOwnVector() async throws {
        let featurizer = try await Fixture.shared.loadFeaturizer()
        let photos = [
            "skimage/coffee.png", "skimage/chelsea.png", "skimage/rocket.jpg", "mate/Aqua.jpg", "skimage/horse.png",
        ]
        let images = try photos.map { try featurizer.decode(file: try Repository.photo($0)) }
        let alone = try images.map { try featurizer.features([$0])[0] }
        let sizes = BatchLog()
        let batcher = FeatureBatcher(
            featurizer: featurizer, window: .milliseconds(500), maxBatch: 3,
            onBatch: { size, _ in sizes.append(size) })
        let vectors = try await withThrowingTaskGroup(of: (Int, [Float]).self) { group in
            for (index, image) in images.enumerated() {
                group.addTask { (index, try await batcher.vectors(of: image, for: .item)[0]) }
            }
            var vectors = [[Float]](repeating: [], count: images.count)
            for try await (index, vector) in group { vectors[index] = vector }
            return vectors
        }
        for (vector, expected) in zip(vectors, alone) {
            let dot = zip(vector, expected).reduce(Float(0)) { $0 + $1.0 * $1.1 }
            #expect(dot > 0.999)
        }
        let batches = sizes.sizes
        #expect(batches.reduce(0, +) == images.count)
        #expect(batches.allSatisfy { $0 <= 3 })
        #expect(batches.count < images.count)
    }
}

/// The batch sizes the batcher reported, from its queue.
final class BatchLog: Sendable {
    private let values = Locked<[Int]>([])

    func append(_ size: Int) { values.withLock { $0.append(size) } }
    var sizes: [Int] { values.withLock { $0 } }
}
