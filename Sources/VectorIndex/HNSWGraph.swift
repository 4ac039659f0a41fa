import Foundation
import VSearchCore

/// The graph behind ``HNSWIndex``: vectors, link lists and the algorithms on them.
///
/// Layer-0 links of node `n` are at `baseLinks + n·(1 + 2M)`: a count, then
/// up to 2M neighbours. Upper layers of a node with top layer L are one
/// block of L·(1 + M) slots in `upperLinks[n]`. Distances are "lower is
/// closer": −dot for inner product and cosine, squared L2 for L2.
// @unchecked: raw link memory; the owning HNSWIndex's reader-writer lock guards it, and a parallel build
// locks each node it links (`nodeLocks`) and the entry point (`entry`).
final class HNSWGraph: @unchecked Sendable {
    let dimension: Int
    let metric: Metric
    let m: Int
    let maxBase: Int
    let efConstruction: Int
    let seed: UInt64
    let levelScale: Double

    // @exclusivity(unchecked): a search reads these once per neighbour; the owning index's lock (and, in a
    // parallel build, the node locks) already order the accesses, so the run-time check on each is pure cost.
    @exclusivity(unchecked) private(set) var vectors: RowStore<Float>
    @exclusivity(unchecked) var ids: [UInt64] = []
    @exclusivity(unchecked) var nodeOf: [UInt64: Int32] = [:]
    var levels: [UInt8] = []
    @exclusivity(unchecked) var deleted: [Bool] = []
    @exclusivity(unchecked) var deletedCount = 0
    private(set) var capacity = 0
    @exclusivity(unchecked) var baseLinks: UnsafeMutablePointer<Int32>
    @exclusivity(unchecked) var upperLinks: UnsafeMutablePointer<UnsafeMutablePointer<Int32>?>

    private let nodeLocks = NodeLocks(capacity: 1)
    // A parallel build's inserts read and move the entry point, so it lives under its own lock.
    private let entry = Locked(EntryPoint())

    /// Where searches and inserts start: a node on the top layer, or −1 in an empty graph.
    var entryPoint: EntryPoint {
        get { entry.withLock { $0 } }
        set { entry.withLock { $0 = newValue } }
    }
    let visitedPool = VisitedPool(capacity: 0)

    var baseStride: Int { 1 + maxBase }
    var upperStride: Int { 1 + m }

    init(dimension: Int, metric: Metric, parameters: HNSWParameters) {
        self.dimension = dimension
        self.metric = metric
        self.m = parameters.m
        self.maxBase = 2 * parameters.m
        self.efConstruction = max(parameters.efConstruction, parameters.m)
        self.seed = parameters.seed
        self.levelScale = 1 / log(Double(max(parameters.m, 2)))
        self.vectors = RowStore(width: dimension)
        self.baseLinks = .allocate(capacity: 1)
        self.upperLinks = .allocate(capacity: 1)
    }

    deinit {
        for node in 0..<ids.count { upperLinks[node]?.deallocate() }
        baseLinks.deallocate()
        upperLinks.deallocate()
    }

    // MARK: Storage

    /// Makes room for `total` nodes. Not concurrent with anything else.
    func reserve(_ total: Int) {
        guard total > capacity else { return }
        let newCapacity = max(total, capacity * 3 / 2, 64)
        let links = UnsafeMutablePointer<Int32>.allocate(capacity: newCapacity * baseStride)
        links.update(from: baseLinks, count: ids.count * baseStride)
        baseLinks.deallocate()
        baseLinks = links
        let upper = UnsafeMutablePointer<UnsafeMutablePointer<Int32>?>.allocate(capacity: newCapacity)
        upper.update(from: upperLinks, count: ids.count)
        upperLinks.deallocate()
        upperLinks = upper
        nodeLocks.grow(to: newCapacity)
        visitedPool.grow(to: newCapacity)
        capacity = newCapacity
    }

    /// A node's top layer, drawn from −ln(U)·mL with a per-node hash so builds are reproducible.
    private func randomLevel(for node: Int) -> Int {
        var x = seed &+ UInt64(node) &* 0x9E37_79B9_7F4A_7C15
        x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
        x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
        x ^= x >> 31
        let uniform = (Double(x >> 11) + 0.5) / Double(1 << 53)
        return min(Int(-log(uniform) * levelScale), 32)
    }

