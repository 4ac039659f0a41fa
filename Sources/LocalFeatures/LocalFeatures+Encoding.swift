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
        let size = 8 + count * Self.bytesPerKeypoint
        return [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            raw.copyBytes(from: Self.magic)
            raw.storeBytes(of: UInt32(count).littleEndian, toByteOffset: 4, as: UInt32.self)
            for i in 0..<count {
                let offset = 8 + i * Self.bytesPerKeypoint
                raw.storeBytes(of: points[i].x.bitPattern.littleEndian, toByteOffset: offset, as: UInt32.self)
                raw.storeBytes(of: points[i].y.bitPattern.littleEndian, toByteOffset: offset + 4, as: UInt32.self)
                raw.storeBytes(of: angles[i].bitPattern.littleEndian, toByteOffset: offset + 8, as: UInt32.self)
                for word in 0..<4 {
                    raw.storeBytes(
                        of: descriptors[4 * i + word].littleEndian, toByteOffset: offset + 12 + 8 * word,
                        as: UInt64.self)
                }
            }
            initialized = size
        }
    }

    /// Reads features written by ``encoded``; a short, long or foreign blob is an error, never a trap.
    public init(encoded bytes: [UInt8]) throws(LocalFeaturesEncodingError) {
        self = try bytes.withUnsafeBytes { raw in Self.decoding(raw) }.get()
    }

    /// `init(encoded:)` on raw memory, as a value, for a caller that reads the blob inside a
    /// closure that cannot throw a typed error (a database row's or a buffer's `withUnsafe…` accessor).
    public static func decoding(_ raw: UnsafeRawBufferPointer) -> Result<LocalFeatures, LocalFeaturesEncodingError> {
        Result { () throws(LocalFeaturesEncodingError) in try LocalFeatures(encoded: raw) }
    }

    /// Reads features written by ``encoded`` from memory the caller owns, such as a database row's blob,
    /// without copying it first; a short, long or foreign blob is an error, never a trap.
    public init(encoded raw: UnsafeRawBufferPointer) throws(LocalFeaturesEncodingError) {
        guard raw.count >= 8, zip(raw.prefix(4), Self.magic).allSatisfy({ $0 == $1 }) else {
            throw LocalFeaturesEncodingError("not encoded local features (no VLF1 tag)")
        }
        let count = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4, as: UInt32.self)))
        guard raw.count == 8 + count * Self.bytesPerKeypoint else {
            throw LocalFeaturesEncodingError(
                "local features of \(count) keypoints need \(8 + count * Self.bytesPerKeypoint) bytes, got \(raw.count)"
            )
        }
        // Filled in place: a search decodes every candidate's blob, and appending one value at a time cost
        // more than reading it from the database.
        func float(_ offset: Int) -> Float {
            Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
        }
        let points = [SIMD2<Float>](unsafeUninitializedCapacity: count) { buffer, initialized in
            for i in 0..<count {
                let offset = 8 + i * Self.bytesPerKeypoint
                buffer.initializeElement(at: i, to: SIMD2(float(offset), float(offset + 4)))
            }
            initialized = count
        }
        let angles = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            for i in 0..<count { buffer.initializeElement(at: i, to: float(8 + i * Self.bytesPerKeypoint + 8)) }
            initialized = count
        }
        let descriptors = [UInt64](unsafeUninitializedCapacity: 4 * count) { buffer, initialized in
            for i in 0..<count {
                let offset = 8 + i * Self.bytesPerKeypoint + 12
                for word in 0..<4 {
                    buffer.initializeElement(
                        at: 4 * i + word,
                        to: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 8 * word, as: UInt64.self)))
                }
            }
            initialized = 4 * count
        }
        self.init(points: points, angles: angles, descriptors: descriptors)
    }
}
