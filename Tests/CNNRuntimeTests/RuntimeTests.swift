import Foundation
import Testing
import VSearchCore
import VSearchTesting

@testable import CNNRuntime

typealias VSearchTensor = VSearchCore.Tensor

extension VSearchTensor {
    static func ones(_ shape: [Int]) -> VSearchTensor {
        VSearchTensor(shape: shape, data: [Float](repeating: 1, count: shape.reduce(1, *)))
    }

    static func ramp(_ shape: [Int]) -> VSearchTensor {
        let count = shape.reduce(1, *)
        return VSearchTensor(shape: shape, data: (0..<count).map { Float($0 % 7) - 3 })
    }
}

@Suite(.offThePool) struct RuntimeTests {
    /// The small conv computes out[0] = relu(2·x[1] − 1), out[1] = relu(x[0] + 0.5).
    func expected(_ input: VSearchTensor) -> [Float] {
        let n = input.shape[0]
        let plane = input.shape[2] * input.shape[3]
        var out = [Float](repeating: 0, count: input.count)
        for b in 0..<n {
            for i in 0..<plane {
                let x0 = input.data[(b * 2) * plane + i]
                let x1 = input.data[(b * 2 + 1) * plane + i]
                out[(b * 2) * plane + i] = max(0, 2 * x1 - 1)
                out[(b * 2 + 1) * plane + i] = max(0, x0 + 0.5)
            }
        }
        return out
    }

    @Test func convWithFusedReluComputesTheRightValues() throws {
        let model = try CNNModel(data: TestModels.smallConv(), path: "small.onnx", options: .init(threads: 1))
        for shape in [[1, 2, 3, 3], [3, 2, 5, 4]] {
            let input = VSearchTensor.ramp(shape)
            let out = try #require(try model.run(inputName: "input", input: input)["out"])
            #expect(out.shape == shape)
            #expect(out.data == expected(input))
        }
    }

    @Test func internalTensorsCanBeRequested() throws {
        let model = try CNNModel(
            data: TestModels.smallConv(), path: "small.onnx", options: .init(threads: 1, outputs: ["conv", "out"]))
        let input = VSearchTensor.ramp([2, 2, 2, 2])
        let outputs = try model.run(inputName: "input", input: input)
        let conv = try #require(outputs["conv"])
        let out = try #require(outputs["out"])
        // The cut-point keeps the pre-activation values, negative ones included.
        #expect(conv.data.contains { $0 < 0 })
        #expect(zip(conv.data, out.data).allSatisfy { max(0, $0) == $1 })
    }

    @Test func constantsAndTheInputCanBeRequested() throws {
        let model = try CNNModel(
            data: TestModels.smallConv(), path: "small.onnx", options: .init(threads: 1, outputs: ["w", "input"]))
        let input = VSearchTensor.ramp([1, 2, 2, 2])
        let outputs = try model.run(inputName: "input", input: input)
        #expect(outputs["w"] == VSearchTensor(shape: [2, 2, 1, 1], data: [0, 2, 1, 0]))
        #expect(outputs["input"] == input)
    }

