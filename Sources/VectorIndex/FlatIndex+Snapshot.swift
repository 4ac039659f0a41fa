extension FlatIndex {
    static let kindCode: UInt32 = 0

    /// Writes the index to `path` atomically (see ``IndexFile`` for the format).
    func writeSnapshot(path: String, generation: UInt64) throws(IndexError) {
        try lock.read { () throws(IndexError) in
            let n = ids.count
            var sections: [IndexFile.Section] = [
                IndexFile.Section(.ids, array: ids),
                IndexFile.Section(.vectors, UnsafeRawBufferPointer(vectors.buffer)),
                IndexFile.Section(.norms, array: squaredNorms),
            ]
            if let codes {
                if codes.kind == .f16 {
                    sections.append(IndexFile.Section(.codes, UnsafeRawBufferPointer(codes.half.buffer)))
                } else {
                    sections.append(IndexFile.Section(.codes, UnsafeRawBufferPointer(codes.bytes.buffer)))
                    sections.append(IndexFile.Section(.codeMinimum, array: codes.minimum))
                    sections.append(IndexFile.Section(.codeScale, array: codes.scale))
                }
                sections.append(IndexFile.Section(.codeNorms, array: codes.squaredNorms))
            }
            let header = IndexFile.Header(
                kind: Self.kindCode, metric: metric.code, storage: storage.code, dimension: UInt64(dimension),
                count: UInt64(n), generation: generation)
            try IndexFile.write(path: path, header: header, sections: sections)
        }
    }

    /// Opens a snapshot; the vectors (and codes) stay in the mapped file until changed.
    static func load(_ reader: IndexFile.Reader, metric: Metric, storage: VectorStorage) throws(IndexError) -> FlatIndex
    {
        let header = reader.header
        let n = header.count
        let d = Int(header.dimension)
        let (cells, overflow) = n.multipliedReportingOverflow(by: header.dimension)
        guard !overflow, cells < UInt64(Int.max / 4) else {
            throw .corrupt(path: reader.path, reason: "\(n) × \(d) vectors is impossibly large")
        }
        let ids = try reader.array(.ids, count: n, of: UInt64.self)
        guard Set(ids).count == ids.count else { throw .corrupt(path: reader.path, reason: "duplicate item ids") }
        let vectorBytes = try reader.section(.vectors, count: cells, of: Float.self)
        let norms = try reader.array(.norms, count: n, of: Float.self)
        let vectors = RowStore<Float>(
            width: d, count: Int(n), borrowing: vectorBytes.baseAddress ?? UnsafeRawPointer(bitPattern: 64)!,
            mapping: reader.file)
        var codes: CompactCodes?
        var rerankFile: RowFileReader?
        if storage != .f32 {
            // Only re-ranking reads these rows, a few per query.
            reader.file.adviseRandomAccess(vectorBytes)
            if let start = vectorBytes.baseAddress, let fileStart = reader.file.bytes.baseAddress {
                rerankFile = RowFileReader(path: reader.path, offset: start - fileStart, dimension: d)
            }
            let codeNorms = try reader.array(.codeNorms, count: n, of: Float.self)
            if storage == .f16 {
                let bytes = try reader.section(.codes, count: cells, of: Float16.self)
                let half = RowStore<Float16>(
                    width: d, count: Int(n), borrowing: bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 64)!,
                    mapping: reader.file)
                codes = CompactCodes(
                    kind: .f16, dimension: d, half: half, bytes: RowStore(width: 0), minimum: [], scale: [],
                    squaredNorms: codeNorms)
            } else {
                let bytes = try reader.section(.codes, count: cells, of: UInt8.self)
                let store = RowStore<UInt8>(
                    width: d, count: Int(n), borrowing: bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 64)!,
                    mapping: reader.file)
                let minimum = try reader.array(.codeMinimum, count: UInt64(n == 0 ? 0 : d), of: Float.self)
                let scale = try reader.array(.codeScale, count: UInt64(n == 0 ? 0 : d), of: Float.self)
                codes = CompactCodes(
                    kind: .i8, dimension: d, half: RowStore(width: 0), bytes: store, minimum: minimum, scale: scale,
                    squaredNorms: codeNorms)
            }
        }
        let index = FlatIndex(
            dimension: d, metric: metric, storage: storage, vectors: vectors, ids: ids, squaredNorms: norms,
            codes: codes)
        index.rerankFile = rerankFile
        return index
    }
}
