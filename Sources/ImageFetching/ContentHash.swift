import Crypto

/// SHA-256 digests as hex text, for image content hashes and download-cache file names.
///
/// swift-crypto's BoringSSL code uses the CPU's SHA instructions where it has them, so hashing
/// every image of an ingest costs a small fraction of decoding it.
public enum ContentHash {
    private static let digits = Array("0123456789abcdef".utf8)

    /// The digest of `bytes` as 64 lowercase hex digits.
    public static func hex(_ bytes: [UInt8]) -> String {
        hexText(SHA256.hash(data: bytes))
    }

    /// The digest of the UTF-8 bytes of `text`.
    public static func hex(_ text: String) -> String {
        hex(Array(text.utf8))
    }

    private static func hexText(_ digest: SHA256.Digest) -> String {
        var text: [UInt8] = []
        text.reserveCapacity(2 * SHA256.Digest.byteCount)
        for byte in digest {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
