extension HNSWIndex {
    static let kindCode: UInt32 = 1

    /// Writes the graph to `path` atomically (see ``IndexFile``); tombstones are kept.
    func writeSnapshot(path: String, generation: UInt64) throws(IndexError) {
        try lock.read { () throws(IndexError) in
            let g = graph
            let n = g.ids.count
            var upperOffsets: [UInt64] = [0]
            var upper: [Int32] = []
            for node in 0..<n {
                let slots = Int(g.levels[node]) * g.upperStride
                if slots > 0, let block = g.upperLinks[node] {
                    upper.append(contentsOf: UnsafeBufferPointer(start: block, count: slots))
                }
                upperOffsets.append(UInt64(upper.count))
            }
            let sections: [IndexFile.Section] = [
                IndexFile.Section(.ids, array: g.ids),
                IndexFile.Section(.vectors, UnsafeRawBufferPointer(g.vectors.buffer)),
                IndexFile.Section(.levels, array: g.levels),
                IndexFile.Section(
                    .baseLinks, UnsafeRawBufferPointer(start: g.baseLinks, count: n * g.baseStride * 4)),
                IndexFile.Section(.upperOffsets, array: upperOffsets),
                IndexFile.Section(.upperLinks, array: upper),
                IndexFile.Section(.deleted, array: g.deleted.map { $0 ? UInt8(1) : 0 }),
            ]
            var header = IndexFile.Header(
                kind: Self.kindCode, metric: metric.code, storage: VectorStorage.f32.code,
                dimension: UInt64(dimension), count: UInt64(n), generation: generation)
            header.parameters[0] = UInt64(parameters.m)
            header.parameters[1] = UInt64(parameters.efConstruction)
            header.parameters[2] = UInt64(parameters.efSearch)
            let start = g.entryPoint
            header.parameters[3] = UInt64(bitPattern: Int64(start.node))
            header.parameters[4] = UInt64(bitPattern: Int64(start.level))
            header.parameters[5] = parameters.seed
            try IndexFile.write(path: path, header: header, sections: sections)
        }
    }

