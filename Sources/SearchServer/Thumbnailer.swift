import Catalogue
import Foundation
import ImageDecoding
import VSearchCore

/// Small JPEGs of catalogue images and query pictures, resized here and kept in memory.
///
/// Thumbnails are made from the store's image cache (or the item's local file) the first time
/// they are asked for, and kept, least recently used first out, within a byte budget. The key
/// includes the image's content hash, so a changed image never shows an old thumbnail.
final class Thumbnailer: Sendable {
    /// The kept thumbnails, a byte count and a use counter for least-recently-used eviction.
    private struct Cache {
        var entries: [String: (bytes: [UInt8], used: UInt64)] = [:]
        var bytes = 0
        var clock: UInt64 = 0
    }

    static let sizes = 64...1024
    private let decoder: ImageDecoder
    private let budget: Int
    private let cache = Locked(Cache())

    init(decoding: ImageDecodingOptions, budgetBytes: Int = 64 << 20) {
        decoder = ImageDecoder(options: decoding)
        budget = budgetBytes
    }

    /// The thumbnail of `item`, whose longest side is at most `size`.
    func thumbnail(of item: CatalogueItem, size: Int, store: CatalogueStore) throws(APIError) -> [UInt8] {
        let key = "\(item.key)/\(item.contentHash ?? item.url)/\(size)"
        if let hit = lookup(key) { return hit }
        guard let bytes = store.imageBytes(for: item, maxBytes: decoder.options.maxFileBytes) else {
            throw .notFound("item '\(item.id)': its image is not in the store's cache")
        }
        let image: Image
        do {
            image = try decoder.decode(bytes: bytes, name: "item '\(item.id)'", targetShortSide: size)
        } catch {
            throw APIError(.unprocessableContent, "bad_image", error.description)
        }
        let jpeg = try Self.jpeg(image, longestSide: size, name: "item '\(item.id)'")
        remember(jpeg, key: key)
        return jpeg
    }

    /// `image` shrunk to fit `longestSide`, as JPEG.
    static func jpeg(_ image: Image, longestSide: Int, quality: Int = 82, name: String) throws(APIError) -> [UInt8] {
        do {
            return try JPEGFile.encode(ImageResize.fit(image, longestSide: longestSide), quality: quality, name: name)
        } catch {
            throw APIError(.internalServerError, "encode_failed", error.description)
        }
    }

    private func lookup(_ key: String) -> [UInt8]? {
        cache.withLock { cache in
            guard let entry = cache.entries[key] else { return nil }
            cache.clock += 1
            cache.entries[key] = (entry.bytes, cache.clock)
            return entry.bytes
        }
    }

    private func remember(_ bytes: [UInt8], key: String) {
        cache.withLock { cache in
            cache.clock += 1
            if let old = cache.entries.updateValue((bytes, cache.clock), forKey: key) {
                cache.bytes -= old.bytes.count
            }
            cache.bytes += bytes.count
            while cache.bytes > budget, let oldest = cache.entries.min(by: { $0.value.used < $1.value.used }) {
                cache.bytes -= oldest.value.bytes.count
                cache.entries[oldest.key] = nil
            }
        }
    }
}

/// Area-averaging downscale: each output pixel is the mean of the source pixels it covers,
/// which is what a thumbnail wants (no aliasing, no ringing).
enum ImageResize {
    static func fit(_ image: Image, longestSide: Int) -> Image {
        let longest = max(image.width, image.height)
        guard longest > longestSide, longestSide > 0 else { return image }
        let scale = Double(longestSide) / Double(longest)
        let width = max(1, Int((Double(image.width) * scale).rounded()))
        let height = max(1, Int((Double(image.height) * scale).rounded()))
        let columns = spans(from: image.width, to: width)
        let rows = spans(from: image.height, to: height)
        var output = [UInt8](repeating: 0, count: width * height * 3)
        var sums = [UInt32](repeating: 0, count: width * 3)
        image.pixels.withUnsafeBufferPointer { source in
            for (y, rowSpan) in rows.enumerated() {
                for i in sums.indices { sums[i] = 0 }
                for sourceRow in rowSpan {
                    let base = sourceRow * image.width * 3
                    for (x, columnSpan) in columns.enumerated() {
                        var r: UInt32 = 0
                        var g: UInt32 = 0
                        var b: UInt32 = 0
                        for sourceColumn in columnSpan {
                            let i = base + sourceColumn * 3
                            r += UInt32(source[i])
                            g += UInt32(source[i + 1])
                            b += UInt32(source[i + 2])
                        }
                        sums[x * 3] += r
                        sums[x * 3 + 1] += g
                        sums[x * 3 + 2] += b
                    }
                }
                for (x, columnSpan) in columns.enumerated() {
                    let area = UInt32(columnSpan.count * rowSpan.count)
                    let o = (y * width + x) * 3
                    for c in 0..<3 { output[o + c] = UInt8((sums[x * 3 + c] + area / 2) / area) }
                }
            }
        }
        return Image(width: width, height: height, pixels: output)
    }

    /// The source indices each of `count` outputs covers; never empty.
    private static func spans(from source: Int, to count: Int) -> [Range<Int>] {
        (0..<count).map { i in
            let start = i * source / count
            let end = max(start + 1, (i + 1) * source / count)
            return start..<min(end, source)
        }
    }
}
