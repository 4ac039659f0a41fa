import Foundation
import Testing
import VSearchTesting

@testable import CNNRuntime

@Suite(.offThePool) struct ParserRobustnessTests {
    func load(_ data: Data, outputs: [String] = []) throws(CNNRuntimeError) -> CNNModel {
        try CNNModel(data: data, path: "test.onnx", options: .init(threads: 1, outputs: outputs))
    }

    func expectInvalid(_ data: Data, containing text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try load(data)
            Issue.record("expected an error mentioning '\(text)'", sourceLocation: sourceLocation)
        } catch {
            #expect(error.description.contains(text), "\(error.description)", sourceLocation: sourceLocation)
            #expect(!error.description.contains("\n"), sourceLocation: sourceLocation)
        }
    }

    @Test func validModelLoads() throws {
        let model = try load(TestModels.smallConv())
        #expect(model.inputName == "input")
        #expect(model.outputNames == ["out"])
    }

    @Test func emptyAndGarbageFilesAreRejected() {
        expectInvalid(Data(), containing: "no graph")
        expectInvalid(Data("this is not a model".utf8), containing: "test.onnx")
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<50 {
            let bytes = (0..<Int.random(in: 1...300, using: &generator)).map { _ in UInt8.random(in: 0...255) }
            #expect(throws: CNNRuntimeError.self) { _ = try load(Data(bytes)) }
        }
    }

    @Test func everyTruncationIsAnError() {
        let full = TestModels.smallConv()
        for length in 0..<full.count {
            #expect(throws: CNNRuntimeError.self) { _ = try load(full.prefix(length)) }
        }
    }

    @Test func bitFlipsNeverCrash() throws {
        let full = [UInt8](TestModels.smallConv())
        let input = VSearchTensor.ones([1, 2, 3, 3])
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            var bytes = full
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] ^= UInt8(1) << UInt8.random(in: 0...7)
            }
            // Either error is fine; a crash is not.
            if let model = try? load(Data(bytes)) {
                _ = try? model.run(inputName: model.inputName, input: input)
            }
        }
    }

    @Test func dimensionOverflowIsRejected() {
        var huge = TestModels.tensor("w", [2, 2, 1, 1], [0, 2, 1, 0])
        huge.dims = [1 << 40, 1 << 40, 1, 1]
        let data = TestModels.model(
            nodes: [TestModels.node("Conv", ["input", "w"], ["out"])], initializers: [huge], outputs: ["out"])
        expectInvalid(data, containing: "initializer 'w'")

        var negative = TestModels.tensor("w", [2, 2, 1, 1], [0, 2, 1, 0])
        negative.dims = [2, -2, 1, 1]
        expectInvalid(
            TestModels.model(
                nodes: [TestModels.node("Conv", ["input", "w"], ["out"])], initializers: [negative], outputs: ["out"]),
            containing: "invalid dimension")
    }

    @Test func dataThatDoesNotMatchItsShapeIsRejected() {
        let short = TestModels.tensor("w", [2, 2, 3, 3], [0, 2, 1, 0])
        expectInvalid(
            TestModels.model(
                nodes: [TestModels.node("Conv", ["input", "w"], ["out"])], initializers: [short], outputs: ["out"]),
            containing: "holds 4 values")
    }

    @Test func missingInitializerIsRejected() {
        let data = TestModels.model(
            nodes: [TestModels.node("Conv", ["input", "w"], ["out"], name: "c1")], initializers: [], outputs: ["out"])
        expectInvalid(data, containing: "'w'")
    }

    @Test func cyclesAreRejected() {
        let data = TestModels.model(
            nodes: [
                TestModels.node("Relu", ["b"], ["a"], name: "first"),
                TestModels.node("Add", ["a", "input"], ["b"], name: "second"),
            ],
            initializers: [], outputs: ["b"])
        expectInvalid(data, containing: "cycle")
    }

    @Test func unknownOperatorNamesTheOperatorAndNode() {
        let data = TestModels.model(
            nodes: [TestModels.node("FancyOp", ["input"], ["out"], name: "fancy_node")], initializers: [],
            outputs: ["out"])
        do {
            _ = try load(data)
            Issue.record("expected an error")
        } catch {
            #expect(error == .unsupportedOperator(path: "test.onnx", operator: "FancyOp", node: "fancy_node"))
            #expect(error.description.contains("FancyOp") && error.description.contains("fancy_node"))
        }
    }

    @Test func unknownRequestedTensorIsRejected() {
        #expect(throws: CNNRuntimeError.unknownTensor(path: "test.onnx", name: "nope")) {
            _ = try load(TestModels.smallConv(), outputs: ["nope"])
        }
    }

    @Test func duplicateProducersAreRejected() {
        let data = TestModels.model(
            nodes: [
                TestModels.node("Relu", ["input"], ["a"], name: "r1"),
                TestModels.node("Relu", ["input"], ["a"], name: "r2"),
            ],
            initializers: [], outputs: ["a"])
        expectInvalid(data, containing: "produced twice")
    }

    @Test func missingFileIsUnreadable() {
        #expect(throws: CNNRuntimeError.self) {
            _ = try CNNModel(contentsOf: URL(fileURLWithPath: "/nonexistent/model.onnx"), options: .init())
        }
    }
}
