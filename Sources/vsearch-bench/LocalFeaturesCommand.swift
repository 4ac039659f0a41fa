import ArgumentParser
import Foundation
import ImageDecoding
import LocalFeatures

/// Times local features in Swift: describing a picture, and checking one query against one candidate.
struct LocalFeaturesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "local-features",
        abstract: "Time describing pictures by local features and checking queries against candidates.",
        discussion: """
            Describes every --candidate photo once, then each query --repeat times, and checks each query \
            against every candidate. Prints one JSON object: the median milliseconds to describe a query \
            ("describeMs", decoded picture in, features out), to check one query against one candidate \
            ("checkMs": matching and the placement check), the keypoints per picture and the consistent \
            matches found. One thread; scripts/bench/local_features_cost.py runs OpenCV's ORB beside it.
            """
    )

    @Option(help: "Keypoints per picture.")
    var keypoints = 500

    @Option(help: "Longest side pictures are described at.")
    var side = 480

    @Option(help: "Timed runs per query.")
    var `repeat` = 5

    @Option(parsing: .upToNextOption, help: "Candidate photos (decoded with their alpha, as items are).")
    var candidate: [String]

    @Argument(help: "Query pictures.")
    var queries: [String]

    func run() throws {
        var configuration = LocalFeatureExtractor.Configuration()
        configuration.maximumKeypoints = keypoints
        configuration.longestSide = side
        let extractor = LocalFeatureExtractor(configuration: configuration)
        let verifier = GeometricVerifier()
        let decoder = ImageDecoder()
        let candidates = try candidate.map { path in
            let decoded = try decoder.decodeWithAlpha(file: path)
            return extractor.features(of: decoded.image, alpha: decoded.alpha)
        }
        var describing: [Double] = []
        var checking: [Double] = []
        var keypointCounts: [Int] = []
        var found = 0
        for path in queries {
            let image = try decoder.decode(file: path)
            var features = extractor.features(of: image)
            for _ in 0..<max(1, self.repeat) {
                let start = ContinuousClock.now
                features = extractor.features(of: image)
                describing.append(VerifyCommand.milliseconds(ContinuousClock.now - start))
            }
            keypointCounts.append(features.count)
            let start = ContinuousClock.now
            for item in candidates { found += verifier.consistentMatches(query: features, candidate: item) }
            checking.append(VerifyCommand.milliseconds(ContinuousClock.now - start) / Double(max(1, candidates.count)))
        }
        printJSONLine([
            "describeMs": VerifyCommand.median(describing), "checkMs": VerifyCommand.median(checking),
            "keypoints": Double(keypointCounts.reduce(0, +)) / Double(max(1, keypointCounts.count)),
            "candidateKeypoints": Double(candidates.map(\.count).reduce(0, +)) / Double(max(1, candidates.count)),
            "matches": found,
        ])
    }
}
