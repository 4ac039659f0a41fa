import CoreMetrics
import Foundation
import Hummingbird
import Metrics
import Prometheus

/// The server's metrics, kept in its own Prometheus registry and served at `/metrics`.
///
/// Metrics are made through swift-metrics with this registry's factory passed explicitly, so
/// nothing is bootstrapped globally and two servers in one process (as in tests) never mix.
final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let factory: PrometheusMetricsFactory

    init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
            .milliseconds(20), .milliseconds(30), .milliseconds(50), .milliseconds(100), .milliseconds(250),
            .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10),
        ]
        factory.valueHistogramBuckets = ["vsearch_featurizer_batch_size": [1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 24, 32]]
        self.factory = factory
    }

    /// One answered request: counted by route, method and status, timed by route.
    func request(route: String, method: String, status: Int, seconds: Double) {
        Counter(
            label: "vsearch_http_requests_total",
            dimensions: [("route", route), ("method", method), ("status", String(status))], factory: factory
        ).increment()
        Metrics.Timer(
            label: "vsearch_http_request_duration_seconds", dimensions: [("route", route), ("method", method)],
            factory: factory
        ).recordNanoseconds(Int64(seconds * 1e9))
    }

    /// One network call of the featurizer: its batch size and its time.
    func batch(size: Int, seconds: Double) {
        Recorder(label: "vsearch_featurizer_batch_size", factory: factory).record(size)
        Metrics.Timer(label: "vsearch_featurizer_batch_duration_seconds", factory: factory)
            .recordNanoseconds(Int64(seconds * 1e9))
        Counter(label: "vsearch_featurizer_images_total", factory: factory).increment(by: size)
    }

    func matchEvent(source: String, subscribers: Int) {
        Counter(label: "vsearch_match_events_total", dimensions: [("source", source)], factory: factory).increment()
        sseClients(subscribers)
    }

    func sseClients(_ count: Int) {
        Gauge(label: "vsearch_sse_clients", factory: factory).record(count)
    }

    /// Whether the catalogue answered (`vsearch_catalogue_up`, labelled with the backend) and its
    /// round trip; a catalogue that did not answer keeps its last round trip.
    func catalogueHealth(backend: String, roundTripMS: Double?) {
        Gauge(label: "vsearch_catalogue_up", dimensions: [("backend", backend)], factory: factory)
            .record(roundTripMS == nil ? 0 : 1)
        if let roundTripMS {
            Gauge(label: "vsearch_catalogue_round_trip_seconds", dimensions: [("backend", backend)], factory: factory)
                .record(roundTripMS / 1000)
        }
    }

    func catalogue(items: Int, pending: Int) {
        Gauge(label: "vsearch_catalogue_items", factory: factory).record(items)
        Gauge(label: "vsearch_catalogue_pending_items", factory: factory).record(pending)
    }

    /// The Prometheus text exposition of every metric.
    func exposition() -> [UInt8] { registry.emitToBuffer() }
}

/// Counts and times every request by its route pattern (not its path, so ids do not explode
/// the label set).
struct MetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let started = ContinuousClock.now
        let status: Int
        do {
            let response = try await next(request, context)
            status = Int(response.status.code)
            record(request, context, status, started)
            return response
        } catch {
            status = Int(APIError.from(error).status.code)
            record(request, context, status, started)
            throw error
        }
    }

    private func record(_ request: Request, _ context: Context, _ status: Int, _ started: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - started
        metrics.request(
            route: context.endpointPath ?? "unmatched", method: request.method.rawValue, status: status,
            seconds: elapsed / .seconds(1))
    }
}
