import Catalogue
import Foundation
import ImageFetching

/// How a ``SearchServer`` runs. The defaults are safe for a laptop: loopback only, writes off.
public struct ServerConfiguration: Sendable {
    /// The address to listen on; loopback unless told otherwise.
    public var host = "127.0.0.1"
    public var port = 8080
    /// Where browsers reach the server (`https://search.example.com`), for the absolute picture URLs of
    /// `POST /matches`; nil takes them from each request's `X-Forwarded-Proto`/`X-Forwarded-Host`/`Host`.
    public var publicURL: String?
    /// Origins whose pages may call the API (`*` for any); none by default.
    public var corsOrigins: [String] = []
    /// The key write requests must present; nil refuses every write.
    public var apiKey: String?
    /// Larger request bodies are refused with 413.
    public var maxBodyBytes = 20 << 20
    /// Serve the web UI from this folder instead of the built-in files (for UI development).
    public var webRoot: String?
    /// How long the first image of a featurizer batch waits for others that requests are still decoding (a lone
    /// image does not wait).
    public var batchWindow: Duration = .milliseconds(2)
    /// The most images in one featurizer call; 1 turns batching off.
    public var maxBatch = 8
    /// Match events kept (in memory and in the store).
    public var recentEvents = 100
    /// Messages a live-stream client may fall behind before it is disconnected.
    public var subscriberBuffer = 64
    /// How often an idle live stream gets a keep-alive comment.
    public var keepAliveInterval: Duration = .seconds(15)
    /// How often a read-only store checks for another process's new items.
    public var refreshInterval: Duration = .seconds(2)
    /// Limits for images fetched by URL. The URLs come from clients, so the fetch is guarded: only
    /// public addresses unless `fetch.fetchGuard.policy` allows more.
    public var fetch: FetchOptions = {
        var options = FetchOptions()
        options.retries = 0
        options.readTimeout = .seconds(10)
        options.fetchGuard = FetchGuard()
        return options
    }()

    public init() {}

    /// `text` as a public URL the server can use (http or https, a host, no query; the trailing
    /// slash dropped), or nil when it is not one.
    public static func normalizedPublicURL(_ text: String) -> String? { PublicURL.normalized(text) }
}
