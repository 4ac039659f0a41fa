import Foundation

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
        func bad(_ reason: String) -> IndexError { .corrupt(path: path, reason: reason) }
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // \x93NUMPY
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else { throw bad("no .npy magic number") }
        let major = bytes[6]
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes.loadUnaligned(fromByteOffset: 8, as: UInt16.self))
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw bad("truncated .npy header") }
            headerLength = Int(bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
            headerStart = 12
        default:
            throw bad(".npy version \(major) is not supported")
        }
        guard headerLength <= bytes.count - headerStart else { throw bad("truncated .npy header") }
        let dataStart = headerStart + headerLength
        guard let header = String(bytes: bytes[headerStart..<dataStart], encoding: .utf8) else {
            throw bad(".npy header is not text")
        }
        guard let descrText = Self.value(of: "descr", in: header), let quote = descrText.first,
            quote == "'" || quote == "\"",
            let end = descrText.dropFirst().firstIndex(of: quote)
        else { throw bad(".npy header has no descr") }
        let descr = String(descrText[descrText.index(after: descrText.startIndex)..<end])
        let elementSize: Int
        switch descr {
        case "<f4", "|f4", "=f4": elementSize = 4
        case "<f8", "=f8": elementSize = 8
        default: throw bad("dtype \(descr) is not float32 or float64 (little-endian)")
        }
        guard let order = Self.value(of: "fortran_order", in: header), order.hasPrefix("False") else {
            throw bad("Fortran-ordered arrays are not supported; save with C order")
        }
        guard let shapeText = Self.value(of: "shape", in: header), shapeText.hasPrefix("("),
            let close = shapeText.firstIndex(of: ")")
        else { throw bad(".npy header has no shape") }
        let parts = shapeText[shapeText.index(after: shapeText.startIndex)..<close].split(separator: ",").map {
            $0.trimmingCharacters(in: .whitespaces)
        }.filter { !$0.isEmpty }
        let dims = parts.compactMap { Int($0) }
        guard dims.count == parts.count, dims.allSatisfy({ $0 >= 0 }) else {
            throw bad("shape \(shapeText) is not numeric")
        }
        let n: Int
        let d: Int
        switch dims.count {
        case 1: (n, d) = (1, dims[0])
        case 2: (n, d) = (dims[0], dims[1])
        default: throw bad("shape has \(dims.count) dimensions; expected (N, d)")
        }
        guard d > 0 else { throw bad("vectors have dimension 0") }
        let (cells, overflow1) = n.multipliedReportingOverflow(by: d)
        let (dataBytes, overflow2) = cells.multipliedReportingOverflow(by: elementSize)
        guard !overflow1, !overflow2, dataBytes == bytes.count - dataStart else {
            throw bad(
                "shape (\(n), \(d)) needs \(overflow2 ? "too many" : String(dataBytes)) bytes of data, the file has \(bytes.count - dataStart)"
            )
        }
        var values = [Float](repeating: 0, count: cells)
        let data = bytes.baseAddress! + dataStart
        if elementSize == 4 {
            values.withUnsafeMutableBytes { $0.baseAddress!.copyMemory(from: data, byteCount: dataBytes) }
        } else {
            for i in 0..<cells { values[i] = Float(data.loadUnaligned(fromByteOffset: i * 8, as: Double.self)) }
        }
        return VectorFile(count: n, dimension: d, values: values)
    }

    /// The text after `'key':` in a .npy header dictionary, up to the end.
    private static func value(of key: String, in header: String) -> String? {
        guard let range = header.range(of: "'\(key)':") ?? header.range(of: "\"\(key)\":") else { return nil }
        return header[range.upperBound...].trimmingCharacters(in: .whitespaces)
    }

    /// Writes `values` as a float32 `.npy` file of shape `(count, dimension)`, atomically.
    public static func writeNPY(path: String, values: [Float], count: Int, dimension: Int) throws(IndexError) {
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(count), \(dimension)), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var bytes: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0]
        bytes += withUnsafeBytes(of: UInt16(header.utf8.count).littleEndian) { Array($0) }
        bytes += Array(header.utf8)
        values.withUnsafeBytes { bytes += $0 }
        try AtomicFile.write(path: path) { (file: FileWriter) throws(IndexError) in try file.write(bytes) }
    }
}
