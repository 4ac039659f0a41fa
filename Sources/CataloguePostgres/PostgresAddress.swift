import Catalogue
import Foundation
import PostgresNIO

/// Where a PostgreSQL catalogue is: `postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=MODE]`.
///
/// The form is libpq's, so the URL `scripts/postgres.sh` prints, or a managed database's, works as
/// it is. The password may come from the URL or, as for `psql`, from `$PGPASSWORD`; it never
/// appears in a message: errors name ``redacted``.
public struct PostgresAddress: Sendable, Equatable {
    /// How the connection uses TLS, as libpq's `sslmode` says.
    public enum TLSMode: String, Sendable {
        /// Plain TCP only.
        case disable
        /// TLS if the server offers it (libpq's default, and ours).
        case prefer
        /// TLS or nothing, without checking the certificate (libpq's `require`).
        case require
        /// TLS with a certificate chain that the system trusts, for any host name.
        case verifyCA = "verify-ca"
        /// TLS with a trusted certificate for this host name.
        case verifyFull = "verify-full"
    }

    public var user: String
    public var password: String?
    public var host: String
    public var port: Int
    public var database: String
    public var tls: TLSMode

    /// Whether `text` is a PostgreSQL address rather than a store directory.
    public static func isPostgres(_ text: String) -> Bool {
        text.hasPrefix("postgres://") || text.hasPrefix("postgresql://")
    }

    /// Parses `text`; `environment` supplies `PGPASSWORD` when the URL has no password.
    public init(_ text: String, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(CatalogueError)
    {
        let shown = Self.redact(text)
        guard Self.isPostgres(text), let parts = URLComponents(string: text) else {
            throw .store(path: shown, reason: "not a PostgreSQL URL; expected postgres://USER@HOST:PORT/DB")
        }
        guard let user = parts.percentEncodedUser?.removingPercentEncoding, !user.isEmpty else {
            throw .store(path: shown, reason: "no user name; expected postgres://USER@HOST:PORT/DB")
        }
        guard let host = parts.host, !host.isEmpty else {
            throw .store(path: shown, reason: "no host; expected postgres://USER@HOST:PORT/DB")
        }
        let path = parts.percentEncodedPath.hasPrefix("/") ? String(parts.percentEncodedPath.dropFirst()) : ""
        guard !path.contains("/"), let database = path.removingPercentEncoding else {
            throw .store(path: shown, reason: "the path must be one database name")
        }
        var tls = TLSMode.prefer
        for item in parts.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let value = item.value, let mode = TLSMode(rawValue: value) else {
                    throw .store(
                        path: shown,
                        reason:
                            "sslmode '\(item.value ?? "")': expected disable, prefer, require, verify-ca or verify-full"
                    )
                }
                tls = mode
            default:
                throw .store(path: shown, reason: "unknown parameter '\(item.name)'; only sslmode is understood")
            }
        }
        self.user = user
        self.password = parts.percentEncodedPassword?.removingPercentEncoding ?? environment["PGPASSWORD"]
        self.host = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        self.port = parts.port ?? 5432
        // libpq's default: a database named after the user.
        self.database = database.isEmpty ? user : database
        self.tls = tls
    }

    /// The URL without its password, for messages and logs.
    public var redacted: String {
        var text = "postgres://\(user)@\(host.contains(":") ? "[\(host)]" : host):\(port)/\(database)"
        if tls != .prefer { text += "?sslmode=\(tls.rawValue)" }
        return text
    }

    /// `text` with any password between `:` and `@` replaced, for a message about a URL that did not parse.
    static func redact(_ text: String) -> String {
        guard let scheme = text.range(of: "://"), let at = text[scheme.upperBound...].lastIndex(of: "@") else {
            return text
        }
        let credentials = text[scheme.upperBound..<at]
        guard let colon = credentials.firstIndex(of: ":") else { return text }
        return String(text[..<colon]) + ":***" + String(text[at...])
    }

    /// The TLS configuration of this address's `sslmode`, and whether TLS is required; nil for no TLS.
    private var tlsChoice: (configuration: TLSConfiguration, required: Bool)? {
        var configuration = TLSConfiguration.makeClientConfiguration()
        switch tls {
        case .disable: return nil
        case .prefer, .require: configuration.certificateVerification = .none
        case .verifyCA: configuration.certificateVerification = .noHostnameVerification
        case .verifyFull: configuration.certificateVerification = .fullVerification
        }
        return (configuration, tls != .prefer)
    }

    /// The pool's configuration.
    var clientConfiguration: PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS
        switch tlsChoice {
        case nil: tls = .disable
        case let choice?: tls = choice.required ? .require(choice.configuration) : .prefer(choice.configuration)
        }
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: user, password: password, database: database, tls: tls)
        configuration.options.connectTimeout = .seconds(10)
        return configuration
    }

    /// The configuration of the single connection that opening uses (to check the server and migrate).
    func connectionConfiguration() throws(CatalogueError) -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS
        switch tlsChoice {
        case nil: tls = .disable
        case let choice?:
            let context: NIOSSLContext
            do {
                context = try NIOSSLContext(configuration: choice.configuration)
            } catch {
                throw .store(path: redacted, reason: "cannot set up TLS: \(error)")
            }
            tls = choice.required ? .require(context) : .prefer(context)
        }
        var configuration = PostgresConnection.Configuration(
            host: host, port: port, username: user, password: password, database: database, tls: tls)
        configuration.options.connectTimeout = .seconds(10)
        return configuration
    }
}
