import Foundation

/// One browser tab, driven through its DevTools session: navigate, run JavaScript, set files, take screenshots.
struct BrowserPage: Sendable {
    let client: DevToolsClient
    let session: String

    @discardableResult
    func send(_ method: String, _ parameters: [String: any Sendable] = [:]) async throws -> Data {
        try await client.send(method, parameters, session: session)
    }

    /// Loads `url` as a new document (by way of about:blank, so a change of fragment alone is a fresh load too)
    /// and waits until it has finished loading.
    func navigate(to url: String) async throws {
        try await send("Page.navigate", ["url": "about:blank"])
        try await waitUntil("about:blank loads", "location.href === 'about:blank'")
        try await send("Page.navigate", ["url": url])
        try await waitUntil(
            "the page \(url) loads", "document.readyState === 'complete' && location.href !== 'about:blank'")
    }

    /// Evaluates a JavaScript expression (awaiting a promise) and returns its JSON value.
    func evaluate(_ expression: String) async throws -> Any? {
        let data = try await send(
            "Runtime.evaluate", ["expression": expression, "returnByValue": true, "awaitPromise": true]
        )
        let answer = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        if let exception = answer?["exceptionDetails"] as? [String: Any] {
            let detail = (exception["exception"] as? [String: Any])?["description"] ?? exception["text"] ?? exception
            throw BrowserTestFailure("JavaScript failed: \(detail) in: \(expression)")
        }
        return (answer?["result"] as? [String: Any])?["value"]
    }

    /// Waits until a JavaScript condition is true, up to `seconds`; the failure names what was awaited.
    /// The condition is checked once more after the deadline: on a busy cooperative pool the sleep can
    /// end seconds late, and a page that got there meanwhile has not failed.
    func waitUntil(_ what: String, _ condition: String, seconds: Double = 30) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + .milliseconds(Int(seconds * 1000))
        while true {
            if try await evaluate("Boolean(\(condition))") as? Bool == true { return }
            guard clock.now < deadline else { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw BrowserTestFailure("timed out after \(seconds) s waiting until \(what)")
    }

    /// The trimmed text of every element matching a CSS selector, in document order.
    func texts(_ selector: String) async throws -> [String] {
        let value = try await evaluate(
            "[...document.querySelectorAll(\(quoted(selector)))].map((e) => e.textContent.trim())"
        )
        return value as? [String] ?? []
    }

    /// Puts a file into an `<input type=file>` as if the person had picked it; the page sees a change event.
    func setFile(_ path: String, on selector: String) async throws {
        let data = try await send(
            "Runtime.evaluate", ["expression": "document.querySelector(\(quoted(selector)))"]
        )
        let result = (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["result"] as? [String: Any]
        guard let objectID = result?["objectId"] as? String else {
            throw BrowserTestFailure("no element \(selector) on the page")
        }
        try await send("DOM.setFileInputFiles", ["files": [path], "objectId": objectID])
    }

    /// Emulates a screen: a desktop window, or a phone with touch and a mobile viewport.
    func setViewport(width: Int, height: Int, scale: Double, mobile: Bool) async throws {
        try await send(
            "Emulation.setDeviceMetricsOverride",
            ["width": width, "height": height, "deviceScaleFactor": scale, "mobile": mobile]
        )
        try await send("Emulation.setTouchEmulationEnabled", ["enabled": mobile])
    }

    /// Emulates the person's light or dark colour-scheme preference.
    func setColorScheme(_ scheme: String) async throws {
        try await send(
            "Emulation.setEmulatedMedia", ["features": [["name": "prefers-color-scheme", "value": scheme]]]
        )
    }

    /// Waits for the images in view to finish loading (or 10 s), then saves a PNG of the viewport.
    func screenshot(to path: String) async throws {
        _ = try await evaluate(
            """
            Promise.race([
                Promise.all([...document.images].filter((image) => !image.complete && image.getBoundingClientRect().top < innerHeight)
                    .map((image) => new Promise((done) => { image.onload = image.onerror = done; }))),
                new Promise((done) => setTimeout(done, 10000)),
            ]).then(() => Promise.race([
                // Finite animations (a new event sliding in, smooth scrolling) end before the picture is taken.
                Promise.all(document.getAnimations()
                    .filter((animation) => animation.effect?.getComputedTiming().iterations !== Infinity)
                    .map((animation) => animation.finished.catch(() => null))),
                new Promise((done) => setTimeout(done, 3000)),
            ])).then(() => new Promise((done) => setTimeout(done, 600)))
            .then(() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done))))
            """
        )
        let data = try await send("Page.captureScreenshot", ["format": "png"])
        guard let encoded = (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["data"] as? String,
            let png = Data(base64Encoded: encoded)
        else { throw BrowserTestFailure("Page.captureScreenshot gave no image") }
        try png.write(to: URL(fileURLWithPath: path))
    }
}

/// A Swift string as a JavaScript string literal.
func quoted(_ text: String) -> String {
    let data = (try? JSONSerialization.data(withJSONObject: [text])) ?? Data("[\"\"]".utf8)
    return String(String(decoding: data, as: UTF8.self).dropFirst().dropLast())
}
