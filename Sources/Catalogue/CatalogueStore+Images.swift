import Foundation
import ImageDecoding

extension CatalogueStore {
    /// The URL under which an item added with an uploaded image and no URL keeps that image.
    public static func uploadedImageKey(id: String) -> String { "vsearch-upload:" + id }

    /// The bytes of an item's image: from the download cache for http(s) and uploaded images,
    /// from the file itself for local paths; nil when they are gone or larger than `maxBytes`.
    public func imageBytes(for item: CatalogueItem, maxBytes: Int) -> [UInt8]? {
        let path: String
        if item.url.isEmpty {
            path = cacheDirectory + "/" + ContentHash.hex(Self.uploadedImageKey(id: item.id))
        } else if ImageFetcher.isRemote(item.url) {
            path = cacheDirectory + "/" + ContentHash.hex(item.url)
        } else if item.url.hasPrefix("file://") {
            path = URL(string: item.url)?.path ?? String(item.url.dropFirst(7))
        } else {
            path = item.url
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

/// Downloads images over http(s) with the ingest's limits, timeouts and retries, for callers
/// outside an ingest (the server's search by URL).
///
/// Local paths and file URLs are refused: a URL that came over the network must never read
/// the server's own files. Each download has its own HTTP client, shut down when it ends, so a
/// downloader needs no shutdown of its own.
public struct ImageDownloader: Sendable {
    public let options: FetchOptions
    let cacheDirectory: String

    public init(options: FetchOptions, cacheDirectory: String) {
        self.options = options
        self.cacheDirectory = cacheDirectory
    }

    /// The bytes at `url`, which must be http(s).
    public func download(_ url: String) async throws(CatalogueError) -> [UInt8] {
        guard ImageFetcher.isRemote(url), URL(string: url)?.host != nil else {
            throw .fetch(url: url, reason: "only http:// and https:// URLs can be fetched")
        }
        let fetcher = ImageFetcher(options: options, cacheDirectory: cacheDirectory)
        let result: Result<[UInt8], CatalogueError>
        do {
            result = .success(try await fetcher.fetch(url).bytes)
        } catch {
            result = .failure(error)
        }
        await fetcher.shutdown()
        return try result.get()
    }
}

/// JPEG files from decoded images, through libjpeg-turbo.
public enum JPEGFile {
    /// The JPEG bytes of `image` at `quality` (1–100); `name` appears in errors.
    public static func encode(_ image: Image, quality: Int, name: String) throws(CatalogueError) -> [UInt8] {
        try JPEGEncoder.encode(image, quality: quality, name: name)
    }
}
