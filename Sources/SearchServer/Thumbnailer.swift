import Catalogue
import Foundation
import ImageDecoding
import ImageFetching
import ImageOps
import VSearchCore

/// Small JPEGs of catalogue images and query pictures, resized here and kept in memory.
///
/// Thumbnails are made from the catalogue's images (uploads, the download cache, or the item's
/// local file) the first time they are asked for, and kept, least recently used first out, within a byte budget. The key
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
    /// The thumbnail of `item`, whose longest side is at most `size`; `fetch` gets an image the
    /// catalogue does not have here (nil: none is fetched).
    func thumbnail(
        of item: CatalogueItem, size: Int, catalogue: any CatalogueBackend,
        fetch: (@Sendable (String) async -> [UInt8]?)? = nil
    ) async throws(APIError) -> [UInt8] {
        let key = "\(item.key)/\(item.contentHash ?? item.url)/\(size)"
        if let hit = lookup(key) { return hit }
        var found = await catalogue.imageBytes(for: item, maxBytes: decoder.options.maxFileBytes)
        if found == nil, let fetch, ImageFetcher.isRemote(item.url) { found = await fetch(item.url) }
        guard let bytes = found else {
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
            let small = ImageResize.fit(image, longestSide: longestSide)
            return try JPEGEncoder.encode(small, quality: quality, name: name)
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