    /// Appends unlinked nodes and returns the first's number; `insert` links them.
    func appendNodes(ids newIDs: [UInt64], rows: UnsafePointer<Float>) -> Int {
        let first = ids.count
        reserve(first + newIDs.count)
        vectors.reserve(first + newIDs.count)
        for (i, id) in newIDs.enumerated() {
            let node = first + i
            vectors.append(rows + i * dimension)
            let level = randomLevel(for: node)
            ids.append(id)
            nodeOf[id] = Int32(node)
            levels.append(UInt8(level))
            deleted.append(false)
            baseLinks[node * baseStride] = 0
            if level > 0 {
                let block = UnsafeMutablePointer<Int32>.allocate(capacity: level * upperStride)
                block.initialize(repeating: 0, count: level * upperStride)
                upperLinks[node] = block
            } else {
                upperLinks[node] = nil
            }
        }
        return first
    }

    /// Reads the vectors from a mapped snapshot until the first insert copies them.
    func borrowVectors(count: Int, from bytes: UnsafeRawBufferPointer, mapping: MappedFile) {
        guard count > 0, let base = bytes.baseAddress else { return }
        vectors = RowStore(width: dimension, count: count, borrowing: base, mapping: mapping)
    }

    /// Tombstones the live node with this id; returns whether there was one.
    @discardableResult
    func markDeleted(id: UInt64) -> Bool {
        guard let node = nodeOf.removeValue(forKey: id) else { return false }
        deleted[Int(node)] = true
        deletedCount += 1
        return true
    }

    /// The link list of `node` on `level`: slot 0 is the count.
    @inline(__always) func links(_ node: Int32, _ level: Int) -> UnsafeMutablePointer<Int32> {
        level == 0
            ? baseLinks + Int(node) * baseStride
            : upperLinks[Int(node)]! + (level - 1) * upperStride
    }

    // MARK: Distances

    @inline(__always) func distance(_ query: UnsafePointer<Float>, _ node: Int32) -> Float {
        let row = vectors.row(Int(node))
        return metric == .l2 ? Kernels.l2Squared(query, row, dimension) : -Kernels.dot(query, row, dimension)
    }

    /// Distances from `query` to `count` nodes, four at a time.
    @inline(__always)
    func distances4(
        _ query: UnsafePointer<Float>, _ nodes: UnsafeMutablePointer<Int32>, _ count: Int,
        into out: UnsafeMutablePointer<Float>
    ) {
        var i = 0
        while i + 4 <= count {
            let a = vectors.row(Int(nodes[i]))
            let b = vectors.row(Int(nodes[i + 1]))
            let c = vectors.row(Int(nodes[i + 2]))
            let d = vectors.row(Int(nodes[i + 3]))
            if metric == .l2 {
                Kernels.l2Squared4(query, a, b, c, d, dimension, into: out + i)
            } else {
                Kernels.dot4(query, a, b, c, d, dimension, into: out + i)
                for j in i..<(i + 4) { out[j] = -out[j] }
            }
            i += 4
        }
        while i < count {
            out[i] = distance(query, nodes[i])
            i += 1
        }
    }

    @inline(__always) func distance(_ a: Int32, _ b: Int32) -> Float {
        distance(UnsafePointer(vectors.row(Int(a))), b)
    }

    func reportedScore(_ distance: Float) -> Float { metric == .l2 ? distance : -distance }

    // MARK: Insert

    /// Links a node appended by `appendNodes` into the graph; safe to run concurrently for different nodes.
    func insert(node: Int32, locking: Bool) {
        let level = Int(levels[Int(node)])
        // A node that raises the top layer keeps the entry lock until it is linked, as hnswlib does, so that
        // no other insert starts from an entry point whose upper layers are still empty.
        let start: EntryPoint? = entry.withLock { current in
            if current.node < 0 {
                current = EntryPoint(node: node, level: level)
                return nil
            }
            guard level > current.level else { return current }
            link(node, level: level, from: current.node, top: current.level, locking: locking)
            current = EntryPoint(node: node, level: level)
            return nil
        }
        if let start { link(node, level: level, from: start.node, top: start.level, locking: locking) }
    }

    /// Descends from the entry point to the node's own top layer, then links it on each layer below.
    private func link(_ node: Int32, level: Int, from start: Int32, top: Int, locking: Bool) {
        let query = UnsafePointer(vectors.row(Int(node)))
        let visited = visitedPool.take()
        defer { visitedPool.give(visited) }
        var entry = start
        var entryDistance = distance(query, entry)
        if top > level {
            for layer in stride(from: top, to: level, by: -1) {
                (entry, entryDistance) = greedy(
                    query, from: entry, distance: entryDistance, level: layer, scratch: visited.links,
                    locking: locking)
            }
        }
        for layer in stride(from: min(level, top), through: 0, by: -1) {
            let sorted = searchLayer(
                query, entries: [(entryDistance, entry)], ef: efConstruction, level: layer, visited: visited,
                locking: locking, filter: nil, skipDeleted: false)
            let neighbours = selectNeighbours(sorted, limit: m)
            connect(node, to: neighbours, level: layer, locking: locking)
            if let nearest = sorted.first { (entryDistance, entry) = (nearest.distance, nearest.node) }
        }
    }

