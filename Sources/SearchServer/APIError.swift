import Catalogue
import Featurizer
import Foundation
import HTTPTypes
import Hummingbird
import ImageFetching
import VSearchCore

/// An error answered to a client: an HTTP status and `{"error": {"code", "message"}}`.
///
/// Every failure a request can cause maps to one of these, so a client always gets a 4xx with
/// a reason it can show, and the server never answers a bad input with a 500.
public struct APIError: VSearchError, HTTPResponseError {
    public var status: HTTPResponse.Status
    /// A stable machine-readable code, such as `bad_image`.
    public var code: String
    /// One line naming the input and what is wrong with it.
    public var message: String
    /// Extra headers, such as `Retry-After`.
    public var headers: HTTPFields

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    public var description: String { "\(status.code) \(code): \(message)" }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = self.headers
        headers[.contentType] = "application/json; charset=utf-8"
        let body = ErrorBody(error: .init(code: code, message: message))
        let data = (try? JSONEncoder().encode(body)) ?? Data(#"{"error":{"code":"internal","message":""}}"#.utf8)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    private struct ErrorBody: Encodable {
        struct Detail: Encodable {
            var code: String
            var message: String
        }
        var error: Detail
    }

    static func badRequest(_ code: String, _ message: String) -> APIError { APIError(.badRequest, code, message) }
    static func notFound(_ message: String) -> APIError { APIError(.notFound, "not_found", message) }

    /// The answer for an error thrown by a lower layer.
    static func from(_ error: any Error) -> APIError {
        switch error {
        case let error as APIError: return error
        case let error as FeaturizerError: return from(featurizer: error)
        case let error as CatalogueError: return from(catalogue: error)
        case let error as FetchError: return from(fetch: error)
        case let error as HTTPError:
            let code = error.status == .contentTooLarge ? "body_too_large" : "http_\(error.status.code)"
            return APIError(
                error.status, code, error.body ?? error.status.reasonPhrase, headers: error.headers)
        case let error as DecodingError:
            return .badRequest("bad_json", "the JSON body is not valid: \(describe(error))")
        default: return APIError(.internalServerError, "internal", describe(error))
        }
    }

    static func from(featurizer error: FeaturizerError) -> APIError {
        switch error {
        case .image(.tooManyPixels(let name, let width, let height, let limit)):
            return APIError(
                .contentTooLarge, "too_many_pixels",
                "\(name): \(width)×\(height) pixels is more than the server's limit of \(limit)")
        case .image(let image): return APIError(.unprocessableContent, "bad_image", image.description)
        case .model, .inference: return APIError(.internalServerError, "featurizer", error.description)
        }
    }

    static func from(fetch error: FetchError) -> APIError {
        switch error {
        case .failed: return APIError(.badGateway, "fetch_failed", error.description)
        case .refused: return APIError(.forbidden, "url_refused", error.description)
        case .tooLarge: return APIError(.unprocessableContent, "bad_image", error.description)
        }
    }

    static func from(catalogue error: CatalogueError) -> APIError {
        switch error {
        case .busy: return APIError(.conflict, "store_busy", error.description)
        case .modelMismatch: return APIError(.conflict, "model_mismatch", error.description)
        case .query(let message): return .badRequest("bad_query", message)
        case .fetch: return APIError(.badGateway, "fetch_failed", error.description)
        case .refused: return APIError(.forbidden, "url_refused", error.description)
        case .content: return APIError(.unprocessableContent, "bad_image", error.description)
        case .record, .source: return .badRequest("bad_request", error.description)
        case .store: return APIError(.serviceUnavailable, "store_unavailable", error.description)
        case .exists:
            return APIError(.conflict, "item_exists", error.description + "; use PATCH to change it")
        }
    }
}

/// Turns every error thrown below it into a JSON error answer.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch {
            let apiError = APIError.from(error)
            if apiError.status.code >= 500 {
                context.logger.error("\(request.method) \(request.uri.path): \(apiError.description)")
            }
            return try apiError.response(from: request, context: context)
        }
    }
}
