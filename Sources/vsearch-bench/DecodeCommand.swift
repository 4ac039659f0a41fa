import ArgumentParser
import Foundation
import ImageDecoding
import ImageTensor
import VSearchCore

struct DecodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Time reading, decoding and preprocessing each image into the model's input tensor.",
        discussion: "Prints a JSON line per image: mean and best milliseconds over --repeat runs, after one warm-up."
    )

    @OptionGroup var options: PreprocessOptions

    @Option(help: "Timed runs per image.")
    var `repeat` = 20

    @Argument(help: "Image files.")
    var images: [String]

    func run() throws {
        let (decoder, preprocessor) = try options.load()
        var buffer = Tensor(zeros: [1] + preprocessor.sampleShape)
        for path in images {
            do {
                var times: [Double] = []
                var last: Image?
                for run in 0...max(self.repeat, 1) {
                    let start = ContinuousClock.now
                    let image = try decoder.decode(file: path, targetShortSide: options.targetShortSide(preprocessor))
                    try preprocessor.write(image, into: &buffer, at: 0)
                    let elapsed = ContinuousClock.now - start
                    if run > 0 {
                        times.append(
                            Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1e3)
                    }
                    last = image
                }
                printJSONLine([
                    "image": path, "ms": times.reduce(0, +) / Double(times.count), "bestMs": times.min() ?? 0,
                    "width": last?.sourceWidth ?? 0, "height": last?.sourceHeight ?? 0,
                    "decodedWidth": last?.width ?? 0, "decodedHeight": last?.height ?? 0,
                ])
            } catch {
                printJSONLine(["image": path, "error": describe(error)])
                throw ExitCode(1)
            }
        }
    }
}
