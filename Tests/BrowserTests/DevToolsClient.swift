import Foundation
import HummingbirdWSClient
import Logging

/// A Chrome DevTools Protocol client over one WebSocket: commands are matched to their answers by id,
/// and commands for a page carry the page's flattened session id.
actor DevToolsClient {
    private var outbound: WebSocketOutboundWriter?
    private var attachWaiters: [CheckedContinuation<Void, any Error>] = []
    private var pending: [Int: CheckedContinuation<Data, any Error>] = [:]
    private var nextID = 1
    private var closedError: BrowserTestFailure?
    private var connection: Task<Void, Never>?

    /// Connects to a DevTools WebSocket URL (`ws://127.0.0.1:PORT/devtools/browser/ID`).
    static func connect(to url: String) async throws -> DevToolsClient {
        let client = DevToolsClient()
        await client.start(url: url)
        try await client.waitUntilAttached()
        return client
    }

    private func start(url: String) {
        // Screenshots arrive as one large base64 message.
        let configuration = WebSocketClientConfiguration(maxFrameSize: 1 << 27)
        connection = Task { [self] in
            var logger = Logger(label: "vsearch.browser-test.devtools")
            logger.logLevel = .warning
            do {
                try await WebSocketClient.connect(url: url, configuration: configuration, logger: logger) {
                    inbound, outbound, _ in
                    await self.attach(outbound)
                    for try await message in inbound.messages(maxSize: 1 << 28) {
                        if case .text(let text) = message { await self.receive(text) }
                    }
                }
                self.close(with: BrowserTestFailure("the DevTools connection closed"))
            } catch {
                self.close(with: BrowserTestFailure("the DevTools connection failed: \(error)"))
            }
        }
    }

    private func attach(_ writer: WebSocketOutboundWriter) {
        outbound = writer
        for waiter in attachWaiters { waiter.resume() }
        attachWaiters = []
    }

    private func waitUntilAttached() async throws {
        if outbound != nil { return }
        if let closedError { throw closedError }
        try await withCheckedThrowingContinuation { attachWaiters.append($0) }
    }

    private func close(with error: BrowserTestFailure) {
        closedError = error
        for waiter in attachWaiters { waiter.resume(throwing: error) }
        attachWaiters = []
        for (_, waiter) in pending { waiter.resume(throwing: error) }
        pending = [:]
    }

    private func receive(_ text: String) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
            let id = object["id"] as? Int, let waiter = pending.removeValue(forKey: id)
        else { return }  // events are not used: the test reads the DOM instead
        if let error = object["error"] as? [String: Any] {
            waiter.resume(throwing: BrowserTestFailure("DevTools error: \(error["message"] ?? error)"))
        } else {
            let result = object["result"] ?? [String: Any]()
            waiter.resume(with: Result { try JSONSerialization.data(withJSONObject: result) })
        }
    }

    /// Sends a command and returns its `result` object as JSON data.
    @discardableResult
    func send(_ method: String, _ parameters: [String: any Sendable] = [:], session: String? = nil) async throws -> Data
    {
        if let closedError { throw closedError }
        guard let outbound else { throw BrowserTestFailure("DevTools is not connected") }
        let id = nextID
        nextID += 1
        var message: [String: Any] = ["id": id, "method": method, "params": parameters]
        if let session { message["sessionId"] = session }
        let text = String(decoding: try JSONSerialization.data(withJSONObject: message), as: UTF8.self)
        return try await withCheckedThrowingContinuation { waiter in
            pending[id] = waiter
            Task {
                do { try await outbound.write(.text(text)) } catch { self.fail(id, error) }
            }
        }
    }

    private func fail(_ id: Int, _ error: any Error) {
        pending.removeValue(forKey: id)?.resume(throwing: BrowserTestFailure("cannot send to DevTools: \(error)"))
    }

    /// Closes the WebSocket and waits for the connection task to end.
    func disconnect() async {
        try? await outbound?.close(.normalClosure, reason: nil)
        await connection?.value
    }
}

/// A test setup or browser failure, printed as one line.
struct BrowserTestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
