import ArgumentParser
import Catalogue
import CataloguePostgres
import Featurizer
import Foundation
import ImageFetching
import Logging
import SearchServer
import ServiceLifecycle
import VSearchCore

/// `vsearch serve`: the HTTP API, the live match stream and the web UI.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the search API, the live match stream and the web UI over HTTP.",
        discussion: """
            Listens on 127.0.0.1:8080 by default. Writes (item create, update, delete) are refused unless an API key is
            configured with --api-key-file or $VSEARCH_API_KEY. SIGINT or SIGTERM stops the server gracefully.

            With --store postgres://USER@HOST:PORT/DB, any number of servers serve one catalogue as replicas: each
            writes and searches the database directly, and match events from every replica reach the live stream and
            /api/v1/matches/latest of all of them (through PostgreSQL's LISTEN/NOTIFY). Images fetched from URLs are
            cached on each machine; uploaded images are kept in the database.
            """
    )

    @OptionGroup var storeOptions: StoreOptions

    @Option(
        name: .long,
        help: "Model directory (model.onnx + model.json). Default: $VSEARCH_MODEL, then the prepared default model.")
    var model: String?

    @Option(name: .long, help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(name: .long, help: "Port to listen on.")
    var port = 8080

    @Option(name: .customLong("cors-origin"), help: "An origin whose pages may call the API, or * (repeatable).")
    var corsOrigins: [String] = []

    @Option(
        name: .customLong("public-url"),
        help: """
            The server's address as browsers reach it (https://search.example.com), for the absolute picture URLs \
            of POST /matches. Default: each request's X-Forwarded-Proto and X-Forwarded-Host, then its Host.
            """)
    var publicURL: String?

    @Option(name: .long, help: "A file holding the API key that write requests must present.")
    var apiKeyFile: String?

    @Option(name: .long, help: "Largest request body, in MiB.")
    var maxBodyMb = 20

    @Option(name: .long, help: "Refuse images with more pixels than this (decompression-bomb guard).")
    var maxPixels = 50_000_000

    @Option(name: .long, help: "Serve the web UI from this folder instead of the built-in files.")
    var webRoot: String?

    @Option(
        name: .long, help: "How long the first image of a featurizer batch waits for others still being decoded, in ms."
    )
    var batchWindowMs = 2.0

    // Batches of 8 gave 1.4× the uploads per second of single images on 2 cores (scripts/bench/serve.py);
    // a lone request goes alone, at once.
    @Option(name: .long, help: "Most images in one featurizer call (concurrent searches are batched up to this).")
    var maxBatch = 8

    @Option(name: .long, help: "Threads for the network (default: all cores).")
    var threads: Int?

    @Option(
        name: .customLong("allow-fetch-from"),
        help: """
            Let clients' image URLs ({"url"} searches, items) reach loopback, private, link-local, or a CIDR block \
            such as 10.1.0.0/16 (repeatable). Without it the server fetches only public addresses.
            """)
    var allowFetchFrom: [String] = []

    @OptionGroup var device: DeviceSubscriptionOptions

    func validate() throws {
        guard (1...65535).contains(port) else { throw ValidationError("--port must be 1…65535") }
        guard maxBodyMb >= 1 else { throw ValidationError("--max-body-mb must be at least 1") }
        guard maxPixels >= 1 else { throw ValidationError("--max-pixels must be at least 1") }
        guard (1...64).contains(maxBatch) else { throw ValidationError("--max-batch must be 1…64") }
        for name in allowFetchFrom where FetchAddressPolicy.blocks(named: name) == nil {
            throw ValidationError(
                "--allow-fetch-from \(name): give loopback, private, link-local, or a CIDR block such as 10.1.0.0/16")
        }
        if let publicURL, ServerConfiguration.normalizedPublicURL(publicURL) == nil {
            throw ValidationError("--public-url \(publicURL): give an http:// or https:// URL with a host and no query")
        }
        guard batchWindowMs >= 0, batchWindowMs <= 1000 else {
            throw ValidationError("--batch-window-ms must be 0…1000")
        }
    }

    func run() async throws {
        let location = storeOptions.directory
        var configuration = ServerConfiguration()
        configuration.host = host
        configuration.port = port
        configuration.corsOrigins = corsOrigins
        configuration.publicURL = publicURL
        configuration.apiKey = try apiKey()
        configuration.maxBodyBytes = maxBodyMb << 20
        configuration.webRoot = webRoot
        configuration.batchWindow = .microseconds(Int64(batchWindowMs * 1000))
        configuration.maxBatch = maxBatch
        configuration.fetch.fetchGuard?.policy.allowed = allowFetchFrom.flatMap {
            FetchAddressPolicy.blocks(named: $0) ?? []
        }

        var options = Featurizer.Options(threads: threads, maxBatch: maxBatch)
        options.decoding.maxPixels = maxPixels
        let featurizer = try Featurizer(model: ModelOptions.directory(model), options: options)
        var logger = Logger(label: "vsearch.serve")
        logger.logLevel = .info
        let catalogue = try await CatalogueOpener.openForServing(location, logger: logger)
        do {
            try await serve(catalogue, configuration: configuration, featurizer: featurizer, logger: logger)
        } catch {
            await catalogue.close()
            throw error
        }
        await catalogue.close()
    }

    private func serve(
        _ catalogue: any CatalogueBackend, configuration: ServerConfiguration, featurizer: Featurizer, logger: Logger
    ) async throws {
        let server = SearchServer(configuration: configuration, catalogue: catalogue, featurizer: featurizer)
        if !server.isWritable {
            logger.warning("another process is writing \(catalogue.location): serving it read-only")
        }
        if configuration.apiKey == nil {
            logger.info("no API key configured: item create, update and delete are refused")
        }
        let app = server.makeApplication(logger: logger)
        let devices = try await device.subscription(server: server, logger: logger)
        let group = ServiceGroup(
            configuration: .init(
                services: [app] + devices, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        printStatus("vsearch: serving \(catalogue.location) at http://\(host):\(port)/")
        try await group.run()
    }

    /// The key from --api-key-file, then $VSEARCH_API_KEY; nil when neither is set.
    private func apiKey() throws -> String? {
        if let apiKeyFile {
            guard let data = FileManager.default.contents(atPath: apiKeyFile) else {
                throw CommandError("\(apiKeyFile): cannot read the API key file")
            }
            let key = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard key.count >= 8 else {
                throw CommandError("\(apiKeyFile): the API key must have at least 8 characters")
            }
            return key
        }
        let key = ProcessInfo.processInfo.environment["VSEARCH_API_KEY"]?.trimmingCharacters(in: .whitespaces)
        return key?.isEmpty == false ? key : nil
    }
}
