import CLocalFeatureKernels
import Testing
import VSearchTesting

@testable import LocalFeatures

/// The C segment test (sixteen pixels at a time where the CPU allows) gives exactly the definition's answer.
@Suite(.offThePool) struct FastKernelTests {
    /// FAST by its definition, one pixel at a time.
    static func reference(_ p: [UInt8], at i: Int, offsets: [Int], threshold: Int) -> Int32 {
        let centre = Int(p[i])
        let values = offsets.map { Int(p[i + $0]) }
        func hasRun(_ flags: [Bool]) -> Bool {
            (0..<16).contains { start in (0..<9).allSatisfy { flags[(start + $0) % 16] } }
        }
        let brighter = values.map { $0 > centre + threshold }
        let darker = values.map { $0 < centre - threshold }
        guard hasRun(brighter) || hasRun(darker) else { return 0 }
        let bright = values.filter { $0 > centre + threshold }.map { $0 - centre - threshold }.reduce(0, +)
        let dark = values.filter { $0 < centre - threshold }.map { centre - threshold - $0 }.reduce(0, +)
        return Int32(max(bright, dark, 1))
    }

    @Test(arguments: [5, 20, 60])
    func matchesTheDefinition(threshold: Int) {
        let (width, height) = (77, 40)  // not a multiple of 16, so the scalar tail runs too
        var generator = PatternGenerator(state: UInt64(threshold))
        // Blocks of flat colour with noise: corners, edges and flat areas all occur.
        let pixels = (0..<(width * height)).map { i -> UInt8 in
            let block = ((i % width) / 6 + (i / width) / 5) % 3
            return UInt8(truncatingIfNeeded: block * 90 + generator.below(30))
        }
        let offsets = CornerDetector.circle.map { $0.1 * width + $0.0 }
        var found = 0
        for y in 3..<(height - 3) {
            var scores = [Int32](repeating: 0, count: width)
            let passed = pixels.withUnsafeBufferPointer { p in
                lfk_fast_row(p.baseAddress! + y * width, offsets, 3, width - 3, Int32(threshold), &scores)
            }
            var expected = [Int32](repeating: 0, count: width)
            for x in 3..<(width - 3) {
                expected[x] = Self.reference(pixels, at: y * width + x, offsets: offsets, threshold: threshold)
            }
            #expect(scores == expected, "row \(y)")
            #expect(passed == expected.filter { $0 > 0 }.count)
            found += passed
        }
        #expect(found > 0)
    }
}
