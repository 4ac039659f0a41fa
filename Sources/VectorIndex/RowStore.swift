/// Fixed-width rows in one contiguous, 64-byte aligned block.
///
/// A store either owns its memory or borrows a read-only slice of a
/// memory-mapped file; the first mutation of a borrowed store copies it, so
/// an index opened from disk costs no reading until it is searched or changed.
// @unchecked: raw or memory-mapped rows; the owning index's reader-writer lock guards them.
final class RowStore<Element: BitwiseCopyable>: @unchecked Sendable {
    let width: Int
    // @exclusivity(unchecked): searches read these once per row scored, and the owning index's lock already
    // keeps a writer away from readers, so Swift's run-time exclusivity check on each read is pure cost.
    @exclusivity(unchecked) private(set) var count: Int
    private(set) var capacity: Int
    @exclusivity(unchecked) private(set) var base: UnsafeMutablePointer<Element>
    private var owned: Bool
    /// Keeps a borrowed mapping alive.
    private var mapping: MappedFile?

    init(width: Int, capacity: Int = 0) {
        self.width = width
        self.count = 0
        self.capacity = max(capacity, 0)
        self.base = Self.allocate(rows: self.capacity, width: width)
        self.owned = true
    }

    /// Borrows `count` rows at `pointer`, which must stay valid while `mapping` lives.
    init(width: Int, count: Int, borrowing pointer: UnsafeRawPointer, mapping: MappedFile) {
        self.width = width
        self.count = count
        self.capacity = count
        self.base = UnsafeMutablePointer(mutating: pointer.assumingMemoryBound(to: Element.self))
        self.owned = false
        self.mapping = mapping
    }

    deinit {
        if owned { UnsafeMutableRawPointer(base).deallocate() }
    }

    private static func allocate(rows: Int, width: Int) -> UnsafeMutablePointer<Element> {
        let bytes = max(rows * width * MemoryLayout<Element>.stride, 64)
        return UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64).bindMemory(
            to: Element.self, capacity: max(rows * width, 1))
    }

    @inline(__always) func row(_ i: Int) -> UnsafeMutablePointer<Element> { base + i * width }

    /// Makes room for `rows` rows in total, taking ownership of the memory.
    ///
    /// Growth is geometric: callers reserve one batch more than they hold, batch after batch, and
    /// an exact reservation would copy every row for every batch (512 MB a batch at 100,000 rows of
    /// 1,280 floats). A borrowed store that does not grow is copied at its own size.
    func reserve(_ rows: Int) {
        guard rows > capacity || !owned else { return }
        let newCapacity = rows > capacity ? max(rows, capacity * 3 / 2) : max(capacity, count)
        let fresh = Self.allocate(rows: newCapacity, width: width)
        fresh.update(from: base, count: count * width)
        if owned { UnsafeMutableRawPointer(base).deallocate() }
        base = fresh
        capacity = newCapacity
        owned = true
        mapping = nil
    }

    /// Appends a row and returns its index.
    @discardableResult
    func append(_ values: UnsafePointer<Element>) -> Int {
        if count == capacity || !owned { reserve(max(16, capacity * 3 / 2 + 1, count + 1)) }
        row(count).update(from: values, count: width)
        count += 1
        return count - 1
    }

    /// Grows by `n` rows whose contents the caller writes.
    func extend(by n: Int) {
        if count + n > capacity || !owned { reserve(max(count + n, capacity * 3 / 2)) }
        count += n
    }

    func set(_ i: Int, from values: UnsafePointer<Element>) {
        if !owned { reserve(capacity) }
        row(i).update(from: values, count: width)
    }

    /// Moves the last row into row `i` and drops the last row.
    func removeSwappingLast(_ i: Int) {
        if !owned { reserve(capacity) }
        if i != count - 1 { row(i).update(from: row(count - 1), count: width) }
        count -= 1
    }

    func removeAll() { count = 0 }

    /// Whether the rows are still read from a mapped file.
    var isBorrowed: Bool { !owned }

    /// Bytes held in memory (borrowed rows count as zero until copied).
    var residentBytes: Int { owned ? capacity * width * MemoryLayout<Element>.stride : 0 }

    var buffer: UnsafeBufferPointer<Element> { UnsafeBufferPointer(start: base, count: count * width) }
}
