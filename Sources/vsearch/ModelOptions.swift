import ArgumentParser
import Featurizer
import ImageDecoding
import VSearchCore

/// The options of every command that runs the model.
struct ModelOptions: ParsableArguments {
    @Option(
        name: .long,
        help: "Model directory (model.onnx + model.json). Default: $VSEARCH_MODEL, then the prepared default model.")
    var model: String?

    @Option(name: .long, help: "Threads for the network (default: all cores).")
    var threads: Int?

    @Option(name: .long, help: "Images per network call.")
    var batch: Int = 8

    @Option(name: .long, help: "Refuse images with more pixels than this (decompression-bomb guard).")
    var maxPixels: Int = 50_000_000

    @Flag(
        name: .customLong("full-jpeg-decode"),
        help: """
            Decode JPEGs at full size before resizing (by default a large JPEG decodes straight to near the \
            size the model needs, with libjpeg's DCT scaling: faster, and its vectors differ a little).
            """
    )
    var fullJPEGDecode = false

    /// The decoding limits and switches these options give.
    var decoding: ImageDecodingOptions {
        ImageDecodingOptions(maxPixels: maxPixels, dctScaling: !fullJPEGDecode)
    }

    func loadFeaturizer() throws -> Featurizer {
        let directory = try Self.directory(model)
        var options = Featurizer.Options(threads: threads, maxBatch: batch)
        options.decoding = decoding
        return try Featurizer(model: directory, options: options)
    }

    /// The model directory at `path` ($VSEARCH_MODEL, then the default, when nil); a missing model's
    /// error gains the flag that names another.
    static func directory(_ path: String?) throws -> ModelDirectory {
        do {
            return try ModelDirectory(path: path)
        } catch {
            guard case .missing = error else { throw error }
            throw CommandError("\(error), or pass --model DIR")
        }
    }
}
