import Featurizer
import Foundation
import ImageDecoding
import Testing
import VSearchCore
import VSearchTesting

@testable import SearchServer

@Suite struct BatcherTests {
    /// A batcher whose window is an hour, and the sizes of its network calls. A batch that waited out the window
    /// would fail its test by the time limit, so each test shows that the batcher waits only for images announced
    /// and still being decoded.
    static func batcher(_ featurizer: Featurizer, maxBatch: Int = 8) -> (FeatureBatcher, BatchLog) {
        let sizes = BatchLog()
        let batcher = FeatureBatcher(
            featurizer: featurizer, window: .seconds(3600), maxBatch: maxBatch,
            onBatch: { size, _ in sizes.append(size) })
        return (batcher, sizes)
    }

    /// Concurrent requests share network calls, each gets its own image's vector, and no call exceeds the cap.
    @Test(.timeLimit(.minutes(5))) func concurrentImagesAreBatchedAndEachGetsItsOwnVector() async throws {
        let featurizer = try await Fixture.shared.loadFeaturizer()
        let photos = [
            "skimage/coffee.png", "skimage/chelsea.png", "skimage/rocket.jpg", "mate/Aqua.jpg", "skimage/horse.png",
        ]
        let images = try photos.map { try featurizer.decode(file: try Repository.photo($0)) }
        let alone = try images.map { try featurizer.features([$0])[0] }
        let (batcher, sizes) = Self.batcher(featurizer, maxBatch: 3)
        // Five requests decoding at once, as `expectImage()` announces them (the tasks cannot hold its tokens).
        for _ in images { batcher.announce() }
        let vectors = try await withThrowingTaskGroup(of: (Int, [Float]).self) { group in
            for (index, image) in images.enumerated() {
                group.addTask { (index, try await batcher.vectors(of: image, for: .item, announced: true)[0]) }
            }
            var vectors = [[Float]](repeating: [], count: images.count)
            for try await (index, vector) in group { vectors[index] = vector }
            return vectors
        }
        for (vector, expected) in zip(vectors, alone) {
            let dot = zip(vector, expected).reduce(Float(0)) { $0 + $1.0 * $1.1 }
            #expect(dot > 0.999)
        }
        // A full batch goes at once; the last two go when they arrive or when the first batch ends (together if both
        // arrived during it), never after the window.
        #expect(sizes.sizes == [3, 2] || sizes.sizes == [3, 1, 1], "\(sizes.sizes)")
    }

    /// A request alone goes at once, however long the window.
    @Test(.timeLimit(.minutes(5))) func aLoneImageDoesNotWaitForTheWindow() async throws {
        let featurizer = try await Fixture.shared.loadFeaturizer()
        let image = try featurizer.decode(file: try Repository.photo("skimage/coffee.png"))
        let (batcher, sizes) = Self.batcher(featurizer)
        let expected = batcher.expectImage()
        let vectors = try await expected.vectors(of: image, for: .item)
        #expect(vectors.count == 1 && vectors[0].count == featurizer.dimension)
        #expect(sizes.sizes == [1])
    }

    /// Two images announced together go in one batch: the first to arrive waits for the one still being decoded,
    /// and the second, the last on its way, sends the batch without waiting out the window.
    @Test(.timeLimit(.minutes(5))) func anImageWaitsForOneStillBeingDecoded() async throws {
        let featurizer = try await Fixture.shared.loadFeaturizer()
        let images = try ["skimage/coffee.png", "skimage/rocket.jpg"].map {
            try featurizer.decode(file: try Repository.photo($0))
        }
        let (batcher, sizes) = Self.batcher(featurizer)
        batcher.announce()
        batcher.announce()
        async let a = batcher.vectors(of: images[0], for: .item, announced: true)
        async let b = batcher.vectors(of: images[1], for: .item, announced: true)
        let (vectorA, vectorB) = try await (a, b)
        #expect(vectorA[0] != vectorB[0])
        #expect(sizes.sizes == [2])
    }

    /// An announced image whose decoding fails is dropped unsubmitted, and what waited for it goes without it.
    @Test(.timeLimit(.minutes(5))) func aFailedDecodeDoesNotHoldTheBatch() async throws {
        let featurizer = try await Fixture.shared.loadFeaturizer()
        let image = try featurizer.decode(file: try Repository.photo("skimage/coffee.png"))
        let (batcher, sizes) = Self.batcher(featurizer)
        batcher.announce()
        let failing = batcher.expectImage()
        async let vectors = batcher.vectors(of: image, for: .item, announced: true)
        // Once the first image waits in the queue (for the other, which is announced), the other's decoding fails:
        // its request drops its announcement unsubmitted, as a throw out of its decoding does.
        while batcher.imagesWaiting == 0 { try await Task.sleep(for: .milliseconds(1)) }
        _ = consume failing
        #expect(try await vectors.count == 1)
        #expect(sizes.sizes == [1])
    }
}

/// The batch sizes the batcher reported, from its queue.
final class BatchLog: Sendable {
    private let values = Locked<[Int]>([])

    func append(_ size: Int) { values.withLock { $0.append(size) } }
    var sizes: [Int] { values.withLock { $0 } }
}
