import Logging
import VSearchCore

/// The items whose stored local features did not decode, so that each is reported once rather than on
/// every search that checks it.
///
/// Such an item is still found: it keeps its fused score and is simply not raised by the check. The log
/// line names it, so an operator can store it again (`vsearch ingest` or `POST /api/v1/items`).
public final class DamagedFeatures: Sendable {
    private let reported = Locked(Set<String>())

    public init() {}

    /// Logs a warning naming item `id` and why its features do not decode, the first time only.
    public func report(item id: String, reason: String, to logger: Logger) {
        guard reported.withLock({ $0.insert(id).inserted }) else { return }
        logger.warning(
            "item '\(id)': its stored local features do not decode (\(reason)); it is ranked without the check until it is stored again"
        )
    }

    /// Forgets what was reported, so that an item damaged again after a write is reported again.
    public func removeAll() { reported.withLock { $0.removeAll() } }
}
