import Foundation
import HTTPTypes

/// Where browsers reach this server, for answers that must carry absolute URLs.
///
/// The original page shows each match's `url` as a picture from another origin, so a path on this
/// server would resolve against the page's own origin and load nothing. The operator's
/// `--public-url` wins: behind a proxy that rewrites `Host`, only the operator knows the outside
/// address. Otherwise the request says where it was sent: `X-Forwarded-Proto` and
/// `X-Forwarded-Host` from a proxy, then its own `Host` (the
/// request's authority). Header values that are not a plain scheme
/// or host are ignored, so a client cannot put markup or another path into the answer.
struct PublicURL: Sendable {
    /// `--public-url` without its trailing slash, when configured.
    var configured: String?
    /// The last resort, when the request names no host (HTTP/1.0): the listening address.
    var fallback: String

    /// The base URL (scheme, host, optional port and path prefix, no trailing slash) for `request`.
    func base(for request: HTTPRequest) -> String {
        if let configured { return configured }
        let fields = request.headerFields
        let scheme = Self.first(fields[.xForwardedProto]).map { $0.lowercased() }.flatMap(Self.scheme) ?? "http"
        let host = Self.first(fields[.xForwardedHost]).flatMap(Self.host) ?? request.authority.flatMap(Self.host)
        guard let host else { return fallback }
        return "\(scheme)://\(host)"
    }

    /// `text` as a public base URL: http(s), a host, no query or fragment; nil when it is not one.
    static func normalized(_ text: String) -> String? {
        let trimmed = text.hasSuffix("/") ? String(text.dropLast()) : text
        guard let url = URL(string: trimmed), let scheme = url.scheme?.lowercased(), Self.scheme(scheme) != nil,
            let host = url.host, !host.isEmpty, url.query == nil, url.fragment == nil, url.user == nil
        else { return nil }
        return trimmed
    }

    /// The first value of a list a chain of proxies built (`https, http`).
    private static func first(_ value: String?) -> String? {
        value?.split(separator: ",").first.map { $0.trimmingCharacters(in: .whitespaces) }
    }

    private static func scheme(_ value: String) -> String? { ["http", "https"].contains(value) ? value : nil }

    /// A host with an optional port (`shop.example:8443`, `[::1]:8080`), and nothing else.
    private static func host(_ value: String) -> String? {
        let allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:[]")
        guard !value.isEmpty, value.count <= 255, value.unicodeScalars.allSatisfy(allowed.contains) else { return nil }
        return value
    }
}

extension HTTPField.Name {
    static var xForwardedProto: Self { .init("X-Forwarded-Proto")! }
    static var xForwardedHost: Self { .init("X-Forwarded-Host")! }
}
