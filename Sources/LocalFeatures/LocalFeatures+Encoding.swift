import Foundation

/// Why stored local features cannot be read back.
public struct LocalFeaturesEncodingError: Error, CustomStringConvertible, Sendable, Equatable {
    public var description: String

    public init(_ description: String) { self.description = description }
}

extension LocalFeatures {
    /// The first bytes of every encoding: "VLF" and the format's version.
    static let magic: [UInt8] = [0x56, 0x4C, 0x46, 1]
    /// Bytes per keypoint: x, y and angle as 32-bit floats, then four 64-bit descriptor words.
    static let bytesPerKeypoint = 3 * 4 + 4 * 8

    /// The features as bytes for a catalogue to keep: a 4-byte tag, the keypoint count (32 bits), then
    /// each keypoint's position, angle and descriptor, all little-endian (44 bytes per keypoint).
    public var encoded: [UInt8] {
        var bytes = Self.magic
        bytes.reserveCapacity(8 + count * Self.bytesPerKeypoint)
        func append<T: FixedWidthInteger>(_ value: T) {
            withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
        }
        append(UInt32(count))
        for i in 0..<count {
            append(points[i].x.bitPattern)
            append(points[i].y.bitPattern)
            append(angles[i].bitPattern)
            for word in descriptors[(4 * i)..<(4 * i + 4)] { append(word) }
        }
        return bytes
    }

    /// Reads features written by ``encoded``; a short, long or foreign blob is an error, never a trap.
    public init(encoded bytes: [UInt8]) throws(LocalFeaturesEncodingError) {
        guard bytes.count >= 8, Array(bytes[0..<4]) == Self.magic else {
            throw LocalFeaturesEncodingError("not encoded local features (no VLF1 tag)")
        }
        let count = bytes.withUnsafeBytes {
            Int(UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 4, as: UInt32.self)))
        }
        guard bytes.count == 8 + count * Self.bytesPerKeypoint else {
            throw LocalFeaturesEncodingError(
                "local features of \(count) keypoints need \(8 + count * Self.bytesPerKeypoint) bytes, got \(bytes.count)"
            )
        }
        var points: [SIMD2<Float>] = []
        var angles: [Float] = []
        var descriptors: [UInt64] = []
        points.reserveCapacity(count)
        angles.reserveCapacity(count)
        descriptors.reserveCapacity(4 * count)
        bytes.withUnsafeBytes { raw in
            func float(_ offset: Int) -> Float {
                Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
            }
            var offset = 8
            for _ in 0..<count {
                points.append(SIMD2(float(offset), float(offset + 4)))
                angles.append(float(offset + 8))
                for word in 0..<4 {
                    descriptors.append(
                        UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 12 + 8 * word, as: UInt64.self))
                    )
                }
                offset += Self.bytesPerKeypoint
            }
        }
        self.init(points: points, angles: angles, descriptors: descriptors)
    }
}
