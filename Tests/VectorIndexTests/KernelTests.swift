import CVectorKernels
import Testing
import VSearchTesting

@testable import VectorIndex

/// The run-time kernel choice: every level this CPU has must agree with a plain double-precision sum, and so
/// with each other, on every length (so each vector width's remainder loop is exercised).
@Suite(.offThePool) struct KernelTests {
    /// Lengths around the 4-, 8-, 16- and 64-float steps of the two kernel sets, and real feature sizes.
    static let lengths = Array(1...70) + [127, 128, 129, 1280, 2048]

    /// The levels this CPU can run; the portable one always.
    static let levels = KernelLevel.allCases.filter { $0.kernels != nil }

    /// |x − reference| within float32 rounding of a sum of `n` products of magnitude up to `scale`.
    static func close(_ x: Float, _ reference: Double, n: Int, scale: Double = 1) -> Bool {
        abs(Double(x) - reference) <= 1e-5 * Double(n) * scale + 1e-6 * abs(reference)
    }

    @Test func portableIsAlwaysThere() {
        #expect(KernelLevel.portable.kernels != nil)
        #expect(Self.levels.contains(.active))
    }

    /// One infinity or NaN anywhere, in the vectorised body or the remainder, makes a vector not finite;
    /// the largest finite floats and negative zero do not.
    @Test func allFiniteFindsEveryNonFiniteValue() {
        for n in Self.lengths {
            var values = TestData.uniform(1, n, seed: UInt64(n))
            values[n / 2] = .greatestFiniteMagnitude
            values[0] = -0.0
            #expect(values.withUnsafeBufferPointer { Kernels.allFinite($0.baseAddress!, n) })
            for position in Set([0, n / 3, n - 1]) {
                for bad in [Float.infinity, -.infinity, .nan] {
                    var broken = values
                    broken[position] = bad
                    #expect(
                        !broken.withUnsafeBufferPointer { Kernels.allFinite($0.baseAddress!, n) },
                        "\(bad) at \(position) of \(n)")
                }
            }
        }
    }

    @Test(arguments: levels)
    func floatKernelsMatchReference(level: KernelLevel) throws {
        let kernels = try #require(level.kernels)
        for n in Self.lengths {
            let q = TestData.uniform(1, n, seed: UInt64(n))
            let rows = TestData.uniform(4, n, seed: UInt64(n) + 1000)
            q.withUnsafeBufferPointer { q in
                rows.withUnsafeBufferPointer { rows in
                    let query = q.baseAddress!
                    let row = (0..<4).map { rows.baseAddress! + $0 * n }
                    let dots = row.map { r in (0..<n).reduce(0.0) { $0 + Double(query[$1]) * Double(r[$1]) } }
                    let l2s = row.map { r in
                        (0..<n).reduce(0.0) {
                            $0 + (Double(query[$1]) - Double(r[$1])) * (Double(query[$1]) - Double(r[$1]))
                        }
                    }
                    #expect(Self.close(kernels.dot(query, row[0], n), dots[0], n: n), "dot n=\(n)")
                    #expect(Self.close(kernels.l2_squared(query, row[0], n), l2s[0], n: n, scale: 4), "l2 n=\(n)")
                    var out = [Float](repeating: .nan, count: 4)
                    kernels.dot4(query, row[0], row[1], row[2], row[3], n, &out)
                    for j in 0..<4 { #expect(Self.close(out[j], dots[j], n: n), "dot4[\(j)] n=\(n)") }
                    kernels.l2_squared4(query, row[0], row[1], row[2], row[3], n, &out)
                    for j in 0..<4 { #expect(Self.close(out[j], l2s[j], n: n, scale: 4), "l2sq4[\(j)] n=\(n)") }
                }
            }
        }
    }

    @Test(arguments: levels)
    func compactCodeKernelsMatchReference(level: KernelLevel) throws {
        let kernels = try #require(level.kernels)
        for n in Self.lengths {
            let q = TestData.uniform(1, n, seed: UInt64(n) + 7)
            // Halves across the range, with a subnormal, zeros of both signs and the largest finite value.
            var halves = TestData.uniform(1, n, seed: UInt64(n) + 8).map { Float16($0 * 4) }
            let specials: [Float16] = [.leastNonzeroMagnitude, 0, -0.0, .greatestFiniteMagnitude]
            for (i, special) in specials.enumerated() where i < n { halves[i] = special }
            let bytes = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ n) }
            let halfReference = (0..<n).reduce(0.0) { $0 + Double(q[$1]) * Double(Float(halves[$1])) }
            let byteReference = (0..<n).reduce(0.0) { $0 + Double(q[$1]) * Double(bytes[$1]) }
            let half = halves.withUnsafeBytes { kernels.dot_f16(q, $0.baseAddress!, n) }
            #expect(Self.close(half, halfReference, n: n, scale: 4), "f16 n=\(n)")
            #expect(Self.close(kernels.dot_u8(q, bytes, n), byteReference, n: n, scale: 255), "u8 n=\(n)")
        }
    }

    /// The 8-bit products are exact integers, so every level must give the reference's sums to the last unit: on
    /// every length around the 32- and 64-byte steps, on every tile shape (1 to 23 queries by 1 to 9 rows, so each
    /// variant's partial tiles run), with strides longer than the codes, and at the codes' extremes ±127.
    @Test(arguments: levels)
    func codeProductsAreExact(level: KernelLevel) throws {
        let kernels = try #require(level.kernels)
        var rng = TestData.generator(seed: 21)
        for n in Self.lengths {
            let shapes = [(1, 1), (17, 4), (5, 9), (23, 3), (Int.random(in: 1...23, using: &rng), 7)]
            for (nq, nr) in shapes {
                let (queryStride, rowStride, outStride) = (n + 3, n + 5, nr + 2)
                let extremes = n % 3 == 0
                func codes(_ count: Int) -> [Int8] {
                    (0..<count).map { _ in
                        extremes ? (Bool.random(using: &rng) ? 127 : -127) : Int8.random(in: -127...127, using: &rng)
                    }
                }
                let queries = codes(nq * queryStride)
                let rows = codes(nr * rowStride)
                var out = [Int32](repeating: .min, count: nq * outStride)
                kernels.code_products(queries, nq, queryStride, rows, nr, rowStride, n, &out, outStride)
                var wrong = 0
                for q in 0..<nq {
                    for r in 0..<nr {
                        let reference = (0..<n).reduce(Int32(0)) {
                            $0 + Int32(queries[q * queryStride + $1]) * Int32(rows[r * rowStride + $1])
                        }
                        if out[q * outStride + r] != reference { wrong += 1 }
                    }
                    // The padding between a query's outputs is never written.
                    for r in nr..<outStride where out[q * outStride + r] != .min { wrong += 1 }
                }
                #expect(wrong == 0, "\(level) n=\(n) \(nq)×\(nr): \(wrong) wrong sums")
            }
        }
    }

    /// The wrappers every search calls go to the level in use, and agree with the portable level.
    @Test func dispatchedAgreesWithPortable() throws {
        let portable = try #require(KernelLevel.portable.kernels)
        let n = 1280
        let a = TestData.uniform(1, n, seed: 11)
        let b = TestData.uniform(1, n, seed: 12)
        let dispatched = Kernels.dot(a, b, n)
        let fallback = portable.dot(a, b, n)
        #expect(abs(dispatched - fallback) <= 1e-4 * max(1, abs(fallback)))
        let l2 = Kernels.l2Squared(a, b, n)
        #expect(abs(l2 - portable.l2_squared(a, b, n)) <= 1e-4 * max(1, l2))
    }
}
