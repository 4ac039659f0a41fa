import HTTPTypes
import Hummingbird

/// Cross-origin access: which web pages on other origins may call the API.
///
/// By default no origin is allowed (browsers then refuse cross-origin calls). `*` allows every
/// origin. The seed-compatible `POST /matches` is open to every origin whatever the list says:
/// the original page is served from its own origin, which an operator cannot always name, and
/// the route only reads the latest matches.
struct CORSPolicy: Sendable {
    var allowedOrigins: [String]
    /// Paths open to every origin, whatever `allowedOrigins` holds.
    var openPaths: Set<String> = ["/matches"]

    /// The `Access-Control-Allow-Origin` value for a request from `origin` to `path`, or nil.
    func allowOrigin(_ origin: String, path: String) -> String? {
        if allowedOrigins.contains("*") { return "*" }
        if allowedOrigins.contains(origin) { return origin }
        return openPaths.contains(path) ? "*" : nil
    }
}

/// Adds CORS headers to answers and answers `OPTIONS` preflight requests.
struct CORSMiddleware<Context: RequestContext>: RouterMiddleware {
    let policy: CORSPolicy
    static var allowedHeaders: String { "Content-Type, Authorization, X-API-Key" }
    static var allowedMethods: String { "GET, POST, PATCH, DELETE, OPTIONS" }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        guard let origin = request.headers[.origin] else { return try await next(request, context) }
        let allowed = policy.allowOrigin(origin, path: request.uri.path)
        if request.method == .options, request.headers[.accessControlRequestMethod] != nil {
            var headers: HTTPFields = [.vary: "Origin"]
            if let allowed {
                headers[.accessControlAllowOrigin] = allowed
                headers[.accessControlAllowMethods] = Self.allowedMethods
                headers[.accessControlAllowHeaders] = Self.allowedHeaders
                headers[.accessControlMaxAge] = "600"
            }
            return Response(status: .noContent, headers: headers)
        }
        var response = try await next(request, context)
        if let allowed {
            response.headers[.accessControlAllowOrigin] = allowed
            response.headers[.vary] = "Origin"
        }
        return response
    }
}
