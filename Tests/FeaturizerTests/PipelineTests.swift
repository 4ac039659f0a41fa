import Testing
import VSearchCore
import VSearchTesting

@testable import Featurizer

/// The file pipeline's order of work, observed through injected stages: no model, no clock.
@Suite(.offThePool) struct PipelineTests {
    /// What the stages did, in the order they did it, written from several tasks.
    private final class Log: Sendable {
        private let events = Locked<[String]>([])

        func record(_ event: String) { events.withLock { $0.append(event) } }
        func contains(_ event: String) -> Bool { events.withLock { $0.contains(event) } }
        var all: [String] { events.withLock { $0 } }

        /// Where `event` happened in the log; fails the test if it never did.
        func position(_ event: String) -> Int {
            guard let index = all.firstIndex(of: event) else {
                Issue.record("\(event) never happened: \(all)")
                return Int.max
            }
            return index
        }
    }

    @Test func theNextBatchIsPreparedWhileTheCurrentOneRunsAndNoFurther() async throws {
        let log = Log()
        let batches = (0..<4).map { batch in (0..<3).map { batch * 3 + $0 } }
        let outputs = await BatchPipeline.run(
            batches,
            prepare: { batch in
                let number = batch[0] / 3
                log.record("prepare \(number) began")
                return batch
            },
            run: { batch in
                let number = batch[0] / 3
                log.record("run \(number) began")
                // The proof of overlap: this run cannot end until the next batch's preparation has
                // begun, so a pipeline that prepares only after running never gets past batch 0
                // (the deadline only keeps that failure from hanging the suite).
                if number < batches.count - 1 {
                    let awaited = "prepare \(number + 1) began"
                    do {
                        try await waitUntil(awaited, deadline: 60) { log.contains(awaited) }
                    } catch {
                        Issue.record("run \(number) ended before the next batch was being prepared")
                    }
                }
                log.record("run \(number) ended")
                return batch.map { $0 * 10 }
            })
        #expect(outputs == Array(0..<12).map { $0 * 10 })
        // At most one batch ahead: batch n+2 is prepared only after batch n has run.
        for number in 0..<(batches.count - 2) {
            #expect(log.position("prepare \(number + 2) began") > log.position("run \(number) ended"), "\(log.all)")
        }
    }

    @Test func resultsKeepTheFilesOrderAndEachFailureStaysWithItsFile() async {
        // Names ending in "!" fail to decode; a decoded "poison" fails any batch it is in, as an
        // image the network rejects would, and must fail alone.
        let files = ["a", "b!", "c", "poison", "e", "f!", "g", "h"]
        let calls = Locked<[[String]]>([])
        let results = await Featurizer.pipelined(
            files, batchSize: 3, retry: .eachAlone,
            decode: { name -> Result<String, FeaturizerError> in
                name.hasSuffix("!") ? .failure(.inference(reason: "cannot decode \(name)")) : .success(name)
            },
            compute: { names throws(FeaturizerError) -> [String] in
                calls.withLock { $0.append(names) }
                if names.contains("poison") { throw .inference(reason: "poison in the batch") }
                return names.map { $0.uppercased() }
            })
        #expect(results.count == files.count)
        for (file, result) in zip(files, results) {
            switch (file, result) {
            case ("b!", .failure(let error)), ("f!", .failure(let error)):
                #expect(error.description.contains("cannot decode \(file)"))
            case ("poison", .failure(let error)):
                #expect(error.description.contains("poison in the batch"))
            case (_, .success(let output)):
                #expect(output == file.uppercased())
            default:
                Issue.record("\(file): unexpected \(result)")
            }
        }
        // Batches of three files; decode failures never reach the network, and only the batch
        // with the poison is run again, one image at a time.
        #expect(calls.withLock { $0 } == [["a", "c"], ["poison", "e"], ["poison"], ["e"], ["g", "h"]])
    }
}
