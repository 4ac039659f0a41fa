import Foundation
import TestSupport
import Testing
import VSearchCore

/// `vsearch embed` and `vsearch classify` as a person runs them: the built binary.
@Suite struct EmbedCommandTests {
    static var binary: String {
        get throws {
            var candidates = [
                FeaturizerTests.root + "/.build/debug/vsearch", FeaturizerTests.root + "/.build/release/vsearch",
            ]
            if let dir = ProcessInfo.processInfo.environment["VSEARCH_BIN_DIR"] {
                candidates.insert(dir + "/vsearch", at: 0)
            }
            guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
                throw CommandLineSetup("no vsearch binary: run swift build")
            }
            return found
        }
    }

    static func run(_ arguments: [String]) async throws -> (status: Int32, output: String, error: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try binary)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["VSEARCH_MODEL"] = FeaturizerTests.root + "/models/efficientnet-lite0"
        process.environment = environment
        let directory = NSTemporaryDirectory() + "vsearch-embed-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Files, not pipes: the output of many vectors must not stall the child.
        let out = directory + "/out"
        let err = directory + "/err"
        FileManager.default.createFile(atPath: out, contents: nil)
        FileManager.default.createFile(atPath: err, contents: nil)
        process.standardOutput = FileHandle(forWritingAtPath: out)
        process.standardError = FileHandle(forWritingAtPath: err)
        try process.run()
        try await process.exited()
        return (
            process.terminationStatus, try String(contentsOfFile: out, encoding: .utf8),
            try String(contentsOfFile: err, encoding: .utf8)
        )
    }

    @Test func printsOneJSONLinePerImage() async throws {
        let photos = FeaturizerTests.photos
        let result = try await Self.run(["embed", photos + "/chelsea.png", photos + "/coffee.png"])
        #expect(result.status == 0)
        let lines = result.output.split(separator: "\n")
        #expect(lines.count == 2)
        let first = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any]
        #expect(first?["image"] as? String == photos + "/chelsea.png")
        #expect((first?["vector"] as? [Double])?.count == 1280)
    }

    @Test func aBadFileGetsOneLineAndAFailingStatusWhileTheOthersAreEmbedded() async throws {
        let directory = NSTemporaryDirectory() + "vsearch-embed-bad-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let truncated = directory + "/truncated.jpg"
        let photo = try Data(contentsOf: URL(fileURLWithPath: FeaturizerTests.photos + "/rocket.jpg"))
        try photo.prefix(photo.count / 3).write(to: URL(fileURLWithPath: truncated))
        let result = try await Self.run(["embed", FeaturizerTests.photos + "/chelsea.png", truncated])
        #expect(result.status != 0)
        #expect(result.output.split(separator: "\n").count == 1)
        let errors = result.error.split(separator: "\n")
        #expect(errors.count == 1)
        #expect(errors.first?.contains("truncated.jpg") == true)
    }

    @Test func classifyNamesTheEspresso() async throws {
        let result = try await Self.run(["classify", "--json", FeaturizerTests.photos + "/coffee.png"])
        #expect(result.status == 0)
        let line = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
        let classes = line?["classes"] as? [[String: Any]]
        #expect(classes?.count == 5)
        #expect(classes?.first?["label"] as? String == "espresso")
    }

    @Test func versionPrintsTheReleaseAndTheBuild() async throws {
        let result = try await Self.run(["--version"])
        #expect(result.status == 0)
        #expect(result.error.isEmpty)
        let lines = result.output.split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        #expect(lines.first == "vsearch \(VSearchVersion.number)")
        let build = /build: (debug|release), Swift \d+\.\d+( or later)?, [a-z0-9_]+-[a-z]+/
        #expect(lines.dropFirst().first?.wholeMatch(of: build) != nil, "\(lines)")
    }
}
