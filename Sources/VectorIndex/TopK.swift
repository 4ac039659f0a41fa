/// Keeps the `k` best (highest internal score) of a stream of candidates.
///
/// A binary min-heap on score: the root is the worst kept candidate, so a
/// new candidate is compared with one value and usually rejected at once.
struct TopK {
    let k: Int
    private(set) var scores: [Float] = []
    private(set) var rows: [Int] = []

    init(k: Int) {
        self.k = k
        scores.reserveCapacity(k)
        rows.reserveCapacity(k)
    }

    /// The score a candidate must beat to be kept.
    var threshold: Float { scores.count < k ? -.infinity : scores[0] }

    var isFull: Bool { scores.count >= k }

    @inline(__always)
    mutating func push(_ score: Float, _ row: Int) {
        if scores.count < k {
            scores.append(score)
            rows.append(row)
            siftUp(scores.count - 1)
        } else if score > scores[0] {
            scores[0] = score
            rows[0] = row
            siftDown(0)
        }
    }

    mutating func merge(_ other: TopK) {
        for i in 0..<other.scores.count { push(other.scores[i], other.rows[i]) }
    }

    /// The kept candidates, best first.
    func sorted() -> [(score: Float, row: Int)] {
        zip(scores, rows).map { (score: $0.0, row: $0.1) }.sorted {
            $0.score != $1.score ? $0.score > $1.score : $0.row < $1.row
        }
    }

    // The sifts work on the arrays' storage directly: through the arrays, each step paid a uniqueness and
    // a bounds check, which made the heap a fifth of a region search's scan.

    private mutating func siftUp(_ start: Int) {
        scores.withUnsafeMutableBufferPointer { scores in
            rows.withUnsafeMutableBufferPointer { rows in
                var child = start
                let score = scores[child]
                let row = rows[child]
                while child > 0 {
                    let parent = (child - 1) / 2
                    guard score < scores[parent] else { break }
                    scores[child] = scores[parent]
                    rows[child] = rows[parent]
                    child = parent
                }
                scores[child] = score
                rows[child] = row
            }
        }
    }

    private mutating func siftDown(_ start: Int) {
        scores.withUnsafeMutableBufferPointer { scores in
            rows.withUnsafeMutableBufferPointer { rows in
                var parent = start
                let n = scores.count
                let score = scores[parent]
                let row = rows[parent]
                while true {
                    let left = 2 * parent + 1
                    guard left < n else { break }
                    var smallest = left
                    if left + 1 < n, scores[left + 1] < scores[left] { smallest = left + 1 }
                    guard scores[smallest] < score else { break }
                    scores[parent] = scores[smallest]
                    rows[parent] = rows[smallest]
                    parent = smallest
                }
                scores[parent] = score
                rows[parent] = row
            }
        }
    }
}
