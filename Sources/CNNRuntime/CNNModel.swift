import Foundation
import VSearchCore

/// An ONNX convolutional network, loaded once and run on oneDNN kernels.
///
/// Loading parses the file, checks every node and folds batch normalisation
/// into convolutions. The first run for each input shape plans the graph:
/// it fuses activations and residual additions into convolutions, keeps
/// activations in oneDNN's blocked layouts between layers and lays out one
/// arena in which short-lived tensors share memory. Later runs with that
/// shape reuse the plan.
///
/// `run` may be called from many tasks at once; each call borrows its own
/// buffers.
///
/// ```swift
/// let model = try CNNModel(contentsOf: url, options: .init(threads: 2, outputs: ["features"]))
/// let outputs = try model.run(inputName: "input", input: batch)  // batch: [N, 3, 224, 224]
/// let features = outputs["features"]!                          // [N, 1280]
/// ```
public final class CNNModel: Sendable {
    /// How to load and run a model.
    public struct Options: Sendable {
        /// OpenMP threads per run; nil keeps oneDNN's default (all cores or `OMP_NUM_THREADS`).
        public var threads: Int?
        /// Tensors `run` returns. Any tensor of the graph may be named, not only the graph's
        /// outputs (a cut-point inside the network). Empty means the graph's outputs.
        public var outputs: [String]

        public init(threads: Int? = nil, outputs: [String] = []) {
            self.threads = threads
            self.outputs = outputs
        }
    }

    /// How oneDNN's OpenMP threads wait, for benchmark reports: "PASSIVE" in vsearch's own programs unless
    /// OMP_WAIT_POLICY was set, empty (libgomp's default) in a program that does not link `OpenMPPassiveWait`.
    public static var openMPWaitPolicy: String { OpenMP.waitPolicy }

    /// The graph's data input.
    public let inputName: String
    /// The tensors `run` returns, in the order requested.
    public let outputNames: [String]

    private let backend: Backend
    private let layers: [Layer]
    private let constants: [String: ConstantTensor]
    private let threads: Int?
    private let plans = Locked<[[Int]: ExecutionPlan]>([:])
    private let weightCache = WeightCache()

    /// Loads an ONNX file.
    public convenience init(contentsOf url: URL, options: Options = Options()) throws(CNNRuntimeError) {
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .mappedIfSafe)
        } catch {
            throw .unreadable(path: url.path, reason: (error as NSError).localizedDescription)
        }
        try self.init(data: data, path: url.path, options: options)
    }

    /// Loads an ONNX model from bytes; `path` names it in errors.
    public init(data: Data, path: String, options: Options = Options()) throws(CNNRuntimeError) {
        let graph = try ONNXGraph(data: data, path: path)
        let outputs = options.outputs.isEmpty ? graph.outputs : options.outputs
        guard !outputs.isEmpty else { throw .invalidModel(path: path, reason: "the graph declares no outputs") }
        let known = Set(graph.nodes.flatMap(\.outputs)).union(graph.inputs).union(graph.constants.keys)
        for name in outputs where !known.contains(name) { throw .unknownTensor(path: path, name: name) }
        if let threads = options.threads, threads < 1 {
            throw .invalidInput(path: path, reason: "thread count \(threads) must be at least 1")
        }
        inputName = graph.inputs[0]
        outputNames = outputs
        layers = try LayerBuilder(graph: graph, path: path, exposed: Set(outputs)).build()
        constants = graph.constants
        threads = options.threads
        backend = try Backend(path: path)
    }

    /// Runs a batch (e.g. [N, C, H, W]) and returns the requested tensors by name.
    public func run(inputName: String, input: Tensor) throws(CNNRuntimeError) -> [String: Tensor] {
        guard inputName == self.inputName else {
            throw .invalidInput(
                path: backend.path, reason: "the model's input is '\(self.inputName)', not '\(inputName)'")
        }
        guard !input.shape.isEmpty, input.shape.allSatisfy({ $0 > 0 }), input.count <= ONNXGraph.maxElements else {
            throw .invalidInput(path: backend.path, reason: "unusable input shape \(input.shape)")
        }
        let plan = try self.plan(for: input.shape)
        var outputs: [String: [Float]] = [:]
        var failure: CNNRuntimeError?
        input.data.withUnsafeBytes { bytes in
            do throws(CNNRuntimeError) {
                outputs = try plan.run(input: bytes.baseAddress!, threads: threads)
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        var result: [String: Tensor] = [:]
        for output in plan.outputs {
            result[output.name] = Tensor(shape: plan.values[output.value].dims, data: outputs[output.name] ?? [])
        }
        return result
    }

    private func plan(for shape: [Int]) throws(CNNRuntimeError) -> ExecutionPlan {
        if let plan = plans.withLock({ $0[shape] }) { return plan }
        OpenMP.setThreads(threads)
        let plan = try ExecutionPlan(
            backend: backend, layers: layers, constants: constants, inputName: inputName, inputDims: shape,
            outputs: outputNames, weightCache: weightCache)
        return plans.withLock { plans in
            if let existing = plans[shape] { return existing }
            plans[shape] = plan
            return plan
        }
    }
}
