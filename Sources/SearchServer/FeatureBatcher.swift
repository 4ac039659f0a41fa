import Dispatch
import Featurizer
import Foundation
import ImageDecoding
import VSearchCore

/// Gathers concurrent requests' images into batches for the featurizer.
///
/// The network costs much less per image in a batch than alone, so under load it pays to
/// wait a little, but only for images known to be coming: a request announces its image
/// (``expectImage()``) before decoding it, and the first image of a batch waits at most
/// `window` while others are still being decoded. A lone image goes at once, a full batch
/// (`maxBatch`) goes at once, and images that arrive while the network runs form the next
/// batch. The network runs on its own serial queue, never on an event loop or the
/// concurrency pool, and uses the cores through its own threads.
final class FeatureBatcher: Sendable {
    typealias Completion = @Sendable (Result<[[Float]], FeaturizerError>) -> Void

    /// What waits for the network, whether it is running, and whether a window timer is set.
    private struct Waiting {
        var pending: [(Image, VectorRole, Completion)] = []
        var running = false
        var timerArmed = false
        /// Images announced and still being decoded: neither submitted nor given up.
        var onTheirWay = 0

        /// Takes up to `maxBatch` waiting images and marks the network busy.
        mutating func takeBatch(_ maxBatch: Int) -> [(Image, VectorRole, Completion)] {
            guard !pending.isEmpty else { return [] }
            let count = min(maxBatch, pending.count)
            let batch = Array(pending.prefix(count))
            pending.removeFirst(count)
            running = true
            return batch
        }
    }

    let featurizer: Featurizer
    let window: Duration
    let maxBatch: Int
    private let onBatch: @Sendable (Int, Double) -> Void
    private let queue = DispatchQueue(label: "vsearch.featurizer", qos: .userInitiated)
    private let waiting = Locked(Waiting())

    /// `onBatch` is told each network call's size and time in seconds, before its requests are answered.
    init(
        featurizer: Featurizer, window: Duration, maxBatch: Int,
        onBatch: @escaping @Sendable (Int, Double) -> Void = { _, _ in }
    ) {
        self.featurizer = featurizer
        self.window = window
        self.maxBatch = max(1, maxBatch)
        self.onBatch = onBatch
    }

    /// Images submitted and not yet taken into a batch.
    var imagesWaiting: Int { waiting.withLock { $0.pending.count } }

    /// Announces an image that is about to be decoded: until it is submitted (``ExpectedImage/vectors(of:for:)``)
    /// or dropped because its decoding failed, a batch may wait for it.
    func expectImage() -> ExpectedImage { ExpectedImage(batcher: self) }

    /// The vectors of one decoded image for `role` (one for an item, one or more for a query),
    /// computed in a batch with whatever else is waiting.
    func vectors(of image: Image, for role: VectorRole) async throws(FeaturizerError) -> [[Float]] {
        try await vectors(of: image, for: role, announced: false)
    }

    /// `announced`: the image was announced (``announce()``), and has now arrived.
    func vectors(of image: Image, for role: VectorRole, announced: Bool) async throws(FeaturizerError)
        -> [[Float]]
    {
        let result = await withCheckedContinuation {
            (continuation: CheckedContinuation<Result<[[Float]], FeaturizerError>, Never>) in
            submit(image, role: role, announced: announced) { continuation.resume(returning: $0) }
        }
        return try result.get()
    }

    /// One more image on its way; ``ExpectedImage`` pairs it with its arrival or ``withdraw()``.
    func announce() { waiting.withLock { $0.onTheirWay += 1 } }

    /// An announced image will not come: what waited only for it goes now.
    func withdraw() {
        let batch = waiting.withLock { waiting in
            waiting.onTheirWay -= 1
            return waiting.running || waiting.onTheirWay > 0 ? [] : waiting.takeBatch(maxBatch)
        }
        if !batch.isEmpty { queue.async { [self, batch] in run(batch) } }
    }

    private func submit(_ image: Image, role: VectorRole, announced: Bool, completion: @escaping Completion) {
        let (batch, armTimer) = waiting.withLock { waiting -> ([(Image, VectorRole, Completion)], Bool) in
            if announced { waiting.onTheirWay -= 1 }
            waiting.pending.append((image, role, completion))
            guard !waiting.running else { return ([], false) }
            // Waiting pays only for images that are on their way; with none, the window would be pure delay.
            if waiting.pending.count >= maxBatch || window <= .zero || waiting.onTheirWay == 0 {
                return (waiting.takeBatch(maxBatch), false)
            }
            guard !waiting.timerArmed else { return ([], false) }
            waiting.timerArmed = true
            return ([], true)
        }
        if armTimer {
            let delay = DispatchTimeInterval.microseconds(Int(window / .microseconds(1)))
            queue.asyncAfter(deadline: .now() + delay) { [self] in windowClosed() }
        }
        if !batch.isEmpty { queue.async { [self, batch] in run(batch) } }
    }

    private func windowClosed() {
        let batch = waiting.withLock { waiting in
            waiting.timerArmed = false
            return waiting.running ? [] : waiting.takeBatch(maxBatch)
        }
        if !batch.isEmpty { run(batch) }
    }

    /// Runs on the queue: the network on one batch, then the next batch if images are waiting.
    private func run(_ batch: [(Image, VectorRole, Completion)]) {
        var batch = batch
        while !batch.isEmpty {
            // Queries and items are separate network calls, each reported before its requests are answered.
            for role in [VectorRole.query, .item] {
                let members = batch.filter { $0.1 == role }
                guard !members.isEmpty else { continue }
                let started = DispatchTime.now().uptimeNanoseconds
                let results = vectors(members.map(\.0), for: role)
                onBatch(members.count, Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
                for ((_, _, completion), result) in zip(members, results) { completion(result) }
            }
            // Images that arrived during the run have already waited a whole batch: no window.
            batch = waiting.withLock { waiting in
                waiting.running = false
                return waiting.takeBatch(maxBatch)
            }
        }
    }

    /// One result per image; a failed batch is handled as the featurizer's retry policy says
    /// (by default each image alone, so one bad image fails alone).
    private func vectors(_ images: [Image], for role: VectorRole) -> [Result<[[Float]], FeaturizerError>] {
        featurizer.options.retry.run(images) { batch throws(FeaturizerError) in
            try featurizer.vectors(batch, for: role)
        }
    }
}

/// An image a request has announced to the ``FeatureBatcher`` before decoding it. Submitting it
/// (``vectors(of:for:)``) consumes it; dropping it unsubmitted, as a failed decode does by
/// throwing, tells the batcher not to wait for it.
struct ExpectedImage: ~Copyable {
    private let batcher: FeatureBatcher
    private var submitted = false

    fileprivate init(batcher: FeatureBatcher) {
        self.batcher = batcher
        batcher.announce()
    }

    deinit {
        if !submitted { batcher.withdraw() }
    }

    /// The image's vectors for `role`, computed in a batch with whatever else is waiting.
    consuming func vectors(of image: Image, for role: VectorRole) async throws(FeaturizerError) -> [[Float]] {
        submitted = true
        return try await batcher.vectors(of: image, for: role, announced: true)
    }
}
