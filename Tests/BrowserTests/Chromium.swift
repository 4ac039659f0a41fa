import Foundation
import VSearchTesting

/// Debian's `chromium` in headless mode with its DevTools endpoint on a free loopback port, in a throwaway profile.
final class Chromium {
    private let process: Process
    let profile: String
    let client: DevToolsClient

    /// Starts Chromium and connects to its browser-level DevTools endpoint.
    static func launch() async throws -> Chromium {
        guard let executable = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first(where: isExecutable) else {
            throw BrowserTestFailure("no chromium: install Debian's chromium package (scripts/install-deps.sh)")
        }
        let profile = NSTemporaryDirectory() + "vsearch-chromium-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: profile, withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [
            "--headless=new", "--remote-debugging-port=0", "--user-data-dir=\(profile)",
            // The WebSocket client sends `Origin: ws://127.0.0.1`; DevTools refuses origins it was not told of.
            "--remote-allow-origins=ws://127.0.0.1",
            // Root in a container has no user namespace sandbox; the test loads only its own loopback server.
            "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
            "--disable-extensions", "--disable-background-networking", "--disable-sync", "--hide-scrollbars",
            // A synthetic camera that needs no permission prompt, so the page's webcam snapshot can be tested.
            "--mute-audio", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream", "about:blank",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        do {
            let endpoint = try await Self.readEndpoint(profile: profile, process: process)
            let client = try await DevToolsClient.connect(to: endpoint)
            return Chromium(process: process, profile: profile, client: client)
        } catch {
            process.terminate()
            process.waitUntilExit()
            try? FileManager.default.removeItem(atPath: profile)
            throw error
        }
    }

    private init(process: Process, profile: String, client: DevToolsClient) {
        self.process = process
        self.profile = profile
        self.client = client
    }

    private static func isExecutable(_ path: String) -> Bool { FileManager.default.isExecutableFile(atPath: path) }

    /// Chromium writes the port it chose and the browser target's path to DevToolsActivePort in the profile.
    private static func readEndpoint(profile: String, process: Process) async throws -> String {
        let file = profile + "/DevToolsActivePort"
        for _ in 0..<600 {
            if let text = try? String(contentsOfFile: file, encoding: .utf8) {
                let lines = text.split(separator: "\n").map(String.init)
                if lines.count >= 2, let port = Int(lines[0]), port > 0 {
                    return "ws://127.0.0.1:\(port)\(lines[1])"
                }
            }
            guard process.isRunning else {
                throw BrowserTestFailure("chromium exited with status \(process.terminationStatus)")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw BrowserTestFailure("chromium wrote no \(file) within 60 s")
    }

    /// Opens a new tab and attaches to it.
    func newPage() async throws -> BrowserPage {
        let created = try await client.send("Target.createTarget", ["url": "about:blank"])
        guard let target = try JSONSerialization.jsonObject(with: created) as? [String: Any],
            let targetID = target["targetId"] as? String
        else { throw BrowserTestFailure("Target.createTarget gave no targetId") }
        let attached = try await client.send("Target.attachToTarget", ["targetId": targetID, "flatten": true])
        guard
            let session = (try JSONSerialization.jsonObject(with: attached) as? [String: Any])?["sessionId"] as? String
        else { throw BrowserTestFailure("Target.attachToTarget gave no sessionId") }
        let page = BrowserPage(client: client, session: session)
        try await page.send("Page.enable")
        try await page.send("Runtime.enable")
        return page
    }

    /// Closes the connection, ends Chromium and removes its profile.
    func close() async {
        _ = try? await client.send("Browser.close")
        await client.disconnect()
        if process.isRunning { process.terminate() }
        _ = try? await process.exited()
        try? FileManager.default.removeItem(atPath: profile)
    }
}
