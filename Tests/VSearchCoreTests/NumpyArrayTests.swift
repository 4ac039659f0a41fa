import Foundation
import Testing

@testable import VSearchCore

@Suite struct NumpyArrayTests {
    @Test func roundTripsThroughBytes() throws {
        let array = NumpyArray(shape: [2, 3], values: [1, -2, 3.5, 0, .pi, 1e-7])
        let bytes = array.encoded()
        #expect(bytes.count % 64 == 24)  // the header pads the data start to 64 bytes
        let parsed = try bytes.withUnsafeBytes { try NumpyArray.parse($0, path: "a.npy") }
        #expect(parsed == array)
    }

    @Test func aOneDimensionalShapeKeepsItsComma() throws {
        let bytes = NumpyArray(shape: [3], values: [1, 2, 3]).encoded()
        #expect(String(decoding: bytes, as: UTF8.self).contains("'shape': (3,)"))
    }

    @Test func everyTruncationIsAnErrorNamingTheFile() {
        let bytes = [UInt8](NumpyArray(shape: [4, 4], values: .init(repeating: 1, count: 16)).encoded())
        for length in 0..<bytes.count {
            let result = Array(bytes[0..<length]).withUnsafeBytes { raw in
                Result { () throws(NumpyError) in try NumpyArray.parse(raw, path: "cut.npy") }
            }
            guard case .failure(let error) = result else {
                Issue.record("a file cut at \(length) bytes was accepted")
                continue
            }
            #expect(error.description.hasPrefix("cut.npy: "))
        }
    }

    @Test func aHostileShapeIsRefusedNotMultipliedIntoACrash() {
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }\n"
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count), 0]
        bytes += Array(header.utf8)
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(NumpyError) in try NumpyArray.parse(raw, path: "big.npy") }
        }
        guard case .failure(let error) = result else {
            Issue.record("an impossible shape was accepted")
            return
        }
        #expect(error.reason.contains("too large"))
    }

    @Test func otherDtypesAreNamed() {
        let header = "{'descr': '<i4', 'fortran_order': False, 'shape': (1,), }\n"
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count), 0]
        bytes += Array(header.utf8) + [0, 0, 0, 0]
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(NumpyError) in try NumpyArray.parse(raw, path: "int.npy") }
        }
        guard case .failure(let error) = result else {
            Issue.record("an int32 array was accepted")
            return
        }
        #expect(error.reason.contains("<i4"))
    }
}
