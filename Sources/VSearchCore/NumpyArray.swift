import Foundation

/// A float32 array in NumPy's `.npy` format, C order.
///
/// The benchmarks and the oracle tests exchange vectors and tensors with
/// Python through these files, and `vsearch index build` reads them from
/// users, so reading checks every size and offset before trusting it.
public struct NumpyArray: Sendable, Equatable {
    public var shape: [Int]
    public var values: [Float]

    public init(shape: [Int], values: [Float]) {
        self.shape = shape
        self.values = values
    }

    public init(_ tensor: Tensor) {
        self.init(shape: tensor.shape, values: tensor.data)
    }

    /// The array as a tensor; nil when its shape and values disagree.
    public var tensor: Tensor? {
        shape.reduce(1, *) == values.count ? Tensor(shape: shape, data: values) : nil
    }

    // MARK: Reading

    /// Reads a `.npy` file of little-endian float32 or float64 (converted).
    public static func read(path: String) throws(NumpyError) -> NumpyArray {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        } catch {
            throw NumpyError(path: path, reason: "cannot read the file")
        }
        let parsed = data.withUnsafeBytes { bytes in
            Result { () throws(NumpyError) in try parse(bytes, path: path) }
        }
        return try parsed.get()
    }

    /// Parses the bytes of a `.npy` file; `path` names it in errors.
    public static func parse(_ bytes: UnsafeRawBufferPointer, path: String) throws(NumpyError) -> NumpyArray {
        func bad(_ reason: String) -> NumpyError { NumpyError(path: path, reason: reason) }
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // \x93NUMPY
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else { throw bad("not a .npy file (no magic number)") }
        let headerLength: Int
        let headerStart: Int
        switch bytes[6] {
        case 1:
            headerLength = Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt16.self)))
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw bad("truncated .npy header") }
            headerLength = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self)))
            headerStart = 12
        default:
            throw bad(".npy version \(bytes[6]) is not supported")
        }
        guard headerLength <= bytes.count - headerStart else { throw bad("truncated .npy header") }
        let dataStart = headerStart + headerLength
        guard let header = String(bytes: bytes[headerStart..<dataStart], encoding: .utf8) else {
            throw bad(".npy header is not text")
        }
        guard let descrText = value(of: "descr", in: header), let quote = descrText.first,
            quote == "'" || quote == "\"",
            let end = descrText.dropFirst().firstIndex(of: quote)
        else { throw bad(".npy header has no descr") }
        let elementSize: Int
        switch descrText[descrText.index(after: descrText.startIndex)..<end] {
        case "<f4", "|f4", "=f4": elementSize = 4
        case "<f8", "=f8": elementSize = 8
        case let other: throw bad("dtype \(other) is not float32 or float64 (little-endian)")
        }
        guard let order = value(of: "fortran_order", in: header), order.hasPrefix("False") else {
            throw bad("Fortran-ordered arrays are not supported; save with C order")
        }
        guard let shapeText = value(of: "shape", in: header), shapeText.hasPrefix("("),
            let close = shapeText.firstIndex(of: ")")
        else { throw bad(".npy header has no shape") }
        let parts = shapeText[shapeText.index(after: shapeText.startIndex)..<close].split(separator: ",").map {
            $0.trimmingCharacters(in: .whitespaces)
        }.filter { !$0.isEmpty }
        let shape = parts.compactMap { Int($0) }
        guard shape.count == parts.count, shape.allSatisfy({ $0 >= 0 }) else {
            throw bad("shape \(shapeText.prefix(through: close)) is not numeric")
        }
        var cells = 1
        for dimension in shape {
            let (product, overflow) = cells.multipliedReportingOverflow(by: dimension)
            guard !overflow else { throw bad("shape \(shape) is too large") }
            cells = product
        }
        let (dataBytes, overflow) = cells.multipliedReportingOverflow(by: elementSize)
        guard !overflow, dataBytes == bytes.count - dataStart else {
            throw bad(
                "shape \(shape) needs \(overflow ? "too many" : String(dataBytes)) bytes of data, the file has \(bytes.count - dataStart)"
            )
        }
        var values = [Float](repeating: 0, count: cells)
        if cells > 0, let base = bytes.baseAddress {
            if elementSize == 4 {
                values.withUnsafeMutableBytes {
                    $0.baseAddress!.copyMemory(from: base + dataStart, byteCount: dataBytes)
                }
            } else {
                for i in 0..<cells {
                    let bits = UInt64(
                        littleEndian: bytes.loadUnaligned(fromByteOffset: dataStart + i * 8, as: UInt64.self))
                    values[i] = Float(Double(bitPattern: bits))
                }
            }
        }
        return NumpyArray(shape: shape, values: values)
    }

    /// The text after `'key':` in a .npy header dictionary, up to its end.
    private static func value(of key: String, in header: String) -> String? {
        guard let range = header.range(of: "'\(key)':") ?? header.range(of: "\"\(key)\":") else { return nil }
        return header[range.upperBound...].trimmingCharacters(in: .whitespaces)
    }

    // MARK: Writing

    /// The bytes of the `.npy` file (version 1.0, float32, C order).
    public func encoded() -> Data {
        let dims = shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? "," : "")
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(dims)), }"
        // The data starts on a 64-byte boundary: 10 bytes of preamble, the header, a newline.
        header += String(repeating: " ", count: (64 - (10 + header.utf8.count + 1) % 64) % 64) + "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let length = UInt16(header.utf8.count)
        data.append(contentsOf: [UInt8(length & 0xFF), UInt8(length >> 8)])
        data.append(contentsOf: Array(header.utf8))
        // '<f4' is little-endian, as is every platform vsearch builds for.
        values.withUnsafeBytes { data.append(contentsOf: $0) }
        return data
    }

    /// Writes the file atomically: readers see the old file or the new one.
    public func write(path: String) throws(NumpyError) {
        do {
            try encoded().write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw NumpyError(path: path, reason: "cannot write the file (\(error.localizedDescription))")
        }
    }
}

/// A `.npy` file that could not be read or written.
public struct NumpyError: VSearchError, Equatable {
    public let path: String
    public let reason: String
    public var description: String { "\(path): \(reason)" }
}
