import Foundation
import VSearchTesting

#if canImport(Glibc)
    import Glibc
#endif

/// A real HTTP server on loopback (Python's `http.server` from the project's venv) that serves
/// real photos under the seed's URL paths, plus misbehaving endpoints:
///
/// - `/missing/...`: 404
/// - `/slow/...`: waits `slowSeconds` before answering
/// - `/text/...`: 200 with an HTML body
/// - `/huge-bytes/...`: a photo larger than the test's byte limit
/// - `/huge-pixels/...`: a small PNG that claims 100,000 × 100,000 pixels
/// - `/flaky/...`: 503 on the first request, the photo after
///
/// Unchecked `Sendable`: every stored property is a constant set by `init`.
final class TestServer: @unchecked Sendable {
    let port: Int
    private let process: Process
    private let countsPath: String

    static let script = #"""
        import http.server, json, socketserver, struct, sys, threading, time, zlib
        routes = json.load(open(sys.argv[1]))
        slow = float(sys.argv[2])
        counts = {}
        lock = threading.Lock()

        def chunk(kind, data):
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)

        bomb = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b""))

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def send(self, status, body, kind="image/jpeg"):
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                with lock:
                    counts[self.path] = counts.get(self.path, 0) + 1
                    seen = counts[self.path]
                    with open(sys.argv[3], "w") as f:
                        json.dump(counts, f)
                if self.path.startswith("/slow/"):
                    time.sleep(slow)
                    return self.send(200, open(routes["/slow"], "rb").read())
                if self.path.startswith("/text/"):
                    return self.send(200, b"<html><body>not an image</body></html>", "text/html")
                if self.path.startswith("/huge-bytes/"):
                    return self.send(200, open(routes["/huge-bytes"], "rb").read())
                if self.path.startswith("/huge-pixels/"):
                    return self.send(200, bomb, "image/png")
                if self.path.startswith("/flaky/"):
                    if seen == 1:
                        return self.send(503, b"busy", "text/plain")
                    return self.send(200, open(routes["/flaky"], "rb").read())
                if self.path in routes:
                    return self.send(200, open(routes[self.path], "rb").read())
                self.send(404, b"not found", "text/plain")

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # clients that time out close their end; that is the point of /slow

        server = Server(("127.0.0.1", 0), Handler)
        print(server.server_address[1], flush=True)
        server.serve_forever()
        """#

    /// Starts the server; `routes` maps URL paths (and the special keys above) to photo files.
    init(routes: [String: String], slowSeconds: Double, directory: String) async throws {
        let venv = ProcessInfo.processInfo.environment["VSEARCH_VENV"] ?? Repository.root + "/.venv"
        let python = venv + "/bin/python"
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw TestFailure("no Python at \(python): set VSEARCH_VENV or run scripts/python-env.sh")
        }
        let scriptPath = directory + "/server.py"
        let routesPath = directory + "/routes.json"
        countsPath = directory + "/counts.json"
        try Self.script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        try JSONSerialization.data(withJSONObject: routes).write(to: URL(fileURLWithPath: routesPath))
        process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [scriptPath, routesPath, String(slowSeconds), countsPath]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        // Python takes a moment to start: the wait for its port runs on a thread of its own.
        let reader = out.fileHandleForReading
        let line = try await onOwnThread {
            var line = Data()
            while !line.contains(UInt8(ascii: "\n")) {
                let chunk = reader.availableData
                if chunk.isEmpty { break }
                line.append(chunk)
            }
            return line
        }
        guard let port = Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        else {
            kill(process.processIdentifier, SIGKILL)
            throw TestFailure("the test HTTP server did not start")
        }
        self.port = port
    }

    var base: String { "http://127.0.0.1:\(port)" }

    /// How many times each path was requested.
    func requestCounts() throws -> [String: Int] {
        guard let data = FileManager.default.contents(atPath: countsPath) else { return [:] }
        return (try JSONSerialization.jsonObject(with: data) as? [String: Int]) ?? [:]
    }

    deinit {
        // SIGKILL: the test runner's children may inherit a mask that blocks SIGTERM.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
