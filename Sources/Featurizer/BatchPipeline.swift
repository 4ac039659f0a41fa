/// Runs batches through two stages that overlap: while `run` works on batch n, `prepare` works
/// on batch n+1.
///
/// Decoding files is CPU work on the concurrency pool while the network runs on its own threads,
/// so doing one after the other leaves cores idle for the whole decode of every batch. Only one
/// batch is prepared ahead, so however many files there are, at most two batches of decoded
/// images are in memory. Outputs come back in the order of the batches.
enum BatchPipeline {
    static func run<Input: Sendable, Prepared: Sendable, Output>(
        _ batches: [[Input]],
        prepare: @escaping @Sendable ([Input]) async -> Prepared,
        run: (Prepared) async -> [Output]
    ) async -> [Output] {
        guard let first = batches.first else { return [] }
        var outputs: [Output] = []
        var current = await prepare(first)
        for index in batches.indices.dropLast() {
            // A child task of this one: cancelled with it, and awaited before the next batch runs.
            async let next = prepare(batches[index + 1])
            outputs += await run(current)
            current = await next
        }
        outputs += await run(current)
        return outputs
    }
}
