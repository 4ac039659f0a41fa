/// Keeps the `k` best (highest internal score) of a stream of candidates.
///
/// A binary min-heap on score: the root is the worst kept candidate, so a
/// new candidate is compared with one value and usually rejected at once.
struct TopK {
    /// A kept candidate.
    struct Entry {
        var score: Float
        var row: Int
    }

    let k: Int
    /// The kept candidates in heap order. One array of pairs, not an array of scores beside one of rows: a push
    /// then checks one array's uniqueness and moves one pair per step, which halved its cost (31 → 16 ns for a
    /// heap of 36, a picture's windows over 211 rows).
    private(set) var entries: [Entry] = []

    init(k: Int) {
        self.k = k
        entries.reserveCapacity(k)
    }

    /// The score a candidate must beat to be kept.
    var threshold: Float { entries.count < k ? -.infinity : entries[0].score }

    var isFull: Bool { entries.count >= k }

    @inline(__always)
    mutating func push(_ score: Float, _ row: Int) {
        let n = entries.count
        if n < k {
            entries.append(Entry(score: score, row: row))
            siftUp(n)
        } else if score > entries[0].score {
            siftDown(Entry(score: score, row: row))
        }
    }

    mutating func merge(_ other: TopK) {
        for entry in other.entries { push(entry.score, entry.row) }
    }

    /// The kept candidates, best first.
    func sorted() -> [(score: Float, row: Int)] {
        entries.sorted { $0.score != $1.score ? $0.score > $1.score : $0.row < $1.row }.map { ($0.score, $0.row) }
    }

    // The sifts work on the array's storage directly: through the array, each step paid a uniqueness and
    // a bounds check, which made the heap a fifth of a region search's scan.

    /// Moves the entry at `start` up to its place.
    private mutating func siftUp(_ start: Int) {
        entries.withUnsafeMutableBufferPointer { heap in
            var child = start
            let entry = heap[child]
            while child > 0 {
                let parent = (child - 1) / 2
                guard entry.score < heap[parent].score else { break }
                heap[child] = heap[parent]
                child = parent
            }
            heap[child] = entry
        }
    }

    /// Replaces the root (the worst kept) with `entry` and moves it down to its place.
    private mutating func siftDown(_ entry: Entry) {
        entries.withUnsafeMutableBufferPointer { heap in
            let n = heap.count
            var parent = 0
            while true {
                let left = 2 * parent + 1
                guard left < n else { break }
                var smallest = left
                if left + 1 < n, heap[left + 1].score < heap[left].score { smallest = left + 1 }
                guard heap[smallest].score < entry.score else { break }
                heap[parent] = heap[smallest]
                parent = smallest
            }
            heap[parent] = entry
        }
    }
}
