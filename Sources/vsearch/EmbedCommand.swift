import ArgumentParser
import Featurizer
import Foundation
import VSearchCore

/// `vsearch embed IMAGE...`: one JSON line per image with its feature vector.
struct EmbedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Print each image's feature vector as a JSON line: {\"image\": PATH, \"vector\": [...]}."
    )

    @OptionGroup var modelOptions: ModelOptions

    @Argument(help: "Image files (JPEG, PNG or WebP).")
    var images: [String]

    func run() async throws {
        let featurizer = try modelOptions.loadFeaturizer()
        var failures = 0
        let output = StandardOutput()
        for (path, result) in zip(images, await featurizer.embed(files: images)) {
            switch result {
            case .success(let vector):
                output.write("{\"image\":\(JSONText.string(path)),\"vector\":\(JSONText.floats(vector))}\n")
            case .failure(let error):
                failures += 1
                printError(error)
            }
        }
        output.flush()
        if failures > 0 { throw ExitCode(1) }
    }
}

/// `vsearch classify IMAGE...`: the top-5 ImageNet classes, a sanity check for a model.
struct ClassifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "classify",
        abstract: "Print the top-5 ImageNet classes of each image (a sanity check for a model)."
    )

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .shortAndLong, help: "How many classes to print.")
    var top: Int = 5

    @Flag(help: "Print JSON lines instead of text.")
    var json = false

    @Argument(help: "Image files (JPEG, PNG or WebP).")
    var images: [String]

    func run() async throws {
        let featurizer = try modelOptions.loadFeaturizer()
        guard featurizer.descriptor.logits != nil else {
            throw CommandError("\(featurizer.descriptor.name) has no classifier output (\"logits\" in model.json)")
        }
        var failures = 0
        let output = StandardOutput()
        for (path, result) in zip(images, await featurizer.predict(files: images)) {
            switch result {
            case .success(let prediction):
                let classes = featurizer.classes(of: prediction, top: top)
                if json {
                    let list = classes.map {
                        "{\"label\":\(JSONText.string($0.label)),\"index\":\($0.index),\"probability\":\($0.probability)}"
                    }
                    output.write("{\"image\":\(JSONText.string(path)),\"classes\":[\(list.joined(separator: ","))]}\n")
                } else {
                    output.write("\(path)\n")
                    for c in classes {
                        output.write(String(format: "  %.3f  %@\n", c.probability, c.label))
                    }
                }
            case .failure(let error):
                failures += 1
                printError(error)
            }
        }
        output.flush()
        if failures > 0 { throw ExitCode(1) }
    }
}
