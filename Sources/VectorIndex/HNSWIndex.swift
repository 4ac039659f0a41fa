import Foundation
import VSearchCore

/// HNSW's knobs, with hnswlib's names and defaults.
public struct HNSWParameters: Sendable, Equatable {
    /// Links per node on the upper layers; layer 0 keeps 2·M.
    public var m = 16
    /// Candidate list size while inserting; larger builds a better graph, slower.
    public var efConstruction = 200
    /// Candidate list size while searching (at least k is used); larger is more accurate, slower.
    public var efSearch = 64
    /// Seeds the choice of each node's top layer, so builds are reproducible.
    public var seed: UInt64 = 100
    /// A filtered search whose filter allows less than this fraction of the items scans the
    /// allowed items exactly instead of walking the graph, and so still returns k.
    public var exactFilterFraction = 0.1

    public init(m: Int = 16, efConstruction: Int = 200, efSearch: Int = 64, seed: UInt64 = 100) {
        self.m = m
        self.efConstruction = efConstruction
        self.efSearch = efSearch
        self.seed = seed
    }
}

/// Approximate search on a Hierarchical Navigable Small World graph
/// (Malkov & Yashunin, 2016), laid out like hnswlib.
///
/// Each node lives on layers 0…L, with L drawn from a geometric
/// distribution; layer 0 links every node to up to 2·M neighbours, upper
/// layers to M. A search descends greedily from the top layer's entry point
/// and then runs a best-first search with `ef` candidates on layer 0.
///
/// Inserts run on all ``threads`` threads, locking one node's link list at a
/// time. Removal leaves a tombstone: the node still routes searches but is
/// never returned; when tombstones outnumber live items the graph is
/// rebuilt (``compact()``). Replacing an item's vector is a removal plus an
/// insert.
// @unchecked: owns an HNSWGraph (raw link memory); `lock` (reader-writer) guards it: searches read, changes write.
public final class HNSWIndex: VectorIndex, @unchecked Sendable {
    public let dimension: Int
    public let metric: Metric
    public let parameters: HNSWParameters
    /// Threads for building and for batched searches.
    public var threads: Int = WorkerThreads.coreCount
    /// `ef` used by searches; defaults to ``HNSWParameters/efSearch``.
    public var efSearch: Int
    /// Called now and then during a long add with (inserted, total).
    public var progress: (@Sendable (Int, Int) -> Void)?

    let lock = ReadWriteLock()
    /// Replaced only under `lock`'s write side; @exclusivity(unchecked) because every search reads it.
    @exclusivity(unchecked) var graph: HNSWGraph

    public init(dimension: Int, metric: Metric = .innerProduct, parameters: HNSWParameters = HNSWParameters())
        throws(IndexError)
    {
        guard dimension > 0 else { throw .invalidArgument("dimension must be at least 1, got \(dimension)") }
        guard parameters.m >= 2, parameters.m <= 1024 else {
            throw .invalidArgument("M must be between 2 and 1024, got \(parameters.m)")
        }
        guard parameters.efConstruction >= 1, parameters.efSearch >= 1 else {
            throw .invalidArgument("efConstruction and efSearch must be at least 1")
        }
        self.dimension = dimension
        self.metric = metric
        self.parameters = parameters
        self.efSearch = parameters.efSearch
        self.graph = HNSWGraph(dimension: dimension, metric: metric, parameters: parameters)
    }

    init(dimension: Int, metric: Metric, parameters: HNSWParameters, graph: HNSWGraph) {
        self.dimension = dimension
        self.metric = metric
        self.parameters = parameters
        self.efSearch = parameters.efSearch
        self.graph = graph
    }

    public var count: Int { lock.read { graph.nodeOf.count } }

    /// Nodes including tombstones.
    public var nodeCount: Int { lock.read { graph.ids.count } }

    public func contains(id: UInt64) -> Bool { lock.read { graph.nodeOf[id] != nil } }

    public func add(ids newIDs: [UInt64], vectors values: [Float]) throws(IndexError) {
        let rows = try VectorValidation.additions(ids: newIDs, values: values, dimension: dimension, metric: metric)
        let n = newIDs.count
        lock.write {
            for id in newIDs { graph.markDeleted(id: id) }
            let first = rows.withUnsafeBufferPointer { graph.appendNodes(ids: newIDs, rows: $0.baseAddress!) }
            let total = n
            let done = AtomicCounter()
            let report = progress
            // A build computes for as long as it has items: on threads of its own, off Swift's pool.
            WorkerThreads.forEach(total, threads: total < 64 ? 1 : threads) { i in
                graph.insert(node: Int32(first + i), locking: true)
                let finished = done.increment() + 1
                if let report, finished % 1000 == 0 || finished == total { report(finished, total) }
            }
            if graph.deletedCount > graph.nodeOf.count, graph.deletedCount > 64 { compactLocked() }
        }
    }

