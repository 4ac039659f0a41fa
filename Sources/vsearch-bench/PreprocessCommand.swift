import ArgumentParser
import Foundation
import ImageDecoding
import ImageTensor
import VSearchCore

/// Options shared by the decoding benchmarks and the parity oracle.
struct PreprocessOptions: ParsableArguments {
    @Option(name: .customLong("model-json"), help: "A model.json whose input section drives preprocessing.")
    var modelJSON: String

    @Flag(name: .customLong("no-dct-scaling"), help: "Decode JPEGs at full size instead of a reduced DCT scale.")
    var noDCTScaling = false

    @Option(name: .customLong("max-pixels"), help: "Refuse pictures with more pixels than this.")
    var maxPixels = 50_000_000

    @Option(
        name: .customLong("dct-oversample"),
        help: "Keep a DCT-scaled JPEG's short side at least this many times the resize target.")
    var dctOversample = 1.0

    /// The short side to ask the decoder for.
    func targetShortSide(_ preprocessor: ImagePreprocessor) -> Int {
        Int((Double(preprocessor.decodeShortSide) * max(dctOversample, 1)).rounded(.up))
    }

    func load() throws -> (ImageDecoder, ImagePreprocessor) {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: modelJSON))
        } catch {
            throw ValidationError("\(modelJSON): cannot read it")
        }
        let descriptor: ModelDescriptor
        do {
            descriptor = try JSONDecoder().decode(ModelDescriptor.self, from: data)
        } catch {
            throw ValidationError("\(modelJSON): not a model description: \(error)")
        }
        let decoder = ImageDecoder(options: ImageDecodingOptions(maxPixels: maxPixels, dctScaling: !noDCTScaling))
        return (decoder, try ImagePreprocessor(spec: descriptor.input))
    }
}

/// Prints one JSON object as a line; keys in a stable order.
func printJSONLine(_ object: [String: Any]) {
    if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]),
        let line = String(data: data, encoding: .utf8)
    {
        print(line)
    }
}

struct PreprocessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preprocess",
        abstract: "Decode and preprocess images and save the float32 input tensors as one .npy [N, …].",
        discussion: "Prints a JSON line per image with its size after EXIF orientation; a failed image gets "
            + "an \"error\" line, is left out of the .npy, and makes the exit status 1."
    )

    @OptionGroup var options: PreprocessOptions

    @Option(name: .customLong("out"), help: "Where to write the .npy file.")
    var out: String

    @Argument(help: "Image files.")
    var images: [String]

    func run() throws {
        let (decoder, preprocessor) = try options.load()
        var decoded: [Image] = []
        var failed = false
        for path in images {
            do {
                let image = try decoder.decode(file: path, targetShortSide: options.targetShortSide(preprocessor))
                decoded.append(image)
                printJSONLine([
                    "image": path, "width": image.sourceWidth, "height": image.sourceHeight,
                    "decodedWidth": image.width, "decodedHeight": image.height,
                ])
            } catch {
                failed = true
                printJSONLine(["image": path, "error": error.description])
            }
        }
        let tensor = preprocessor.tensor(decoded)
        do {
            try NumpyArray(tensor).write(path: out)
        } catch {
            throw ValidationError("\(out): cannot write it: \(error.localizedDescription)")
        }
        if failed { throw ExitCode(1) }
    }
}
