import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// A few fixed files served over HTTP on a loopback port of its own: another origin than the
/// vsearch server, as the original page was (served on its own, calling API Gateway).
final class StaticSite: Sendable {
    /// One file: its content type and bytes.
    struct File: Sendable {
        let contentType: String
        let body: [UInt8]
    }

    let baseURL: String
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    private init(baseURL: String, group: ServiceGroup, task: Task<Void, any Error>) {
        self.baseURL = baseURL
        self.group = group
        self.task = task
    }

    /// Serves `files`, keyed by path (`/index.html`), on a free loopback port; returns once it listens.
    static func start(files: [String: File]) async throws -> StaticSite {
        let router = Router()
        for (path, file) in files {
            router.get(RouterPath(path)) { _, _ in
                Response(
                    status: .ok, headers: [.contentType: file.contentType, .cacheControl: "no-store"],
                    body: .init(byteBuffer: ByteBuffer(bytes: file.body)))
            }
        }
        var logger = Logger(label: "static-site")
        logger.logLevel = .warning
        // The port is known when the server listens: the running callback reports it, and the
        // stream ends if the server stops first (a bind failure), so the wait cannot hang.
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: "static-site"),
            onServerRunning: { channel in
                if let port = channel.localAddress?.port { continuation.yield(port) }
                continuation.finish()
            },
            logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let task = Task {
            defer { continuation.finish() }
            try await group.run()
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else {
            await group.triggerGracefulShutdown()
            let reason: String
            do {
                try await task.value
                reason = "it stopped"
            } catch {
                reason = "\(error)"
            }
            throw BrowserTestFailure("the static site did not start: \(reason)")
        }
        return StaticSite(baseURL: "http://127.0.0.1:\(port)", group: group, task: task)
    }

    /// Stops serving (gracefully: the browser has closed its connections) and waits until it has.
    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }
}
