import Foundation

/// Downloads images over http(s) with the ingest's limits, timeouts and retries, for callers
/// outside an ingest (the server's search by URL).
///
/// Local paths and file URLs are refused: a URL that came over the network must never read
/// the server's own files. Each download has its own HTTP client, shut down when it ends, so a
/// downloader needs no shutdown of its own.
public struct ImageDownloader: Sendable {
    public let options: FetchOptions
    public let cacheDirectory: String

    public init(options: FetchOptions, cacheDirectory: String) {
        self.options = options
        self.cacheDirectory = cacheDirectory
    }

    /// The bytes at `url`, which must be http(s).
    public func download(_ url: String) async throws(FetchError) -> [UInt8] {
        guard ImageFetcher.isRemote(url), URL(string: url)?.host != nil else {
            throw .failed(url: url, reason: "only http:// and https:// URLs can be fetched")
        }
        let fetcher = ImageFetcher(options: options, cacheDirectory: cacheDirectory)
        let result: Result<[UInt8], FetchError>
        do {
            result = .success(try await fetcher.fetch(url).bytes)
        } catch {
            result = .failure(error)
        }
        await fetcher.shutdown()
        return try result.get()
    }
}
