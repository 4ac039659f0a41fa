import ArgumentParser
import CNNRuntime
import Foundation
import VSearchCore

/// Throughput of the CNN runtime on a model directory, as one JSON line for scripts/bench/cnn.py.
struct CNNBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cnn",
        abstract: "Measure images per second of the CNN runtime on a model directory."
    )

    @Option(help: "Model directory holding model.json and model.onnx.") var model: String
    @Option(help: "Images per run.") var batch: Int = 1
    @Option(help: "Threads.") var threads: Int = 2
    @Option(help: "Seconds to measure.") var seconds: Double = 5
    @Option(help: "A float32 .npy image tensor [1, C, H, W] to repeat over the batch (default: synthetic).")
    var input: String?

    func run() throws {
        let directory = URL(fileURLWithPath: model)
        let descriptor = try JSONDecoder().decode(
            ModelDescriptor.self, from: Data(contentsOf: directory.appendingPathComponent("model.json")))
        let loadStart = Date()
        let cnn = try CNNModel(
            contentsOf: directory.appendingPathComponent(descriptor.onnx),
            options: .init(threads: threads, outputs: [descriptor.feature.output]))
        let image: [Float]
        let c = 3
        let h = descriptor.input.height
        let w = descriptor.input.width
        if let input {
            let tensor = try NumpyArray.read(path: input)
            guard tensor.values.count == c * h * w else {
                throw ValidationError("input \(tensor.shape) is not one \(c)×\(h)×\(w) image")
            }
            image = tensor.values
        } else {
            image = (0..<(c * h * w)).map { Float(sin(Double($0) * 0.001)) }
        }
        var data: [Float] = []
        for _ in 0..<batch { data += image }
        let tensor = Tensor(shape: [batch, c, h, w], data: data)
        _ = try cnn.run(inputName: cnn.inputName, input: tensor)  // plans, reorders weights
        let loadSeconds = Date().timeIntervalSince(loadStart)
        var runs = 0
        let start = Date()
        while Date().timeIntervalSince(start) < seconds || runs < 3 {
            _ = try cnn.run(inputName: cnn.inputName, input: tensor)
            runs += 1
        }
        let elapsed = Date().timeIntervalSince(start)
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let ips = Double(runs * batch) / elapsed
        print(
            #"{"tool": "vsearch", "batch": \#(batch), "threads": \#(threads), "runs": \#(runs), "#
                + #""images_per_second": \#(ips), "load_seconds": \#(loadSeconds), "peak_rss_kb": \#(usage.ru_maxrss), "omp_wait_policy": "\#(CNNModel.openMPWaitPolicy)"}"#
        )
    }
}
