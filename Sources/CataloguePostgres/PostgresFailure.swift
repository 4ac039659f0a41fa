import Catalogue
import PostgresNIO

/// Turns what postgres-nio throws into one readable line.
///
/// postgres-nio's `PSQLError` prints a fixed "generic description" on purpose, so that a careless
/// program does not show a database's internals to its users. vsearch's errors go to the operator
/// (the command line, the server's log), who needs the reason: the server's message and SQLSTATE,
/// or the network error. Neither ever contains the password.
enum PostgresFailure {
    /// The reason `error` carries, on one line.
    static func reason(_ error: any Error) -> String {
        switch error {
        case let error as PSQLError: return reason(error)
        case let error as PostgresTransactionError:
            if let inner = error.closureError ?? error.beginError ?? error.commitError {
                return reason(inner)
            }
            return oneLine("\(error)")
        case let error as PostgresDecodingError where error.code == .missingData:
            return "column '\(error.columnName)' is NULL where vsearch never writes one"
        case let error as PostgresDecodingError:
            return "cannot read column '\(error.columnName)' (\(error.postgresType)) as \(error.targetType)"
        case let error as CatalogueError: return error.description
        case let error as ItemRowError: return (error.id.map { "item '\($0)': " } ?? "") + reason(error.underlying)
        default:
            // The pool's own error type is in an underscored module; its circuit breaker trips after
            // a minute of failed connection attempts.
            let text = String(reflecting: error)
            if text.contains("CircuitBreaker") {
                return "the database has been unreachable for a while; no connection could be made"
            }
            return oneLine(text)
        }
    }

    private static func reason(_ error: PSQLError) -> String {
        switch error.code {
        case .server:
            let message = error.serverInfo?[.message] ?? "error"
            let state = error.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? ""
            let detail = error.serverInfo?[.detail].map { ": \($0)" } ?? ""
            return oneLine(message + detail + state)
        case .connectionError:
            return "cannot connect: " + (error.underlying.map(networkReason) ?? "connection failed")
        case .serverClosedConnection: return "the server closed the connection"
        case .clientClosedConnection: return "the connection was closed"
        case .sslUnsupported: return "the server does not offer TLS, and sslmode requires it"
        case .authMechanismRequiresPassword:
            return "the server asks for a password; give it in the URL or in $PGPASSWORD"
        case .unsupportedAuthMechanism: return "the server asks for an authentication method postgres-nio lacks"
        case .saslError: return "authentication failed" + (error.underlying.map { ": \(networkReason($0))" } ?? "")
        case .queryCancelled: return "the query was cancelled"
        case .poolClosed: return "the catalogue's connection pool is closed"
        default: return oneLine(String(reflecting: error))
        }
    }

    /// A socket error without NIO's wrapping: "connection refused" (the message names the URL,
    /// so the host and port are already said).
    private static func networkReason(_ error: any Error) -> String {
        if let error = error as? NIOConnectionError {
            if let first = error.connectionErrors.first { return networkReason(first.error) }
            if error.dnsAAAAError != nil || error.dnsAError != nil {
                return "cannot resolve the host name \(error.host)"
            }
            return "no address to connect to for \(error.host)"
        }
        if let error = error as? IOError {
            return String(cString: strerror(error.errnoCode)).lowercased()
        }
        if error is ChannelError, case .connectTimeout(let after) = error as! ChannelError {
            return "no answer within \(after.nanoseconds / 1_000_000_000) s"
        }
        return oneLine("\(error)")
    }

    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
    }
}

/// A row of one item that did not decode, with the item's id when the row has one, so that the
/// error names the row an operator must mend (``PostgresRow/decodingItem(_:)``).
struct ItemRowError: Error {
    var id: String?
    var underlying: any Error
}

extension PostgresRow {
    /// `decode(self)`; a failure is an ``ItemRowError`` that names the item by the row's `id` column.
    func decodingItem<Value>(_ decode: (PostgresRow) throws -> Value) throws -> Value {
        do {
            return try decode(self)
        } catch {
            let cells = makeRandomAccess()
            let id = cells.contains("id") ? try? cells["id"].decode(String.self) : nil
            throw ItemRowError(id: id, underlying: error)
        }
    }
}
