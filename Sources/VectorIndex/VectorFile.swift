import Foundation
import VSearchCore

/// A matrix of float32 vectors read from a `.npy` or `.fvecs` file.
///
/// `.npy`: NumPy's format, a little-endian float32 (`<f4`) or float64
/// (`<f8`, converted) array of shape `(N, d)` or `(d,)`, C order.
/// `.fvecs`: the TEXMEX format, each vector stored as an int32 dimension
/// followed by that many float32s. Every header field is checked, and a
/// file that does not hold exactly what its header says is rejected with
/// an error naming the file.
public struct VectorFile: Sendable {
    public let count: Int
    public let dimension: Int
    /// Row-major, `count × dimension`.
    public let values: [Float]

    public init(count: Int, dimension: Int, values: [Float]) {
        self.count = count
        self.dimension = dimension
        self.values = values
    }

    /// Reads `path`, choosing the format by its extension (`.npy`, `.fvecs`) or, failing that, its contents.
    public static func read(path: String) throws(IndexError) -> VectorFile {
        let file = try MappedFile(path: path)
        let bytes = file.bytes
        let result: VectorFile
        if path.hasSuffix(".fvecs") {
            result = try fvecs(bytes, path: path)
        } else if path.hasSuffix(".npy") || (bytes.count >= 6 && bytes[0] == 0x93) {
            result = try npy(bytes, path: path)
        } else {
            result = try fvecs(bytes, path: path)
        }
        // Name the file and row of a NaN or infinity here, where the person can still find it.
        try VectorValidation.finite(result.values, context: path, dimension: result.dimension)
        return result
    }

    static func fvecs(_ bytes: UnsafeRawBufferPointer, path: String) throws(IndexError) -> VectorFile {
        guard bytes.count >= 4 else { throw .corrupt(path: path, reason: "empty .fvecs file") }
        let d = Int(bytes.loadUnaligned(fromByteOffset: 0, as: Int32.self))
        guard d > 0, d < 1 << 24 else { throw .corrupt(path: path, reason: "fvecs dimension \(d) out of range") }
        let record = 4 + 4 * d
        guard bytes.count % record == 0 else {
            throw .corrupt(
                path: path,
                reason: "\(bytes.count) bytes is not a whole number of \(d)-dimensional records (truncated?)")
        }
        let n = bytes.count / record
        for r in 0..<n {
            let dr = bytes.loadUnaligned(fromByteOffset: r * record, as: Int32.self)
            guard dr == d else {
                throw .corrupt(path: path, reason: "record \(r) has dimension \(dr), the first has \(d)")
            }
        }
        var values = [Float](repeating: 0, count: n * d)
        values.withUnsafeMutableBytes { out in
            for r in 0..<n {
                (out.baseAddress! + r * d * 4).copyMemory(from: bytes.baseAddress! + r * record + 4, byteCount: d * 4)
            }
        }
        return VectorFile(count: n, dimension: d, values: values)
    }

    static func npy(_ bytes: UnsafeRawBufferPointer, path: String) throws(IndexError) -> VectorFile {
        let array: NumpyArray
        do {
            array = try NumpyArray.parse(bytes, path: path)
        } catch {
            throw .corrupt(path: path, reason: error.reason)
        }
        switch array.shape.count {
        case 1 where array.shape[0] > 0:
            return VectorFile(count: 1, dimension: array.shape[0], values: array.values)
        case 2 where array.shape[1] > 0:
            return VectorFile(count: array.shape[0], dimension: array.shape[1], values: array.values)
        case 1, 2:
            throw .corrupt(path: path, reason: "vectors have dimension 0")
        default:
            throw .corrupt(path: path, reason: "shape has \(array.shape.count) dimensions; expected (N, d)")
        }
    }

    /// Writes `values` as a float32 `.npy` file of shape `(count, dimension)`, atomically.
    public static func writeNPY(path: String, values: [Float], count: Int, dimension: Int) throws(IndexError) {
        let bytes = [UInt8](NumpyArray(shape: [count, dimension], values: values).encoded())
        try AtomicFile.write(path: path) { (file: FileWriter) throws(IndexError) in try file.write(bytes) }
    }
}