    /// Walks to ever closer neighbours on one layer.
    func greedy(
        _ query: UnsafePointer<Float>, from start: Int32, distance startDistance: Float, level: Int,
        scratch: UnsafeMutablePointer<Int32>, locking: Bool
    ) -> (Int32, Float) {
        var current = start
        var best = startDistance
        var changed = true
        while changed {
            changed = false
            let n = copyLinks(current, level, into: scratch, locking: locking)
            for i in 0..<n {
                let candidate = scratch[i]
                let d = distance(query, candidate)
                if d < best {
                    best = d
                    current = candidate
                    changed = true
                }
            }
        }
        return (current, best)
    }

    /// Copies a link list out, under the node's lock while the graph is being built.
    @inline(__always)
    func copyLinks(_ node: Int32, _ level: Int, into scratch: UnsafeMutablePointer<Int32>, locking: Bool) -> Int {
        if locking { nodeLocks.lock(Int(node)) }
        let list = links(node, level)
        let n = Int(list[0])
        for i in 0..<n { scratch[i] = list[1 + i] }
        if locking { nodeLocks.unlock(Int(node)) }
        return n
    }

    /// hnswlib's heuristic: keep a candidate only if it is closer to the new node than to every neighbour kept
    /// so far, which spreads the links in different directions.
    func selectNeighbours(_ sorted: [(distance: Float, node: Int32)], limit: Int) -> [Int32] {
        guard sorted.count > limit else { return sorted.map(\.node) }
        var kept: [Int32] = []
        for candidate in sorted {
            if kept.count >= limit { break }
            var good = true
            for other in kept where distance(candidate.node, other) < candidate.distance {
                good = false
                break
            }
            if good { kept.append(candidate.node) }
        }
        return kept
    }

    private func connect(_ node: Int32, to neighbours: [Int32], level: Int, locking: Bool) {
        let limit = level == 0 ? maxBase : m
        if locking { nodeLocks.lock(Int(node)) }
        let own = links(node, level)
        own[0] = Int32(neighbours.count)
        for (i, n) in neighbours.enumerated() { own[1 + i] = n }
        if locking { nodeLocks.unlock(Int(node)) }

        for neighbour in neighbours {
            if locking { nodeLocks.lock(Int(neighbour)) }
            let list = links(neighbour, level)
            let count = Int(list[0])
            if count < limit {
                list[1 + count] = node
                list[0] = Int32(count + 1)
            } else {
                // Full: choose again among the old links and the new node.
                var pool = [(distance: Float, node: Int32)]()
                pool.reserveCapacity(count + 1)
                pool.append((distance(neighbour, node), node))
                for i in 0..<count { pool.append((distance(neighbour, list[1 + i]), list[1 + i])) }
                pool.sort { $0.distance < $1.distance }
                let kept = selectNeighbours(pool, limit: limit)
                list[0] = Int32(kept.count)
                for (i, n) in kept.enumerated() { list[1 + i] = n }
            }
            if locking { nodeLocks.unlock(Int(neighbour)) }
        }
    }

    // MARK: Search

