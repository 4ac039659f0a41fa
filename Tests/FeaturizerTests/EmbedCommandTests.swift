import Foundation
import Testing
import VSearchCore
import VSearchTesting

/// `vsearch embed` and `vsearch classify` as a person runs them: the built binary.
@Suite struct EmbedCommandTests {
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
