import Foundation
import Testing
import VSearchCore
import VSearchTesting

/// `vsearch embed` and `vsearch classify` as a person runs them: the built binary.
@Suite(.offThePool) struct EmbedCommandTests {
    @Test func printsOneJSONLinePerImage() async throws {
        let photos = FeaturizerTests.photos
        let result = try await runVSearch(["embed", photos + "/chelsea.png", photos + "/coffee.png"])
        #expect(result.status == 0)
        let lines = result.output.split(separator: "\n")
        #expect(lines.count == 2)
        let first = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any]
        #expect(first?["image"] as? String == photos + "/chelsea.png")
        #expect((first?["vector"] as? [Double])?.count == 1280)
    }

    @Test func aBadFileGetsOneLineAndAFailingStatusWhileTheOthersAreEmbedded() async throws {
        let scratch = try TemporaryDirectory("embed-bad")
        let directory = scratch.path
        let truncated = directory + "/truncated.jpg"
        let photo = try Data(contentsOf: URL(fileURLWithPath: FeaturizerTests.photos + "/rocket.jpg"))
        try photo.prefix(photo.count / 3).write(to: URL(fileURLWithPath: truncated))
        let result = try await runVSearch(["embed", FeaturizerTests.photos + "/chelsea.png", truncated])
        #expect(result.status != 0)
        #expect(result.output.split(separator: "\n").count == 1)
        let errors = result.error.split(separator: "\n")
        #expect(errors.count == 1)
        #expect(errors.first?.contains("truncated.jpg") == true)
    }

    /// A large JPEG decodes straight to near the model's size (DCT scaling) unless `--full-jpeg-decode`:
    /// the two vectors are close but not the same, and a PNG's are identical either way.
    @Test func fullJPEGDecodeChangesOnlyLargeJPEGsVectorsAndOnlyALittle() async throws {
        let jpeg = Repository.photos + "/mate/GreenMeadow.jpg"
        let png = FeaturizerTests.photos + "/chelsea.png"
        func vectors(_ flags: [String]) async throws -> [[Double]] {
            let result = try await runVSearch(["embed"] + flags + [jpeg, png])
            try #require(result.status == 0, "\(result.error)")
            return try result.output.split(separator: "\n").map { line in
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                return try #require(object?["vector"] as? [Double])
            }
        }
        let scaled = try await vectors([])
        let full = try await vectors(["--full-jpeg-decode"])
        let cosine = zip(scaled[0], full[0]).reduce(0) { $0 + $1.0 * $1.1 }
        #expect(cosine > 0.95 && cosine < 0.99999, "cosine \(cosine)")
        #expect(scaled[1] == full[1])
    }

    @Test func classifyNamesTheEspresso() async throws {
        let result = try await runVSearch(["classify", "--json", FeaturizerTests.photos + "/coffee.png"])
        #expect(result.status == 0)
        let line = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
        let classes = line?["classes"] as? [[String: Any]]
        #expect(classes?.count == 5)
        #expect(classes?.first?["label"] as? String == "espresso")
    }

    @Test func versionPrintsTheReleaseAndTheBuild() async throws {
        let result = try await runVSearch(["--version"])
        #expect(result.status == 0)
        #expect(result.error.isEmpty)
        let lines = result.output.split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        #expect(lines.first == "vsearch \(VSearchVersion.number)")
        let build = /build: (debug|release), Swift \d+\.\d+( or later)?, [a-z0-9_]+-[a-z]+/
        #expect(lines.dropFirst().first?.wholeMatch(of: build) != nil, "\(lines)")
    }
}
