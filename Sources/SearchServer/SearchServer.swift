import Catalogue
import Featurizer
import Foundation
import Hummingbird
import ImageFetching
import Logging
import ServiceLifecycle

/// The vsearch HTTP server: the search API, the catalogue API, the live match stream, the
/// operational endpoints and the web UI.
///
/// ```swift
/// let server = try SearchServer(configuration: configuration, storeDirectory: "vsearch-data", featurizer: featurizer)
/// let app = server.makeApplication()
/// try await ServiceGroup(configuration: .init(services: [app] + server.services, ...)).run()
/// ```
public final class SearchServer: Sendable {
    public let configuration: ServerConfiguration
    /// Where match events are published; the device link publishes its events here too.
    public let hub: MatchHub
    let storeAccess: StoreAccess
    let featurizer: Featurizer
    let batcher: FeatureBatcher
    let thumbnails: Thumbnailer
    let metrics: ServerMetrics
    let downloader: ImageDownloader
    let staticFiles: StaticFiles?

    /// Opens the store in `storeDirectory` for writing, or for reading when an ingest is writing it.
    public convenience init(
        configuration: ServerConfiguration, storeDirectory: String, featurizer: Featurizer
    ) throws(CatalogueError) {
        self.init(
            configuration: configuration, storeAccess: try StoreAccess.open(directory: storeDirectory),
            featurizer: featurizer)
    }

    init(configuration: ServerConfiguration, storeAccess: StoreAccess, featurizer: Featurizer) {
        self.configuration = configuration
        self.storeAccess = storeAccess
        self.featurizer = featurizer
        let metrics = ServerMetrics()
        self.metrics = metrics
        batcher = FeatureBatcher(
            featurizer: featurizer, window: configuration.batchWindow, maxBatch: configuration.maxBatch,
            onBatch: { size, seconds in metrics.batch(size: size, seconds: seconds) })
        thumbnails = Thumbnailer(decoding: featurizer.options.decoding)
        downloader = ImageDownloader(options: configuration.fetch, cacheDirectory: storeAccess.store.cacheDirectory)
        hub = MatchHub(
            capacity: configuration.recentEvents, subscriberBuffer: configuration.subscriberBuffer,
            archive: StoreEventArchive(access: storeAccess),
            onPublish: { event, subscribers in
                metrics.matchEvent(source: event.source.rawValue, subscribers: subscribers)
            }
        )
        staticFiles = (configuration.webRoot ?? StaticFiles.bundledRoot).map(StaticFiles.init(root:))
    }

    /// Whether the server can change the catalogue (false while another process writes it).
    public var isWritable: Bool { storeAccess.isWritable }

    /// The router with every route and middleware.
    public func makeRouter() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: MetricsMiddleware(metrics: metrics))
        router.add(middleware: CORSMiddleware(policy: CORSPolicy(allowedOrigins: configuration.corsOrigins)))
        router.add(middleware: JSONErrorMiddleware())
        addRoutes(to: RouteRecorder(router: router))
        return router
    }

    /// Every route as (method, path), paths in OpenAPI form (`{id}`).
    public var routes: [(method: String, path: String)] {
        let recorder = RouteRecorder(router: Router(context: BasicRequestContext.self))
        addRoutes(to: recorder)
        return recorder.routes.map { route in
            let path = route.path.split(separator: "/", omittingEmptySubsequences: false).map { segment in
                segment.hasPrefix(":") ? "{\(segment.dropFirst())}" : segment == "**" ? "{path}" : String(segment)
            }.joined(separator: "/")
            return (route.method, path)
        }
    }

    private func addRoutes(to routes: RouteRecorder) {
        addSearchRoutes(to: routes)
        addItemRoutes(to: routes)
        addMatchRoutes(to: routes)
        addOperationRoutes(to: routes)
    }

    /// The application, listening where the configuration says, with the server's background
    /// services (index refresh, event archiving) attached.
    public func makeApplication(logger: Logger = Logger(label: "vsearch.serve")) -> some ApplicationProtocol {
        Application(
            router: makeRouter(),
            configuration: .init(
                address: .hostname(configuration.host, port: configuration.port), serverName: "vsearch"),
            services: [BackgroundService(server: self)],
            logger: logger)
    }

    /// Finishes background work: archives unsaved events and ends live streams.
    public func shutdown() async {
        await hub.flush()
        await hub.closeAll()
    }
}

/// Refreshes a read-only store and archives match events while the server runs; on graceful
/// shutdown it saves the last events and closes live streams so the HTTP server can drain.
struct BackgroundService: Service {
    let server: SearchServer

    func run() async throws {
        let interval = min(server.configuration.refreshInterval, .seconds(1))
        await cancelWhenGracefulShutdown {
            var elapsed: Duration = .zero
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                elapsed += interval
                await server.hub.flush()
                if elapsed >= server.configuration.refreshInterval {
                    elapsed = .zero
                    server.storeAccess.refreshIfChanged()
                }
            }
        }
        await server.shutdown()
    }
}

/// The store as the hub's archive; a read-only store keeps nothing new.
struct StoreEventArchive: MatchEventArchive {
    let access: StoreAccess

    func save(_ events: [StoredMatchEvent], keepingLast limit: Int) throws {
        let store = access.store
        guard store.mode == .write else { return }
        try store.saveMatchEvents(events, keepingLast: limit)
    }

    func recent(limit: Int) throws -> [StoredMatchEvent] { try access.store.recentMatchEvents(limit: limit) }
}
