import ArgumentParser
import CNNRuntime
import Foundation
import VSearchCore

/// Runs an ONNX model on a .npy input with the project's runtime and writes each requested tensor as .npy;
/// the oracle tests compare these files with onnxruntime.
struct RunTensor: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run-tensor",
        abstract: "Run an ONNX model on a .npy tensor and write the named outputs as .npy files."
    )

    @Option(help: "The ONNX model file.") var model: String
    @Option(help: "A float32 .npy input, e.g. [N, C, H, W].") var input: String
    @Option(parsing: .upToNextOption, help: "Tensor names to write (graph outputs or internal tensors).")
    var output: [String] = []
    @Option(help: "Directory for NAME.npy files.") var outDir: String
    @Option(help: "Threads.") var threads: Int?

    func run() throws {
        guard let tensor = try NumpyArray.read(path: input).tensor else {
            throw ValidationError("\(input): empty array")
        }
        let cnn = try CNNModel(
            contentsOf: URL(fileURLWithPath: model), options: .init(threads: threads, outputs: output))
        let results = try cnn.run(inputName: cnn.inputName, input: tensor)
        let directory = URL(fileURLWithPath: outDir)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for name in cnn.outputNames {
            guard let result = results[name] else { continue }
            let file = name.replacingOccurrences(of: "/", with: "_") + ".npy"
            try NumpyArray(result).write(path: directory.appendingPathComponent(file).path)
        }
    }
}
