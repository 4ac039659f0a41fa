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
/// let catalogue = try await CatalogueOpener.openForServing("vsearch-data")   // or a postgres:// URL
/// let server = SearchServer(configuration: configuration, catalogue: catalogue, featurizer: featurizer)
/// let app = server.makeApplication()
/// try await ServiceGroup(configuration: .init(services: [app] + server.services, ...)).run()
/// ```
///
/// The server works against any `CatalogueBackend`. An embedded store is served as one writer
/// (read-only while an ingest writes it); a catalogue with a `MatchEventChannel` (PostgreSQL) is
/// served as one of any number of stateless replicas, which all write it and share their match events.
public final class SearchServer: Sendable {
    public let configuration: ServerConfiguration
    /// Where match events are published; the device link publishes its events here too.
    public let hub: MatchHub
    let catalogue: any ServerCatalogue
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
            configuration: configuration, access: try StoreAccess.open(directory: storeDirectory),
            featurizer: featurizer)
    }

    /// Serves `catalogue`; the caller closes it once the server has stopped.
    ///
    /// An embedded store opened for reading (another process writes it) is served read-only and
    /// reopened for writing once that process ends; see `CatalogueOpener`'s `openForServing`.
    public convenience init(configuration: ServerConfiguration, catalogue: any CatalogueBackend, featurizer: Featurizer)
    {
        // The one place that tells the backends apart: only the embedded store has a writer lock
        // and an index held in memory, which `StoreAccess` reopens as they change.
        let access: any ServerCatalogue
        if let store = catalogue as? CatalogueStore {
            access = StoreAccess(store)
        } else {
            access = SharedCatalogue(catalogue)
        }
        self.init(configuration: configuration, access: access, featurizer: featurizer)
    }

    init(configuration: ServerConfiguration, access: any ServerCatalogue, featurizer: Featurizer) {
        self.configuration = configuration
        catalogue = access
        self.featurizer = featurizer
        let metrics = ServerMetrics()
        self.metrics = metrics
        batcher = FeatureBatcher(
            featurizer: featurizer, window: configuration.batchWindow, maxBatch: configuration.maxBatch,
            onBatch: { size, seconds in metrics.batch(size: size, seconds: seconds) })
        thumbnails = Thumbnailer(decoding: featurizer.options.decoding)
        downloader = ImageDownloader(options: configuration.fetch, cacheDirectory: access.reader.cacheDirectory)
        hub = MatchHub(
            capacity: configuration.recentEvents, subscriberBuffer: configuration.subscriberBuffer,
            archive: CatalogueEventArchive(catalogue: access), channel: access.reader.matchEventChannel,
            onPublish: { event, subscribers in
                metrics.matchEvent(source: event.source.rawValue, subscribers: subscribers)
            }
        )
        staticFiles = (configuration.webRoot ?? StaticFiles.bundledRoot).map(StaticFiles.init(root:))
    }

    /// The kind of catalogue served: `embedded` or `postgresql`.
    public var backendKind: String { catalogue.reader.kind }

    /// Whether the server can change the catalogue (false while another process writes it).
    public var isWritable: Bool { catalogue.isWritable }

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

/// Refreshes a read-only store, archives match events and listens for other replicas' events
/// while the server runs; on graceful shutdown it saves the last events and closes live streams
/// so the HTTP server can drain.
struct BackgroundService: Service {
    let server: SearchServer

    func run() async throws {
        let interval = min(server.configuration.refreshInterval, .seconds(1))
        let hub = server.hub
        let listening = server.catalogue.reader.matchEventChannel.map { channel in
            Task {
                await channel.listenForMatchEvents(
                    connected: { await hub.catchUp() }, received: { await hub.receive($0) })
            }
        }
        await cancelWhenGracefulShutdown {
            var elapsed: Duration = .zero
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                elapsed += interval
                await server.hub.flush()
                if elapsed >= server.configuration.refreshInterval {
                    elapsed = .zero
                    await server.catalogue.refreshIfChanged()
                }
            }
        }
        listening?.cancel()
        await listening?.value
        await server.shutdown()
    }
}

/// The catalogue as the hub's archive; a read-only store keeps nothing new.
struct CatalogueEventArchive: MatchEventArchive {
    let catalogue: any ServerCatalogue

    func save(_ events: [StoredMatchEvent], keepingLast limit: Int) async throws {
        guard catalogue.isWritable else { return }
        try await catalogue.reader.saveMatchEvents(events, keepingLast: limit)
    }

    func recent(limit: Int) async throws -> [StoredMatchEvent] {
        try await catalogue.reader.recentMatchEvents(limit: limit)
    }
}
