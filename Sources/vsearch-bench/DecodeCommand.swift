import ArgumentParser
import Foundation
import ImageDecoding
import ImageTensor
import VSearchCore

struct DecodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Time reading, decoding and preprocessing each image into the model's input tensor.",
        discussion: """
            Prints a JSON line per image: mean, median and best milliseconds over --repeat runs after one \
            warm-up for the whole step ("ms", "medianMs", "bestMs"), and the mean for preprocessing alone \
            ("preprocessMs").
            """
    )

    @OptionGroup var options: PreprocessOptions

    @Option(help: "Timed runs per image.")
    var `repeat` = 20

    @Argument(help: "Image files.")
    var images: [String]

    func run() throws {
        let (decoder, preprocessor) = try options.load()
        var buffer = Tensor(zeros: [1] + preprocessor.sampleShape)
        let runs = max(self.repeat, 1)
        for path in images {
            do {
                var total: [Double] = []
                var preprocessing: [Double] = []
                var last: Image?
                for run in 0...runs {
                    let start = ContinuousClock.now
                    let image = try decoder.decode(file: path, targetShortSide: options.targetShortSide(preprocessor))
                    let decoded = ContinuousClock.now
                    try preprocessor.write(image, into: &buffer, at: 0)
                    let end = ContinuousClock.now
                    if run > 0 {
                        total.append(Self.milliseconds(end - start))
                        preprocessing.append(Self.milliseconds(end - decoded))
                    }
                    last = image
                }
                printJSONLine([
                    "image": path, "ms": total.reduce(0, +) / Double(runs), "bestMs": total.min() ?? 0,
                    "medianMs": total.sorted()[total.count / 2],
                    "preprocessMs": preprocessing.reduce(0, +) / Double(runs),
                    "width": last?.sourceWidth ?? 0, "height": last?.sourceHeight ?? 0,
                    "decodedWidth": last?.width ?? 0, "decodedHeight": last?.height ?? 0,
                ])
            } catch {
                printJSONLine(["image": path, "error": describe(error)])
                throw ExitCode(1)
            }
        }
    }

    static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1e3 + Double(duration.components.attoseconds) / 1e15
    }
}
