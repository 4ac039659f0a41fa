import CLocalFeatureKernels
import Testing
import VSearchTesting

@testable import LocalFeatures

/// Every Hamming kernel this CPU has gives exactly what a plain Swift loop gives, ties included.
@Suite(.offThePool) struct HammingKernelTests {
    /// The nearest descriptor, its distance and the second smallest distance, the slow way.
    static func reference(_ query: ArraySlice<UInt64>, _ items: [UInt64]) -> (Int32, Int32, Int32) {
        var (best, first, second): (Int32, Int32, Int32) = (-1, 257, 257)
        for i in 0..<(items.count / 4) {
            let d = Int32(
                (0..<4).map { (query[query.startIndex + $0] ^ items[4 * i + $0]).nonzeroBitCount }.reduce(0, +))
            if d < first {
                (second, first, best) = (first, d, Int32(i))
            } else if d < second {
                second = d
            }
        }
        return (best, first, second)
    }

    @Test(arguments: [0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 200, 517])
    func everyVariantMatchesTheReference(itemCount: Int) {
        var generator = PatternGenerator(state: UInt64(itemCount) + 11)
        var items = (0..<(4 * itemCount)).map { _ in generator.next() }
        // Two copies of one descriptor and one near copy: ties must go to the first index in every variant.
        if itemCount >= 9 {
            for w in 0..<4 { items[4 * 8 + w] = items[4 * 3 + w] }
            items[4 * 5] = items[4 * 3] ^ 1
        }
        var queries = (0..<(4 * 40)).map { _ in generator.next() }
        if itemCount >= 9 { for w in 0..<4 { queries[w] = items[4 * 3 + w] } }  // an exact hit, duplicated
        let levels: [lfk_level] = [
            LFK_LEVEL_PORTABLE, LFK_LEVEL_POPCNT, LFK_LEVEL_AVX2, LFK_LEVEL_AVX512, LFK_LEVEL_AVX512_WORDS,
        ]
        var ran = 0
        for level in levels {
            var nearest = [Int32](repeating: 0, count: 40)
            var first = [Int32](repeating: 0, count: 40)
            var second = [Int32](repeating: 0, count: 40)
            let supported = queries.withUnsafeBufferPointer { q in
                items.withUnsafeBufferPointer { i in
                    lfk_two_nearest_at(
                        level, q.baseAddress!, 40, i.baseAddress ?? q.baseAddress!, itemCount, &nearest, &first,
                        &second)
                }
            }
            guard supported == 1 else { continue }
            ran += 1
            for q in 0..<40 {
                let expected = Self.reference(queries[(4 * q)..<(4 * q + 4)], items)
                #expect((nearest[q], first[q], second[q]) == expected, "level \(level.rawValue), query \(q)")
            }
        }
        #expect(ran >= 1)  // the portable variant always runs
        if itemCount >= 9 {
            // The duplicated hit: distance 0 to items 3 and 8, so the second distance is 0 too.
            let (best, first, second) = Self.reference(queries[0..<4], items)
            #expect(best == 3 && first == 0 && second == 0)
        }
    }
}
