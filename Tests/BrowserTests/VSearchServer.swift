import Foundation
import VSearchTesting

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// What the browser tests leave for a person to look at.
extension Repository {
    /// Where screenshots go: $VSEARCH_TEST_ARTIFACTS, else .build/test-artifacts/browser.
    static func artifacts() throws -> String {
        let directory =
            ProcessInfo.processInfo.environment["VSEARCH_TEST_ARTIFACTS"].map { $0 + "/browser" }
            ?? root + "/.build/test-artifacts/browser"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }
}

/// A catalogue item the test ingests from a real photo.
struct CatalogueEntry {
    let id: String
    let title: String
    let photo: String
}

/// The real `vsearch serve` binary on a free loopback port, over a store the test builds with `vsearch ingest`.
final class VSearchServer {
    let baseURL: String
    private let process: Process
    private let directory: String

    /// Ingests `entries` into a new store and serves it.
    static func start(entries: [CatalogueEntry]) async throws -> VSearchServer {
        let binary = try Repository.binary()
        let directory = NSTemporaryDirectory() + "vsearch-browser-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let csv =
            "id,title,url,collection\n"
            + entries.map { entry in
                let collection = entry.photo.contains("/mate/") ? "mate" : "skimage"
                return
                    "\(entry.id),\"\(entry.title)\",\(URL(fileURLWithPath: entry.photo).absoluteString),\(collection)"
            }.joined(separator: "\n") + "\n"
        try csv.write(toFile: directory + "/catalogue.csv", atomically: true, encoding: .utf8)
        let store = directory + "/store"
        let ingest = try await runVSearch(["ingest", "--store", store, directory + "/catalogue.csv"])
        guard ingest.status == 0 else {
            throw BrowserTestFailure("vsearch ingest failed (\(ingest.status)): \(ingest.error.suffix(600))")
        }

        let port = try FreePort.find()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        // The URL-search test fetches a picture from this same server on loopback, which the server
        // refuses by default (no server-side request forgery); this flag is how an operator allows it.
        process.arguments = [
            "serve", "--store", store, "--host", "127.0.0.1", "--port", String(port), "--allow-fetch-from", "loopback",
        ]
        process.environment = environment()
        FileManager.default.createFile(atPath: directory + "/serve.log", contents: nil)
        let log = FileHandle(forWritingAtPath: directory + "/serve.log")
        process.standardOutput = log
        process.standardError = log
        try process.run()
        let server = VSearchServer(baseURL: "http://127.0.0.1:\(port)", process: process, directory: directory)
        do {
            try await server.waitUntilHealthy()
        } catch {
            server.stop()
            throw error
        }
        return server
    }

    private init(baseURL: String, process: Process, directory: String) {
        self.baseURL = baseURL
        self.process = process
        self.directory = directory
    }

    private static func environment() -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["VSEARCH_MODEL"] = Repository.model
        return environment
    }

    private func waitUntilHealthy() async throws {
        for _ in 0..<1200 {
            guard process.isRunning else {
                throw BrowserTestFailure("vsearch serve exited (\(process.terminationStatus)): \(serverLog())")
            }
            if let (_, status) = try? await get("/healthz"), status == 200 { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw BrowserTestFailure("vsearch serve did not answer /healthz within 120 s: \(serverLog())")
    }

    /// The last lines the server printed, for failure messages.
    func serverLog() -> String {
        String(((try? String(contentsOfFile: directory + "/serve.log", encoding: .utf8)) ?? "").suffix(800))
    }

    func get(_ path: String) async throws -> (Data, Int) {
        let (data, response) = try await URLSession.shared.data(from: try url(path))
        return (data, (response as? HTTPURLResponse)?.statusCode ?? 0)
    }

    /// Searches with a photo as a raw `image/*` body, as an API client would; returns the answer's JSON.
    func search(photo: String) async throws -> [String: Any] {
        var request = URLRequest(url: try url("/api/v1/search?k=4"))
        request.httpMethod = "POST"
        request.setValue(photo.hasSuffix(".png") ? "image/png" : "image/jpeg", forHTTPHeaderField: "Content-Type")
        request.httpBody = try Data(contentsOf: URL(fileURLWithPath: photo))
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard status == 200, let answer = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw BrowserTestFailure("POST /api/v1/search answered \(status): \(String(decoding: data, as: UTF8.self))")
        }
        return answer
    }

    private func url(_ path: String) throws -> URL {
        guard let url = URL(string: baseURL + path) else { throw BrowserTestFailure("not a URL: \(baseURL + path)") }
        return url
    }

    /// Stops the server (SIGTERM, so it shuts down gracefully) and removes its store.
    func stop() {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: directory)
    }
}
