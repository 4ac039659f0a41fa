import Foundation
import ImageFetching

extension CatalogueStore {
    /// The URL under which an item added with an uploaded image and no URL keeps that image.
    public static func uploadedImageKey(id: String) -> String { "vsearch-upload:" + id }

    /// The bytes of an item's image: from the download cache for http(s) and uploaded images,
    /// from the file itself for local paths; nil when they are gone or larger than `maxBytes`.
    public func imageBytes(for item: CatalogueItem, maxBytes: Int) -> [UInt8]? {
        let path: String
        if item.url.isEmpty {
            path = ImageFetcher.cachePath(for: Self.uploadedImageKey(id: item.id), in: cacheDirectory)
        } else if ImageFetcher.isRemote(item.url) {
            path = ImageFetcher.cachePath(for: item.url, in: cacheDirectory)
        } else {
            path = ImageFetcher.localPath(item.url)
        }
        guard let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? Int, size <= maxBytes
        else { return nil }
        return FileManager.default.contents(atPath: path).map { [UInt8]($0) }
    }

    /// Keeps image bytes in the download cache under `url` (an http(s) URL or an upload key),
    /// written to a temporary file and renamed, so a reader never sees half an image.
    public func cacheImage(_ bytes: [UInt8], forURL url: String) throws(CatalogueError) {
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
