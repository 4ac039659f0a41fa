import HTTPTypes
import Hummingbird

/// Adds routes to a router and remembers them, so a test can check that the OpenAPI document
/// describes every route the server has.
final class RouteRecorder {
    let router: Router<BasicRequestContext>
    private(set) var routes: [(method: String, path: String)] = []

    init(router: Router<BasicRequestContext>) { self.router = router }

    func add(
        _ method: HTTPRequest.Method, _ path: String,
        _ handler: @escaping @Sendable (Request, BasicRequestContext) async throws -> Response
    ) {
        routes.append((method.rawValue, path))
        router.on(RouterPath(path), method: method, use: handler)
    }
}