    /// Best-first search on one layer, keeping the `ef` nearest nodes seen.
    ///
    /// Nodes that are deleted or filtered out still route the search but are
    /// not kept as results.
    func searchLayer(
        _ query: UnsafePointer<Float>, entries: [(Float, Int32)], ef: Int, level: Int, visited: VisitedSet,
        locking: Bool, filter: SearchFilter?, skipDeleted: Bool
    ) -> [(distance: Float, node: Int32)] {
        visited.reset()
        var candidates = SearchHeap(maxOnTop: false)
        var results = SearchHeap(maxOnTop: true)
        swap(&candidates, &visited.candidates)
        swap(&results, &visited.results)
        candidates.removeAll()
        results.removeAll()
        defer {
            swap(&candidates, &visited.candidates)
            swap(&results, &visited.results)
        }
        let scratch = visited.links
        @inline(__always) func keeps(_ node: Int32) -> Bool {
            if skipDeleted, deleted[Int(node)] { return false }
            if let filter, !filter.isAllowed(ids[Int(node)]) { return false }
            return true
        }
        var bound = Float.infinity
        for (d, node) in entries {
            _ = visited.insert(node)
            candidates.push(d, node)
            if keeps(node) {
                results.push(d, node)
                bound = results.topDistance
            }
        }
        while !candidates.isEmpty {
            let (d, current) = candidates.pop()
            if d > bound, results.count >= ef { break }
            let n = copyLinks(current, level, into: scratch, locking: locking)
            // Keep the unvisited neighbours, then touch the start of each one's vector before any
            // distance is computed, so their cache misses overlap instead of following one another
            // (hnswlib prefetches for the same reason).
            var fresh = 0
            for i in 0..<n where visited.insert(scratch[i]) {
                scratch[fresh] = scratch[i]
                fresh += 1
            }
            var touched: UInt32 = 0
            for i in 0..<fresh {
                let row = vectors.row(Int(scratch[i]))
                touched |= row.pointee.bitPattern | row[dimension > 16 ? 16 : 0].bitPattern
            }
            // The next candidate's link list is the following miss; start it now too. Not while the
            // graph is being built (`locking`): another thread may be writing that list under its node
            // lock, and an unlocked read of it, even one whose value is thrown away, is a data race.
            if !locking, !candidates.isEmpty {
                touched |= UInt32(bitPattern: links(candidates.topNode, level).pointee)
            }
            visited.sink |= touched
            let distances = visited.distances
            distances4(query, scratch, fresh, into: distances)
            for i in 0..<fresh {
                let neighbour = scratch[i]
                let nd = distances[i]
                if results.count < ef || nd < bound {
                    candidates.push(nd, neighbour)
                    if keeps(neighbour) {
                        results.push(nd, neighbour)
                        if results.count > ef { results.pop() }
                        bound = results.topDistance
                    }
                }
            }
        }
        return results.sortedAscending()
    }

    /// Descends from the entry point and searches layer 0 with `ef` candidates; results nearest first.
    func search(_ query: UnsafePointer<Float>, ef: Int, filter: SearchFilter?) -> [(distance: Float, node: Int32)] {
        let start = entryPoint
        guard start.node >= 0 else { return [] }
        let visited = visitedPool.take()
        defer { visitedPool.give(visited) }
        var entry = start.node
        var entryDistance = distance(query, entry)
        if start.level > 0 {
            for layer in stride(from: start.level, through: 1, by: -1) {
                (entry, entryDistance) = greedy(
                    query, from: entry, distance: entryDistance, level: layer, scratch: visited.links, locking: false)
            }
        }
        return searchLayer(
            query, entries: [(entryDistance, entry)], ef: ef, level: 0, visited: visited, locking: false,
            filter: filter, skipDeleted: deletedCount > 0)
    }

    /// Scores every live node the filter allows; used when the filter is narrow.
    func exactSearch(_ query: UnsafePointer<Float>, k: Int, filter: SearchFilter) -> [(distance: Float, node: Int32)] {
        var top = TopK(k: k)
        if let allowed = filter.allowedIDs {
            for id in allowed {
                if let node = nodeOf[id] { top.push(-distance(query, node), Int(node)) }
            }
        } else {
            for node in 0..<ids.count where !deleted[node] && filter.isAllowed(ids[node]) {
                top.push(-distance(query, Int32(node)), node)
            }
        }
        return top.sorted().map { (distance: -$0.score, node: Int32($0.row)) }
    }

    /// The fraction of live items the filter allows: exact for an id set, sampled for a predicate.
    func allowedFraction(_ filter: SearchFilter) -> Double {
        let live = nodeOf.count
        guard live > 0 else { return 0 }
        if let allowed = filter.allowedIDs { return Double(min(allowed.count, live)) / Double(live) }
        let samples = min(ids.count, 512)
        var seen = 0
        var allowed = 0
        var x: UInt64 = 0x1234_5678
        var tries = 0
        while seen < samples, tries < samples * 4 {
            tries += 1
            x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let node = Int((x >> 33) % UInt64(ids.count))
            guard !deleted[node] else { continue }
            seen += 1
            if filter.isAllowed(ids[node]) { allowed += 1 }
        }
        return seen == 0 ? 0 : Double(allowed) / Double(seen)
    }
}

/// The start of every search and insert: a node and its top layer.
struct EntryPoint: Sendable, Equatable {
    var node: Int32 = -1
    var level = -1
}
