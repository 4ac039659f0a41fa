import Foundation
import VSearchCore

/// Reads and writes NumPy `.npy` files of float32 (float64 is converted on read), C order.
enum NumpyFile {
    struct Failure: VSearchError {
        let path: String
        let reason: String
        var description: String { "\(path): \(reason)" }
    }

    static func read(_ url: URL) throws -> Tensor {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw Failure(path: url.path, reason: "cannot read the file")
        }
        let bytes = [UInt8](data)
        func fail(_ reason: String) -> Failure { Failure(path: url.path, reason: reason) }
        guard bytes.count >= 10, bytes[0] == 0x93, Array(bytes[1..<6]) == Array("NUMPY".utf8) else {
            throw fail("not a .npy file")
        }
        let major = bytes[6]
        let headerLength: Int
        let headerStart: Int
        if major == 1 {
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        } else {
            guard bytes.count >= 12 else { throw fail("truncated header") }
            headerLength = (0..<4).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
            headerStart = 12
        }
        guard headerStart + headerLength <= bytes.count else { throw fail("truncated header") }
        let header = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)
        guard !header.contains("'fortran_order': True") else { throw fail("Fortran order is not supported") }
        let width: Int
        if header.contains("'<f4'") {
            width = 4
        } else if header.contains("'<f8'") {
            width = 8
        } else {
            throw fail("only little-endian float32/float64 arrays are supported")
        }
        guard let open = header.range(of: "'shape': ("), let close = header[open.upperBound...].firstIndex(of: ")")
        else { throw fail("no shape in header") }
        let shape = try header[open.upperBound..<close].split(separator: ",").compactMap { part -> Int? in
            let trimmed = part.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { return nil }
            guard let value = Int(trimmed), value >= 0 else { throw fail("bad shape entry '\(trimmed)'") }
            return value
        }
        let count = shape.reduce(1, *)
        let start = headerStart + headerLength
        guard bytes.count - start == count * width else { throw fail("data size does not match shape \(shape)") }
        let values: [Float] = bytes[start...].withUnsafeBytes { raw in
            (0..<count).map { i in
                width == 4
                    ? Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
                    : Float(
                        Double(
                            bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)))
                    )
            }
        }
        return Tensor(shape: shape, data: values)
    }

    static func write(_ tensor: Tensor, to url: URL) throws {
        let shape = tensor.shape.map(String.init).joined(separator: ", ") + (tensor.shape.count == 1 ? "," : "")
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(shape)), }"
        // Data starts on a 64-byte boundary: 10 bytes of preamble, the header, a newline.
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let length = UInt16(header.utf8.count)
        data.append(contentsOf: [UInt8(length & 0xFF), UInt8(length >> 8)])
        data.append(contentsOf: Array(header.utf8))
        tensor.data.withUnsafeBytes { data.append(contentsOf: $0) }
        try data.write(to: url)
    }
}
