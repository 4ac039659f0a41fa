import AsyncHTTPClient
import NIOCore
import NIOHTTP1

/// Gathers one answer's status, `Location` and body (up to a limit) on the connection's event loop.
///
/// Unchecked `Sendable`: AsyncHTTPClient calls a delegate only on the request's event loop, one
/// call at a time, so its state is never touched from two threads at once.
final class BodyCollector: HTTPClientResponseDelegate, @unchecked Sendable {
    typealias Response = FetchResponse

    private let url: String
    private let limit: Int
    private var status = 0
    private var location: String?
    private var body: [UInt8] = []

    init(url: String, limit: Int) {
        self.url = url
        self.limit = limit
    }

    func didReceiveHead(task: HTTPClient.Task<FetchResponse>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
        status = Int(head.status.code)
        location = head.headers.first(name: "location")
        if status == 200, let length = head.headers.first(name: "content-length").flatMap(Int.init), length > limit {
            return task.eventLoop.makeFailedFuture(
                FetchError.tooLarge(url: url, reason: "\(length) bytes, more than the limit of \(limit)"))
        }
        return task.eventLoop.makeSucceededVoidFuture()
    }

    func didReceiveBodyPart(task: HTTPClient.Task<FetchResponse>, _ part: ByteBuffer) -> EventLoopFuture<Void> {
        // Only a 200's body is kept; any other answer is judged by its status.
        guard status == 200 else { return task.eventLoop.makeSucceededVoidFuture() }
        guard body.count + part.readableBytes <= limit else {
            return task.eventLoop.makeFailedFuture(
                FetchError.tooLarge(url: url, reason: "more than the limit of \(limit) bytes"))
        }
        body += part.readableBytesView
        return task.eventLoop.makeSucceededVoidFuture()
    }

    func didFinishRequest(task: HTTPClient.Task<FetchResponse>) throws -> FetchResponse {
        FetchResponse(status: status, location: location, body: status == 200 ? body : [])
    }
}