    @Test func concurrentRunsAgreeWithSequentialOnes() async throws {
        let model = try CNNModel(data: TestModels.smallConv(), path: "small.onnx", options: .init(threads: 1))
        let inputs = (1...8).map { n in VSearchTensor.ramp([n % 3 + 1, 2, 6, 5]) }
        let results = try await withThrowingTaskGroup(of: (Int, [Float]).self) { group in
            for (index, input) in inputs.enumerated() {
                // Each run on a thread of its own: the suite's executor would take them one at a time.
                group.addTask(executorPreference: QueueExecutor(label: "run \(index)")) {
                    (index, try model.run(inputName: "input", input: input)["out"]!.data)
                }
            }
            var collected: [Int: [Float]] = [:]
            for try await (index, data) in group { collected[index] = data }
            return collected
        }
        for (index, input) in inputs.enumerated() { #expect(results[index] == expected(input)) }
    }

    @Test func inputsThatDoNotFitAreErrors() throws {
        let model = try CNNModel(data: TestModels.smallConv(), path: "small.onnx", options: .init(threads: 1))
        #expect(throws: CNNRuntimeError.self) { _ = try model.run(inputName: "image", input: .ones([1, 2, 3, 3])) }
        do {
            _ = try model.run(inputName: "input", input: .ones([1, 3, 3, 3]))
            Issue.record("three channels must not fit a two-channel conv")
        } catch {
            #expect(error.description.contains("conv1"))
        }
    }

    @Test func padModesMatchTheirDefinitions() {
        let input: [Float] = [1, 2, 3]
        func pad(_ mode: PadParams.Mode) -> [Float] {
            var output = [Float](repeating: .nan, count: 8)
            input.withUnsafeBufferPointer { src in
                output.withUnsafeMutableBufferPointer { dst in
                    PadKernel.run(
                        PadParams(pads: [2, 3], value: 9, mode: mode), input: src.baseAddress!, inputDims: [3],
                        output: dst.baseAddress!, outputDims: [8])
                }
            }
            return output
        }
        #expect(pad(.constant) == [9, 9, 1, 2, 3, 9, 9, 9])
        #expect(pad(.edge) == [1, 1, 1, 2, 3, 3, 3, 3])
        #expect(pad(.reflect) == [3, 2, 1, 2, 3, 2, 1, 2])
    }

    @Test func batchNormalizationFoldsIntoTheConvolution() throws {
        let bn = TestModels.node("BatchNormalization", ["conv", "s", "bb", "m", "v"], ["out"], name: "bn")
        let data = TestModels.model(
            nodes: [TestModels.node("Conv", ["input", "w", "b"], ["conv"], name: "c"), bn],
            initializers: [
                TestModels.tensor("w", [2, 2, 1, 1], [0, 2, 1, 0]), TestModels.tensor("b", [2], [-1, 0.5]),
                TestModels.tensor("s", [2], [2, 1]), TestModels.tensor("bb", [2], [0, 1]),
                TestModels.tensor("m", [2], [1, 0]), TestModels.tensor("v", [2], [1, 4]),
            ], outputs: ["out"])
        let model = try CNNModel(data: data, path: "bn.onnx", options: .init(threads: 1))
        let input = VSearchTensor.ramp([1, 2, 2, 2])
        let out = try #require(try model.run(inputName: "input", input: input)["out"])
        let epsilon: Float = 1e-5
        for i in 0..<4 {
            let c0 = 2 * input.data[4 + i] - 1
            let c1 = input.data[i] + 0.5
            #expect(abs(out.data[i] - ((c0 - 1) * 2 / (1 + epsilon).squareRoot())) < 1e-4)
            #expect(abs(out.data[4 + i] - (c1 / (4 + epsilon).squareRoot() + 1)) < 1e-4)
        }
    }
}

@Suite(.offThePool) struct MemoryPlanTests {
    @Test func aChainOfLayersReusesTwoBuffers() throws {
        let nodes = (0..<6).map { i in
            TestModels.node("Sigmoid", [i == 0 ? "input" : "t\(i - 1)"], ["t\(i)"], name: "s\(i)")
        }
        let data = TestModels.model(nodes: nodes, initializers: [], outputs: ["t5"])
        let graph = try ONNXGraph(data: data, path: "chain.onnx")
        let layers = try LayerBuilder(graph: graph, path: "chain.onnx", exposed: ["t5"]).build()
        let plan = try ExecutionPlan(
            backend: Backend(path: "chain.onnx"), layers: layers, constants: [:], inputName: "input",
            inputDims: [1, 2, 8, 8], outputs: ["t5"])
        let tensorBytes = 2 * 8 * 8 * 4
        // Six intermediate tensors, but each dies when the next is made: two slots suffice.
        #expect(plan.arenaBytes == 2 * tensorBytes)
        let model = try CNNModel(data: data, path: "chain.onnx", options: .init(threads: 1))
        let out = try #require(try model.run(inputName: "input", input: .ramp([1, 2, 8, 8]))["t5"])
        var expected = VSearchTensor.ramp([1, 2, 8, 8]).data
        for _ in 0..<6 { expected = expected.map { 1 / (1 + exp(-$0)) } }
        #expect(zip(out.data, expected).allSatisfy { abs($0 - $1) < 1e-5 })
    }
}
