#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A whole file mapped read-only into memory.
///
/// Pages are read from disk on first touch, so opening a large index costs
/// only what is actually looked at.
// @unchecked: an mmap'ed read-only region, unmapped only in deinit; never written.
final class MappedFile: @unchecked Sendable {
    let path: String
    let bytes: UnsafeRawBufferPointer

    init(path: String) throws(IndexError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(path: path, operation: "open", errno: errno) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .io(path: path, operation: "stat", errno: errno) }
        let size = Int(info.st_size)
        guard size > 0 else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let address, address != MAP_FAILED else {
            throw .io(path: path, operation: "mmap", errno: errno)
        }
        bytes = UnsafeRawBufferPointer(start: address, count: size)
    }

    deinit {
        if let start = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: start), bytes.count) }
    }

    /// Tells the kernel that `region` is read at random: no read-ahead and no mapping of neighbouring
    /// pages on a fault, so touching a few re-ranked rows keeps only those rows resident.
    func adviseRandomAccess(_ region: UnsafeRawBufferPointer) {
        guard let start = region.baseAddress, region.count > 0 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let first = Int(bitPattern: start) / page * page
        let end = Int(bitPattern: start) + region.count
        _ = madvise(UnsafeMutableRawPointer(bitPattern: first), end - first, MADV_RANDOM)
    }

    /// The bytes `offset..<offset+length`, or an error if they are not all inside the file.
    func slice(offset: UInt64, length: UInt64, what: String) throws(IndexError) -> UnsafeRawBufferPointer {
        let (end, overflow) = offset.addingReportingOverflow(length)
        guard !overflow, end <= UInt64(bytes.count) else {
            throw .corrupt(
                path: path, reason: "\(what) (offset \(offset), \(length) bytes) runs past the end of the file")
        }
        guard let start = bytes.baseAddress else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: start + Int(offset), count: Int(length))
    }
}

/// Reads single float32 rows of a file with `pread`.
///
/// Re-ranking touches a few rows per query; reading them through the mapping would let the kernel map
/// the pages around each one too ("fault-around"), so the whole float32 section would end up resident.
final class RowFileReader: Sendable {
    private let fd: Int32
    private let offset: Int
    private let rowBytes: Int

    init?(path: String, offset: Int, dimension: Int) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        self.fd = fd
        self.offset = offset
        self.rowBytes = dimension * 4
    }

    deinit { close(fd) }

    /// Reads row `row` into `buffer`; false if the read came up short.
    func read(_ row: Int, into buffer: UnsafeMutablePointer<Float>) -> Bool {
        pread(fd, buffer, rowBytes, off_t(offset + row * rowBytes)) == rowBytes
    }
}

/// A fast 64-bit checksum of a byte range.
///
/// Four independent multiply–rotate lanes over 32-byte blocks, so it runs at
/// memory speed; it detects flipped bits and truncation, it is not a
/// cryptographic hash.
enum Checksum {
    private static let prime1: UInt64 = 0x9E37_79B1_85EB_CA87
    private static let prime2: UInt64 = 0xC2B2_AE3D_27D4_EB4F

    static func of(_ buffer: UnsafeRawBufferPointer) -> UInt64 {
        var lanes: (UInt64, UInt64, UInt64, UInt64) = (prime1, prime2, ~prime1, ~prime2)
        let n = buffer.count
        guard let base = buffer.baseAddress else { return mix(UInt64(0) ^ prime1) }
        var i = 0
        @inline(__always) func round(_ h: UInt64, _ w: UInt64) -> UInt64 {
            let x = h &+ w &* prime2
            return ((x << 31) | (x >> 33)) &* prime1
        }
        while i + 32 <= n {
            lanes.0 = round(lanes.0, base.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            lanes.1 = round(lanes.1, base.loadUnaligned(fromByteOffset: i + 8, as: UInt64.self))
            lanes.2 = round(lanes.2, base.loadUnaligned(fromByteOffset: i + 16, as: UInt64.self))
            lanes.3 = round(lanes.3, base.loadUnaligned(fromByteOffset: i + 24, as: UInt64.self))
            i += 32
        }
        var h = lanes.0 ^ ((lanes.1 << 7) | (lanes.1 >> 57)) ^ ((lanes.2 << 12) | (lanes.2 >> 52))
        h ^= (lanes.3 << 18) | (lanes.3 >> 46)
        while i < n {
            h = round(h, UInt64(base.load(fromByteOffset: i, as: UInt8.self)))
            i += 1
        }
        return mix(h ^ UInt64(n))
    }

    private static func mix(_ value: UInt64) -> UInt64 {
        var h = value
        h ^= h >> 33
        h = h &* prime2
        h ^= h >> 29
        h = h &* prime1
        h ^= h >> 32
        return h
    }
}
