import Foundation
import ImageFetching

extension CatalogueStore {
    /// The cache key under which an item added with an uploaded image and no URL keeps that image.
    ///
    /// It is the picture's content hash, not the item's id: two uploads racing to create one id
    /// each cache their own picture, and the one whose write wins is the one whose stored hash
    /// names it, so an item never shows the loser's picture.
    public static func uploadedImageKey(contentHash: String) -> String { "vsearch-upload:" + contentHash }

    /// Where stores written before uploads were keyed by content kept them: by the item's id.
    static func legacyUploadedImageKey(id: String) -> String { "vsearch-upload:" + id }

    /// The bytes of an item's image: from the download cache for http(s) and uploaded images,
    /// from the file itself for local paths; nil when they are gone or larger than `maxBytes`.
    public func imageBytes(for item: CatalogueItem, maxBytes: Int) -> [UInt8]? {
        let path: String
        if item.url.isEmpty {
            let byContent = item.contentHash.map {
                ImageFetcher.cachePath(for: Self.uploadedImageKey(contentHash: $0), in: cacheDirectory)
            }
            let byID = ImageFetcher.cachePath(for: Self.legacyUploadedImageKey(id: item.id), in: cacheDirectory)
            path = byContent.flatMap { FileManager.default.fileExists(atPath: $0) ? $0 : nil } ?? byID
        } else if ImageFetcher.isRemote(item.url) {
            path = ImageFetcher.cachePath(for: item.url, in: cacheDirectory)
        } else {
            path = ImageFetcher.localPath(item.url)
        }
        return Self.fileBytes(atPath: path, maxBytes: maxBytes)
    }

    /// The bytes of a file; nil when it is gone or larger than `maxBytes`.
    public static func fileBytes(atPath path: String, maxBytes: Int) -> [UInt8]? {
        guard let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? Int, size <= maxBytes
        else { return nil }
        return FileManager.default.contents(atPath: path).map { [UInt8]($0) }
    }

    /// Keeps image bytes in the download cache under `url` (an http(s) URL or an upload key),
    /// written to a temporary file and renamed, so a reader never sees half an image.
    public func cacheImage(_ bytes: [UInt8], forURL url: String) throws(CatalogueError) {
        try Self.cacheImage(bytes, forURL: url, in: cacheDirectory)
    }

    /// Keeps image bytes under `url` in the download cache `cacheDirectory`, as ``cacheImage(_:forURL:)``.
    public static func cacheImage(_ bytes: [UInt8], forURL url: String, in cacheDirectory: String)
        throws(CatalogueError)
    {
        do {
            try FileManager.default.createDirectory(atPath: cacheDirectory, withIntermediateDirectories: true)
            let path = cacheDirectory + "/" + ContentHash.hex(url)
            try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw .store(
                path: cacheDirectory, reason: "cannot cache the image of \(url): \(error.localizedDescription)")
        }
    }

    /// The SHA-256 of some bytes as hex, the content hash the store keeps for each item.
    public static func contentHash(_ bytes: [UInt8]) -> String { ContentHash.hex(bytes) }
}
