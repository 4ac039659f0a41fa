import Foundation
import ImageDecoding
import Testing
import VSearchTesting

@testable import LocalFeatures

/// The bytes a catalogue keeps for an item's local features, and a device sends for a frame's.
@Suite(.offThePool) struct LocalFeaturesEncodingTests {
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

    /// The layout is a stored format: the tag, the count, then x, y, angle and four descriptor words per
    /// keypoint, little-endian. A store written by an earlier build must still read.
    @Test func theLayoutIsPinnedByteForByte() throws {
        let one = LocalFeatures(
            points: [SIMD2(1, -2)], angles: [0.5], descriptors: [0x0102_0304_0506_0708, 0, .max, 0xA0])
        let expected: [UInt8] =
            [0x56, 0x4C, 0x46, 1, 1, 0, 0, 0]
            + [0x00, 0x00, 0x80, 0x3F] + [0x00, 0x00, 0x00, 0xC0] + [0x00, 0x00, 0x00, 0x3F]
            + [0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01] + [UInt8](repeating: 0, count: 8)
            + [UInt8](repeating: 0xFF, count: 8) + [0xA0, 0, 0, 0, 0, 0, 0, 0]
        #expect(one.encoded == expected)
        #expect(try LocalFeatures(encoded: expected) == one)
    }

    /// A database hands over a blob wherever it holds it: an odd address must read the same.
    @Test func aBlobAtAnUnalignedAddressDecodes() throws {
        let image = try ImageDecoder().decode(file: try Repository.photo("skimage/coffee.png"))
        let features = LocalFeatureExtractor().features(of: image)
        let shifted = [0x55] + features.encoded
        let decoded = try shifted.withUnsafeBytes { raw in
            try LocalFeatures(encoded: UnsafeRawBufferPointer(rebasing: raw.dropFirst()))
        }
        #expect(decoded == features)
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
