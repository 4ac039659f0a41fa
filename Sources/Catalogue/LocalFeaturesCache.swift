import LocalFeatures
import VSearchCore

/// The decoded local features of the items searches checked most recently, up to a size in bytes.
///
/// A checked search reads its best 20 candidates' features, about 22 kB each, and the same popular items
/// are candidates again and again: reading and decoding them from SQLite took about 0.4 ms of a 3.4 ms
/// search. The store empties the cache after each of its writes but a match event's, and a store reopened after another
/// process's writes starts with an empty one, so a search never sees features older than its index.
///
/// A search that read the database before a write finished must not put what it read back afterwards:
/// it takes a ``generation`` before reading and hands it to ``insert(_:generation:)``, which ignores
/// features read before the last ``removeAll()``.
package final class LocalFeaturesCache: Sendable {
    /// The most bytes of decoded features kept; the least recently used go first.
    package let capacity: Int

    private let state = Locked(State())

    private struct State {
        var entries: [Int64: Entry] = [:]
        var bytes = 0
        var clock: UInt64 = 0
        var generation: UInt64 = 0
    }

    private struct Entry {
        var features: LocalFeatures
        var bytes: Int
        var lastUse: UInt64
    }

    package init(capacity: Int) {
        self.capacity = max(0, capacity)
    }

    /// Changes with every ``removeAll()``.
    package var generation: UInt64 { state.withLock { $0.generation } }

    /// What the cache holds for `keys`, and the keys it does not hold, in their order.
    package func lookUp(_ keys: [Int64]) -> (found: [Int64: LocalFeatures], missing: [Int64]) {
        state.withLock { state in
            var found: [Int64: LocalFeatures] = [:]
            var missing: [Int64] = []
            for key in keys {
                guard var entry = state.entries[key] else {
                    missing.append(key)
                    continue
                }
                state.clock += 1
                entry.lastUse = state.clock
                state.entries[key] = entry
                found[key] = entry.features
            }
            return (found, missing)
        }
    }

    /// Keeps features read from the database while the cache was at `generation`; features read before
    /// a later ``removeAll()`` may be stale and are dropped.
    package func insert(_ features: [Int64: LocalFeatures], generation: UInt64) {
        state.withLock { state in
            guard generation == state.generation else { return }
            for (key, value) in features {
                // Two arrays of keypoint positions and angles and one of descriptor words, as decoded.
                let bytes = value.count * (MemoryLayout<SIMD2<Float>>.stride + 4 + 32) + 64
                guard bytes <= capacity else { continue }
                state.clock += 1
                state.bytes += bytes - (state.entries[key]?.bytes ?? 0)
                state.entries[key] = Entry(features: value, bytes: bytes, lastUse: state.clock)
            }
            guard state.bytes > capacity else { return }
            // Evicting to three quarters at once sorts once per many inserts, not once per insert.
            for (key, entry) in state.entries.sorted(by: { $0.value.lastUse < $1.value.lastUse }) {
                guard state.bytes > capacity / 4 * 3 else { break }
                state.entries[key] = nil
                state.bytes -= entry.bytes
            }
        }
    }

    /// Forgets everything, and every insert of features read before now.
    package func removeAll() {
        state.withLock { state in
            state.entries = [:]
            state.bytes = 0
            state.generation += 1
        }
    }

    /// How many items' features the cache holds.
    package var count: Int { state.withLock { $0.entries.count } }
}
