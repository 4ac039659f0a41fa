import Testing
import VSearchCore

@Suite struct RetryPolicyTests {
    private struct Bad: Error, Equatable { var input: Int }

    /// Doubles each input; any negative input fails the whole call, as one bad image fails a batch.
    private final class Doubler {
        var calls: [[Int]] = []
        func run(_ inputs: [Int]) throws(Bad) -> [Int] {
            calls.append(inputs)
            if let bad = inputs.first(where: { $0 < 0 }) { throw Bad(input: bad) }
            return inputs.map { $0 * 2 }
        }
    }

    @Test func aBatchThatSucceedsRunsOnce() {
        let doubler = Doubler()
        let results = RetryPolicy.eachAlone.run([1, 2, 3], doubler.run)
        #expect(results.map { try? $0.get() } == [2, 4, 6])
        #expect(doubler.calls == [[1, 2, 3]])
    }

    @Test func oneBadInputFailsAloneAndTheOthersKeepTheirPlaces() {
        let doubler = Doubler()
        let results = RetryPolicy.eachAlone.run([1, -5, 3], doubler.run)
        #expect(results.map { try? $0.get() } == [2, nil, 6])
        #expect(results[1] == .failure(Bad(input: -5)))
        #expect(doubler.calls == [[1, -5, 3], [1], [-5], [3]])
    }

    @Test func aLoneInputIsNotRunTwice() {
        let doubler = Doubler()
        let results = RetryPolicy.eachAlone.run([-1], doubler.run)
        #expect(results.count == 1)
        #expect(doubler.calls == [[-1]])
    }

    @Test func neverFailsTheWholeBatchWithItsError() {
        let doubler = Doubler()
        let results = RetryPolicy.never.run([1, -2], doubler.run)
        #expect(results.map { try? $0.get() } == [nil, nil])
        #expect(doubler.calls == [[1, -2]])
        #expect(RetryPolicy.eachAlone.run([Int](), doubler.run).isEmpty)
    }
}
