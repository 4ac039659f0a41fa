import LocalFeatures
import Testing
import VSearchTesting

@testable import Catalogue

/// The store's cache of decoded candidate features: bounded by bytes, least recently used first out, and
/// never refilled with features read before a write.
@Suite(.offThePool) struct LocalFeaturesCacheTests {
    /// Features of `count` keypoints whose first descriptor word is `mark`, to tell them apart.
    static func features(_ count: Int, mark: UInt64) -> LocalFeatures {
        LocalFeatures(
            points: Array(repeating: SIMD2(1, 2), count: count), angles: Array(repeating: 0, count: count),
            descriptors: [mark] + Array(repeating: 0, count: 4 * count - 1))
    }

    @Test func whatWasInsertedIsFoundAndTheRestIsMissingInOrder() {
        let cache = LocalFeaturesCache(capacity: 1 << 20)
        cache.insert([1: Self.features(10, mark: 1), 3: Self.features(10, mark: 3)], generation: cache.generation)
        let (found, missing) = cache.lookUp([4, 1, 2, 3])
        #expect(found.keys.sorted() == [1, 3])
        #expect(found[3]?.descriptors.first == 3)
        #expect(missing == [4, 2])
    }

    @Test func overCapacityTheLeastRecentlyUsedGoFirst() {
        // 100 keypoints take about 4.5 kB decoded: room for four, not five.
        let cache = LocalFeaturesCache(capacity: 20_000)
        for key in 1...4 {
            cache.insert([Int64(key): Self.features(100, mark: UInt64(key))], generation: cache.generation)
        }
        #expect(cache.count == 4)
        _ = cache.lookUp([1])  // 1 is now the most recently used; 2 the least
        cache.insert([5: Self.features(100, mark: 5)], generation: cache.generation)
        let (found, missing) = cache.lookUp([1, 2, 3, 4, 5])
        #expect(found.keys.contains(1) && found.keys.contains(5))
        #expect(missing.first == 2)
        #expect(cache.count < 5)
    }

    @Test func featuresLargerThanTheWholeCacheAreNotKept() {
        let cache = LocalFeaturesCache(capacity: 1_000)
        cache.insert([1: Self.features(100, mark: 1)], generation: cache.generation)
        #expect(cache.count == 0)
    }

    /// A search read the database, a write then changed the item and emptied the cache: what the search
    /// read is older than the write, and must not come back.
    @Test func featuresReadBeforeAWriteAreNotPutBack() {
        let cache = LocalFeaturesCache(capacity: 1 << 20)
        cache.insert([1: Self.features(10, mark: 1)], generation: cache.generation)
        let before = cache.generation
        cache.removeAll()
        #expect(cache.count == 0)
        cache.insert([1: Self.features(10, mark: 1)], generation: before)
        #expect(cache.lookUp([1]).missing == [1])
        cache.insert([1: Self.features(10, mark: 2)], generation: cache.generation)
        #expect(cache.lookUp([1]).found[1]?.descriptors.first == 2)
    }
}
