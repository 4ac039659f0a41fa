import Foundation
import ImageDecoding
import Testing
import VSearchTesting

@testable import LocalFeatures

/// The bytes a catalogue keeps for an item's local features, and a device sends for a frame's.
@Suite struct LocalFeaturesEncodingTests {
    @Test func aRealPhotosFeaturesRoundTripBitForBit() throws {
        let image = try ImageDecoder().decode(file: try Repository.photo("skimage/coffee.png"))
        var configuration = LocalFeatureExtractor.Configuration()
        configuration.maximumKeypoints = 500
        configuration.longestSide = 480
        let features = LocalFeatureExtractor(configuration: configuration).features(of: image)
        #expect(features.count > 400)
        let bytes = features.encoded
        #expect(bytes.count == 8 + 44 * features.count)
        #expect(try LocalFeatures(encoded: bytes) == features)
    }

    @Test func noKeypointsIsEightBytes() throws {
        let empty = LocalFeatures(points: [], angles: [], descriptors: [])
        #expect(empty.encoded.count == 8)
        #expect(try LocalFeatures(encoded: empty.encoded) == empty)
    }

    @Test func aForeignShortOrLongBlobIsAnErrorNotATrap() {
        let one = LocalFeatures(points: [SIMD2(1, 2)], angles: [0.5], descriptors: [1, 2, 3, 4]).encoded
        let cases: [([UInt8], String)] = [
            ([], "no VLF1 tag"), (Array("PNG\u{1}1234".utf8), "no VLF1 tag"), (Array(one.dropLast()), "got 51"),
            (one + [0], "got 53"),
            // A count of four billion keypoints in an 8-byte blob.
            (Array(one[0..<4]) + [0xFF, 0xFF, 0xFF, 0xFF], "got 8"),
        ]
        for (bytes, reason) in cases {
            #expect(throws: LocalFeaturesEncodingError.self) { try LocalFeatures(encoded: bytes) }
            do {
                _ = try LocalFeatures(encoded: bytes)
            } catch {
                #expect(error.description.contains(reason), "\(error.description)")
            }
        }
    }
}
