import ArgumentParser
import CNNRuntime
import COpenBLAS
import Foundation
import VSearchCore

/// The measurement behind the kernel choice: the whole EfficientNet-Lite0 on oneDNN against
/// only its 1×1 convolutions as OpenBLAS sgemm calls. The sgemm side is a lower bound for an
/// im2col+sgemm runtime (1×1 convolutions need no im2col, and it skips the depthwise and stem
/// convolutions, activations and pooling), so oneDNN wins if its full network is faster.
struct CNNKernelBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cnn-kernels",
        abstract: "Compare oneDNN (whole Lite0) with OpenBLAS sgemm (Lite0's 1x1 convolutions only) at batch 1."
    )

    @Option(help: "The EfficientNet-Lite0 model directory.") var model: String
    @Option(help: "Threads for both libraries.") var threads: Int = 2
    @Option(help: "Seconds per measurement.") var seconds: Double = 3

    /// (input channels, output channels, spatial size) of Lite0's pointwise convolutions at 224×224.
    static let pointwise: [(Int, Int, Int)] = [
        (32, 16, 112), (16, 96, 112), (96, 24, 56), (24, 144, 56), (144, 24, 56), (24, 144, 56), (144, 40, 28),
        (40, 240, 28), (240, 40, 28), (40, 240, 28), (240, 80, 14), (80, 480, 14), (480, 80, 14), (80, 480, 14),
        (480, 80, 14), (80, 480, 14), (480, 112, 14), (112, 672, 14), (672, 112, 14), (112, 672, 14),
        (672, 112, 14), (112, 672, 14), (672, 192, 7), (192, 1152, 7), (1152, 192, 7), (192, 1152, 7),
        (1152, 192, 7), (192, 1152, 7), (1152, 192, 7), (192, 1152, 7), (1152, 320, 7), (320, 1280, 7),
    ]

    func run() throws {
        let directory = URL(fileURLWithPath: model)
        let cnn = try CNNModel(
            contentsOf: directory.appendingPathComponent("model.onnx"),
            options: .init(threads: threads, outputs: ["features"]))
        let input = Tensor(shape: [1, 3, 224, 224], data: (0..<(3 * 224 * 224)).map { Float(sin(Double($0))) })
        let onednn = try Self.milliseconds(seconds) { _ = try cnn.run(inputName: cnn.inputName, input: input) }

        openblas_set_num_threads(Int32(threads))
        let buffers = Self.pointwise.map { (ic, oc, size) in
            (
                [Float](repeating: 0.01, count: oc * ic), [Float](repeating: 0.5, count: ic * size * size),
                [Float](repeating: 0, count: oc * size * size)
            )
        }
        var outputs = buffers.map(\.2)
        let sgemm = try Self.milliseconds(seconds) {
            for (index, (ic, oc, size)) in Self.pointwise.enumerated() {
                let n = size * size
                cblas_sgemm(
                    CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(oc), Int32(n), Int32(ic), 1,
                    buffers[index].0, Int32(ic), buffers[index].1, Int32(n), 0, &outputs[index], Int32(n))
            }
        }
        print(
            String(
                format: "oneDNN, whole Lite0: %.2f ms/image; OpenBLAS sgemm, Lite0's 1x1 convolutions only: %.2f ms "
                    + "(%.2fx the oneDNN time) — %d threads",
                onednn, sgemm, sgemm / onednn, threads))
    }

    static func milliseconds(_ seconds: Double, _ body: () throws -> Void) throws -> Double {
        try body()
        var runs = 0
        let start = Date()
        while Date().timeIntervalSince(start) < seconds || runs < 3 {
            try body()
            runs += 1
        }
        return Date().timeIntervalSince(start) * 1000 / Double(runs)
    }
}
