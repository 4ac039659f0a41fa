import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// How images are fetched.
public struct FetchOptions: Sendable {
    /// Downloads at once.
    public var concurrency: Int = 8
    /// Attempts after the first, for 5xx answers and timeouts only.
    public var retries: Int = 2
    /// The first retry's delay; each further retry doubles it.
    public var backoff: Duration = .milliseconds(250)
    public var connectTimeout: Duration = .seconds(5)
    /// The longest wait for the next bytes of an answer.
    public var readTimeout: Duration = .seconds(15)
    /// Larger images are refused, whether downloaded or local.
    public var maxBytes: Int = 20 << 20
    /// Larger source files (a remote metadata.json, CSV, JSON Lines or seed text) are refused.
    public var maxSourceBytes: Int = 512 << 20
    /// Download again even when the cache has the URL.
    public var refresh = false
    /// Checks every address before connecting, for URLs that someone other than the operator gave
    /// (the server's clients); nil fetches from anywhere, as the operator's own `vsearch ingest` does.
    public var fetchGuard: FetchGuard?

    public init() {}
}

/// Image bytes and where they came from.
public struct FetchedImage: Sendable {
    public var bytes: [UInt8]
    /// Whether the bytes came from the download cache.
    public var cached: Bool
    public var isRemote: Bool
}

/// Fetches image bytes from local paths, file URLs and http(s) URLs, with a download cache.
///
/// Only 5xx answers and timeouts are retried: a 404 or a refused connection will not get better
/// by asking again, and retrying them would only slow a large ingest down.
public final class ImageFetcher: Sendable {
    public let options: FetchOptions
    public let cacheDirectory: String
    private let client: HTTPClient

    /// A fetcher whose download cache is the folder `cacheDirectory`; call `shutdown` when done.
    public init(options: FetchOptions, cacheDirectory: String) {
        self.options = options
        self.cacheDirectory = cacheDirectory
        var configuration = Self.clientConfiguration(options)
        configuration.redirectConfiguration = .follow(max: 5, allowCycles: false)
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    static func clientConfiguration(_ options: FetchOptions) -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(
            connect: .nanoseconds(Self.nanoseconds(options.connectTimeout)),
            read: .nanoseconds(Self.nanoseconds(options.readTimeout)))
        return configuration
    }

    public func shutdown() async { try? await client.shutdown() }

    /// Whether `url` is fetched over the network (http or https) rather than read from a file.
    public static func isRemote(_ url: String) -> Bool { url.hasPrefix("http://") || url.hasPrefix("https://") }

    /// Where the download cache in `cacheDirectory` keeps the bytes of `url`.
    public static func cachePath(for url: String, in cacheDirectory: String) -> String {
        cacheDirectory + "/" + ContentHash.hex(url)
    }

    /// The file a local item URL (a path or `file://`) names.
    public static func localPath(_ url: String) -> String {
        url.hasPrefix("file://") ? (URL(string: url)?.path ?? String(url.dropFirst(7))) : url
    }

    /// The bytes of an image: from a local path or file URL, from the download cache, or downloaded.
    public func fetch(_ url: String) async throws(FetchError) -> FetchedImage {
        if let fetchGuard = options.fetchGuard {
            // Checked before the cache too, so that an answer never depends on what the operator's
            // ingest happened to download from a private address.
            _ = try await fetchGuard.checkedAddress(of: url, givenAs: url)
        }
        guard Self.isRemote(url) else {
            return FetchedImage(bytes: try readLocal(url), cached: false, isRemote: false)
        }
        let cachePath = Self.cachePath(for: url, in: cacheDirectory)
        if !options.refresh, let data = FileManager.default.contents(atPath: cachePath) {
            return FetchedImage(bytes: [UInt8](data), cached: true, isRemote: true)
        }
        return FetchedImage(bytes: try await download(url, limit: options.maxBytes), cached: false, isRemote: true)
    }

