/// What to do when a batch of independent inputs fails as a whole: the one policy the
/// featurizer's file pipeline, the server's batcher and the catalogue ingest share.
///
/// The network runs a batch in one call, so one undecodable or oversized image makes the whole
/// call fail. Running the failed batch again one input at a time lets that input fail alone
/// and the others succeed, at the cost of one extra pass over a batch that is already rare.
/// Nothing is retried on a timer: a batch that failed once fails again the same way, and only
/// splitting it tells the good inputs from the bad one.
public struct RetryPolicy: Sendable, Equatable {
    /// Whether a failed batch of more than one input is run again one input at a time.
    public var retriesEachAlone: Bool

    public init(retriesEachAlone: Bool) {
        self.retriesEachAlone = retriesEachAlone
    }

    /// A failed batch is run again input by input, so one bad input fails alone.
    public static let eachAlone = RetryPolicy(retriesEachAlone: true)
    /// A failed batch fails every input with the batch's error.
    public static let never = RetryPolicy(retriesEachAlone: false)

    /// Runs `body` on `inputs` as one batch and, if that fails, as the policy says; one result per
    /// input, in order. `body` must return one output per input.
    public func run<Input, Output, Failure: Error>(
        _ inputs: [Input], _ body: ([Input]) throws(Failure) -> [Output]
    ) -> [Result<Output, Failure>] {
        guard !inputs.isEmpty else { return [] }
        do {
            let outputs = try body(inputs)
            precondition(outputs.count == inputs.count, "a batch gave \(outputs.count) outputs for \(inputs.count)")
            return outputs.map { .success($0) }
        } catch {
            guard retriesEachAlone, inputs.count > 1 else { return inputs.map { _ in .failure(error) } }
            return inputs.map { input in
                Result { () throws(Failure) -> Output in
                    let outputs = try body([input])
                    precondition(outputs.count == 1, "a batch gave \(outputs.count) outputs for 1")
                    return outputs[0]
                }
            }
        }
    }
}
