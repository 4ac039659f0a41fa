import Foundation
import VSearchCore

/// A binary heap of (distance, node) pairs, smallest or largest distance on top.
///
/// HNSW needs both: candidates to expand, nearest first, and the results so
/// far, farthest first so the worst can be dropped.
struct SearchHeap {
    private(set) var distances: [Float] = []
    private(set) var nodes: [Int32] = []
    /// When true the largest distance is on top.
    let maxOnTop: Bool

    init(maxOnTop: Bool, capacity: Int = 0) {
        self.maxOnTop = maxOnTop
        distances.reserveCapacity(capacity)
        nodes.reserveCapacity(capacity)
    }

    var count: Int { distances.count }

    mutating func removeAll() {
        distances.removeAll(keepingCapacity: true)
        nodes.removeAll(keepingCapacity: true)
    }
    var isEmpty: Bool { distances.isEmpty }
    var topDistance: Float { distances[0] }
    var topNode: Int32 { nodes[0] }

    @inline(__always) private func above(_ a: Int, _ b: Int) -> Bool {
        maxOnTop ? distances[a] > distances[b] : distances[a] < distances[b]
    }

    mutating func push(_ distance: Float, _ node: Int32) {
        distances.append(distance)
        nodes.append(node)
        var child = distances.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard above(child, parent) else { break }
            distances.swapAt(child, parent)
            nodes.swapAt(child, parent)
            child = parent
        }
    }

    @discardableResult
    mutating func pop() -> (distance: Float, node: Int32) {
        let top = (distances[0], nodes[0])
        let last = distances.count - 1
        distances.swapAt(0, last)
        nodes.swapAt(0, last)
        distances.removeLast()
        nodes.removeLast()
        var parent = 0
        let n = distances.count
        while true {
            let left = 2 * parent + 1
            guard left < n else { break }
            var best = left
            if left + 1 < n, above(left + 1, left) { best = left + 1 }
            guard above(best, parent) else { break }
            distances.swapAt(best, parent)
            nodes.swapAt(best, parent)
            parent = best
        }
        return top
    }

    /// All entries, nearest first.
    func sortedAscending() -> [(distance: Float, node: Int32)] {
        zip(distances, nodes).map { (distance: $0.0, node: $0.1) }.sorted { $0.distance < $1.distance }
    }
}

/// Marks nodes visited during one search without clearing memory each time.
final class VisitedSet {
    private let marks: UnsafeMutablePointer<UInt16>
    // @exclusivity(unchecked): used once per neighbour by the one search that holds the set (see VisitedPool),
    // so the run-time exclusivity check on each access is pure cost.
    @exclusivity(unchecked) private var current: UInt16 = 0
    let capacity: Int
    /// Receives the bits of memory touched ahead of use, so the loads are not optimised away.
    @exclusivity(unchecked) var sink: UInt32 = 0
    /// Heaps and a link buffer reused by every search that holds this set.
    @exclusivity(unchecked) var candidates = SearchHeap(maxOnTop: false)
    @exclusivity(unchecked) var results = SearchHeap(maxOnTop: true)
    let links = UnsafeMutablePointer<Int32>.allocate(capacity: 2049)
    let distances = UnsafeMutablePointer<Float>.allocate(capacity: 2049)

    init(capacity: Int) {
        self.capacity = capacity
        marks = .allocate(capacity: max(capacity, 1))
        marks.initialize(repeating: 0, count: max(capacity, 1))
    }

    deinit {
        marks.deallocate()
        links.deallocate()
        distances.deallocate()
    }

    /// Starts a new search.
    func reset() {
        current &+= 1
        if current == 0 {
            marks.update(repeating: 0, count: capacity)
            current = 1
        }
    }

    /// Marks the node and returns whether it was unmarked.
    @inline(__always) func insert(_ node: Int32) -> Bool {
        let slot = marks + Int(node)
        if slot.pointee == current { return false }
        slot.pointee = current
        return true
    }
}

/// Visited sets reused between searches, one per concurrent search.
final class VisitedPool: Sendable {
    /// The sets not in use, and the node count every set handed out must hold.
    private let state: Locked<(free: [VisitedSet], capacity: Int)>

    init(capacity: Int) { state = Locked(([], capacity)) }

    var capacity: Int { state.withLock { $0.capacity } }

    func take() -> VisitedSet {
        state.withLock { state in
            while let set = state.free.popLast() {
                if set.capacity >= state.capacity { return set }
            }
            return VisitedSet(capacity: state.capacity)
        }
    }

    func give(_ set: VisitedSet) {
        state.withLock { $0.free.append(set) }
    }

    /// Later sets hold at least `newCapacity` nodes; older, smaller ones are dropped.
    func grow(to newCapacity: Int) {
        state.withLock { $0.capacity = max($0.capacity, newCapacity) }
    }
}