    /// Downloads a source file (a catalogue listing): the same timeouts and retries as images, the source size
    /// limit, and no cache, so that a changed catalogue is always read as it is now.
    public func fetchSource(_ url: String) async throws(FetchError) -> [UInt8] {
        try await download(url, limit: options.maxSourceBytes)
    }

    /// Keeps downloaded bytes that proved to be an image.
    public func remember(_ bytes: [UInt8], for url: String) {
        let path = Self.cachePath(for: url, in: cacheDirectory)
        try? FileManager.default.createDirectory(atPath: cacheDirectory, withIntermediateDirectories: true)
        let temporary = path + ".tmp-\(UUID().uuidString)"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(bytes)) else { return }
        if rename(temporary, path) != 0 { try? FileManager.default.removeItem(atPath: temporary) }
    }

    private func readLocal(_ url: String) throws(FetchError) -> [UInt8] {
        let path = Self.localPath(url)
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil
        guard let size else { throw .failed(url: url, reason: "no such file") }
        guard size <= options.maxBytes else {
            throw .tooLarge(url: url, reason: "the file has \(size) bytes, more than the limit of \(options.maxBytes)")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .failed(url: url, reason: "cannot read the file")
        }
        return [UInt8](data)
    }

    private func download(_ url: String, limit: Int) async throws(FetchError) -> [UInt8] {
        var attempt = 0
        while true {
            switch await downloadOnce(url, limit: limit) {
            case .success(let bytes): return bytes
            case .failure(.permanent(let error)): throw error
            case .failure(.transient(let error)):
                guard attempt < options.retries else { throw error }
                let delay = options.backoff * (1 << attempt)
                attempt += 1
                try? await Task.sleep(for: delay)
            }
        }
    }

    private enum Attempt: Error {
        case transient(FetchError)
        case permanent(FetchError)
    }

    private func downloadOnce(_ url: String, limit: Int) async -> Result<[UInt8], Attempt> {
        do {
            let response: FetchResponse
            if let fetchGuard = options.fetchGuard {
                response = try await guardedGet(url, limit: limit, fetchGuard: fetchGuard)
            } else {
                response = try await Self.get(url, client: client, limit: limit, options: options)
            }
            guard response.status == 200 else {
                let error = FetchError.failed(url: url, reason: "HTTP \(response.status)")
                return .failure(response.status >= 500 ? .transient(error) : .permanent(error))
            }
            return .success(response.body)
        } catch let error as FetchError {
            return .failure(.permanent(error))
        } catch let error as HTTPClientError {
            let reason = String(describing: error)
            let timedOut = [HTTPClientError.readTimeout, .connectTimeout, .deadlineExceeded].contains(error)
            let failure = FetchError.failed(url: url, reason: timedOut ? "timed out (\(reason))" : reason)
            return .failure(timedOut ? .transient(failure) : .permanent(failure))
        } catch {
            return .failure(.permanent(.failed(url: url, reason: String(describing: error))))
        }
    }

    /// One GET through `client`, the body read up to `limit` bytes.
    ///
    /// The body is gathered on the connection's event loop as it arrives, not by a task of the
    /// caller's: AsyncHTTPClient stops reading while a body stream's consumer waits for a thread,
    /// and its read timeout does not stop with it, so a download whose task waited behind
    /// computing work (an ingest's decoding and featurizing) timed out on a server that had
    /// answered. Gathered here, the read timeout measures the server alone.
    static func get(_ url: String, client: HTTPClient, limit: Int, options: FetchOptions) async throws
        -> FetchResponse
    {
        // A whole-request deadline on top of the read timeout, so a server dribbling bytes
        // cannot hold a download slot for ever.
        let deadline = NIODeadline.now() + .nanoseconds(nanoseconds(options.readTimeout * 4 + options.connectTimeout))
        let request = try HTTPClient.Request(url: url)
        let collector = BodyCollector(url: url, limit: limit)
        return try await client.execute(request: request, delegate: collector, deadline: deadline).futureResult.get()
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