    @discardableResult
    public func remove(id: UInt64) -> Bool {
        lock.write {
            let removed = graph.markDeleted(id: id)
            if removed, graph.deletedCount > graph.nodeOf.count, graph.deletedCount > 64 { compactLocked() }
            return removed
        }
    }

    /// Rebuilds the graph from the live items, dropping tombstones.
    public func compact() { lock.write { compactLocked() } }

    private func compactLocked() {
        let fresh = HNSWGraph(dimension: dimension, metric: metric, parameters: parameters)
        var liveIDs: [UInt64] = []
        var liveRows: [Float] = []
        liveIDs.reserveCapacity(graph.nodeOf.count)
        liveRows.reserveCapacity(graph.nodeOf.count * dimension)
        for node in 0..<graph.ids.count where !graph.deleted[node] {
            liveIDs.append(graph.ids[node])
            liveRows.append(contentsOf: UnsafeBufferPointer(start: graph.vectors.row(node), count: dimension))
        }
        let first = liveRows.withUnsafeBufferPointer { fresh.appendNodes(ids: liveIDs, rows: $0.baseAddress!) }
        WorkerThreads.forEach(liveIDs.count, threads: threads) { i in
            fresh.insert(node: Int32(first + i), locking: true)
        }
        graph = fresh
    }

    public func vector(id: UInt64) -> [Float]? {
        lock.read {
            guard let node = graph.nodeOf[id] else { return nil }
            return Array(UnsafeBufferPointer(start: graph.vectors.row(Int(node)), count: dimension))
        }
    }

    public func prefixScores(ids: [UInt64], query: [Float], length: Int) -> [Float?] {
        let n = min(length, dimension, query.count)
        return lock.read {
            ids.map { id in graph.nodeOf[id].map { node in Kernels.dot(query, graph.vectors.row(Int(node)), n) } }
        }
    }

    public func forEachItem(_ body: (UInt64, UnsafeBufferPointer<Float>) throws -> Void) rethrows {
        try lock.read {
            for node in 0..<graph.ids.count where !graph.deleted[node] {
                try body(graph.ids[node], UnsafeBufferPointer(start: graph.vectors.row(node), count: dimension))
            }
        }
    }

    // MARK: Search

    public func search(_ query: [Float], k: Int, filter: SearchFilter?) throws(IndexError) -> [SearchHit] {
        try VectorValidation.k(k)
        guard query.count == dimension else {
            throw .wrongDimension(context: "query", expected: dimension, got: query.count)
        }
        let q = try VectorValidation.queries(query, dimension: dimension, metric: metric, context: "query")
        return lock.read { q.withUnsafeBufferPointer { searchLocked($0.baseAddress!, k: k, filter: filter) } }
    }

    public func search(batch queries: [Float], k: Int, filter: SearchFilter?) throws(IndexError) -> [[SearchHit]] {
        try VectorValidation.k(k)
        let q = try VectorValidation.queries(queries, dimension: dimension, metric: metric, context: "queries")
        let nq = q.count / dimension
        var results = [[SearchHit]](repeating: [], count: nq)
        lock.read {
            q.withUnsafeBufferPointer { queryBuffer in
                results.withUnsafeMutableBufferPointer { output in
                    let output = output
                    Parallel.forEach(nq, threads: threads) { i in
                        output[i] = searchLocked(queryBuffer.baseAddress! + i * dimension, k: k, filter: filter)
                    }
                }
            }
        }
        return results
    }

    private func searchLocked(_ query: UnsafePointer<Float>, k: Int, filter: SearchFilter?) -> [SearchHit] {
        let ef = max(efSearch, k)
        var nodes: [(distance: Float, node: Int32)]
        if let filter {
            let fraction = graph.allowedFraction(filter)
            if fraction < parameters.exactFilterFraction {
                nodes = graph.exactSearch(query, k: k, filter: filter)
            } else {
                // A filter thins the results, so widen the beam in proportion.
                let widened = min(Int(Double(ef) / max(fraction, 0.01)), max(ef, graph.ids.count))
                nodes = graph.search(query, ef: widened, filter: filter)
                if nodes.count < k, graph.nodeOf.count > nodes.count {
                    nodes = graph.exactSearch(query, k: k, filter: filter)
                }
            }
        } else {
            nodes = graph.search(query, ef: ef, filter: nil)
        }
        return nodes.prefix(k).map { SearchHit(id: graph.ids[Int($0.node)], score: graph.reportedScore($0.distance)) }
    }
}