    /// Opens a snapshot: vectors stay mapped, links are copied and every link is checked to point at a node.
    static func load(_ reader: IndexFile.Reader, metric: Metric) throws(IndexError) -> HNSWIndex {
        let header = reader.header
        let path = reader.path
        let n = header.count
        let d = Int(header.dimension)
        let p = header.parameters
        guard p[0] >= 2, p[0] <= 1024, p[1] >= 1, p[1] < 1 << 20, p[2] >= 1, p[2] < 1 << 20 else {
            throw .corrupt(path: path, reason: "HNSW parameters out of range")
        }
        var parameters = HNSWParameters(m: Int(p[0]), efConstruction: Int(p[1]), efSearch: Int(p[2]), seed: p[5])
        parameters.seed = p[5]
        let (cells, overflow) = n.multipliedReportingOverflow(by: header.dimension)
        guard !overflow, n < UInt64(Int32.max), cells < UInt64(Int.max / 4) else {
            throw .corrupt(path: path, reason: "\(n) × \(d) vectors is impossibly large")
        }
        let count = Int(n)
        let graph = HNSWGraph(dimension: d, metric: metric, parameters: parameters)
        let ids = try reader.array(.ids, count: n, of: UInt64.self)
        let vectorBytes = try reader.section(.vectors, count: cells, of: Float.self)
        let levels = try reader.array(.levels, count: n, of: UInt8.self)
        let deletedFlags = try reader.array(.deleted, count: n, of: UInt8.self)
        let base = try reader.section(.baseLinks, count: n * UInt64(graph.baseStride), of: Int32.self)
        let upperOffsets = try reader.array(.upperOffsets, count: n + 1, of: UInt64.self)
        let upperBytes = try reader.section(.upperLinks)
        guard upperBytes.count % 4 == 0 else { throw .corrupt(path: path, reason: "upper links length") }
        let upper = upperBytes.bindMemory(to: Int32.self)

        // Check everything before building, so a damaged file cannot send a search out of bounds.
        func bad(_ reason: String) -> IndexError { .corrupt(path: path, reason: reason) }
        guard upperOffsets[0] == 0, upperOffsets[count] == UInt64(upper.count) else { throw bad("upper link offsets") }
        for node in 0..<count {
            let level = Int(levels[node])
            guard level <= 32 else { throw bad("node \(node) has level \(level)") }
            guard upperOffsets[node + 1] >= upperOffsets[node],
                upperOffsets[node + 1] - upperOffsets[node] == UInt64(level * graph.upperStride)
            else { throw bad("upper link offsets of node \(node)") }
            guard deletedFlags[node] <= 1 else { throw bad("deleted flag of node \(node)") }
        }
        let baseLinks = base.bindMemory(to: Int32.self)
        func checkList(_ list: UnsafeBufferPointer<Int32>, limit: Int, node: Int, level: Int) throws(IndexError) {
            let c = Int(list[0])
            guard c >= 0, c <= limit else { throw bad("node \(node) has \(c) links on layer \(level)") }
            for i in 0..<c where list[1 + i] < 0 || Int(list[1 + i]) >= count || Int(levels[Int(list[1 + i])]) < level {
                throw bad("node \(node) links to a missing node on layer \(level)")
            }
        }
        for node in 0..<count {
            try checkList(
                UnsafeBufferPointer(rebasing: baseLinks[(node * graph.baseStride)..<((node + 1) * graph.baseStride)]),
                limit: graph.maxBase, node: node, level: 0)
            let start = Int(upperOffsets[node])
            for level in 1..<(Int(levels[node]) + 1) {
                let offset = start + (level - 1) * graph.upperStride
                try checkList(
                    UnsafeBufferPointer(rebasing: upper[offset..<(offset + graph.upperStride)]), limit: graph.m,
                    node: node, level: level)
            }
        }
        let entry = Int64(bitPattern: p[3])
        let top = Int64(bitPattern: p[4])
        if count == 0 {
            guard entry == -1 else { throw bad("entry point in an empty graph") }
        } else {
            guard entry >= 0, entry < Int64(count), top == Int64(levels[Int(entry)]) else {
                throw bad("entry point \(entry) or top layer \(top)")
            }
        }

        graph.adopt(
            ids: ids, vectors: vectorBytes, mapping: reader.file, levels: levels, deleted: deletedFlags.map { $0 == 1 },
            baseLinks: baseLinks, upper: upper, upperOffsets: upperOffsets, entryPoint: Int32(entry), topLevel: Int(top)
        )
        guard graph.nodeOf.count == count - graph.deletedCount else { throw bad("duplicate live item ids") }
        return HNSWIndex(dimension: d, metric: metric, parameters: parameters, graph: graph)
    }
}

extension HNSWGraph {
    /// Takes over a checked snapshot's contents.
    func adopt(
        ids: [UInt64], vectors: UnsafeRawBufferPointer, mapping: MappedFile, levels: [UInt8], deleted: [Bool],
        baseLinks: UnsafeBufferPointer<Int32>, upper: UnsafeBufferPointer<Int32>, upperOffsets: [UInt64],
        entryPoint: Int32, topLevel: Int
    ) {
        let count = ids.count
        borrowVectors(count: count, from: vectors, mapping: mapping)
        reserve(count)
        self.ids = ids
        self.levels = levels
        self.deleted = deleted
        deletedCount = deleted.filter { $0 }.count
        nodeOf.reserveCapacity(count - deletedCount)
        for node in 0..<count where !deleted[node] { nodeOf[ids[node]] = Int32(node) }
        if let source = baseLinks.baseAddress { self.baseLinks.update(from: source, count: count * baseStride) }
        for node in 0..<count {
            let slots = Int(levels[node]) * upperStride
            if slots > 0, let source = upper.baseAddress {
                let block = UnsafeMutablePointer<Int32>.allocate(capacity: slots)
                block.update(from: source + Int(upperOffsets[node]), count: slots)
                upperLinks[node] = block
            } else {
                upperLinks[node] = nil
            }
        }
        self.entryPoint = EntryPoint(node: entryPoint, level: topLevel)
    }
}
