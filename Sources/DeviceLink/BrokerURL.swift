/// Where the broker listens: `mqtt://HOST[:PORT]` (plain TCP, port 1883) or
/// `mqtts://HOST[:PORT]` (TLS, port 8883). IPv6 hosts go in brackets: `mqtt://[::1]:1883`.
public struct BrokerURL: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    /// True for `mqtts://`: the connection must use TLS.
    public var usesTLS: Bool

    public init(host: String, port: Int, usesTLS: Bool = false) {
        self.host = host
        self.port = port
        self.usesTLS = usesTLS
    }

    /// Parses `mqtt://HOST[:PORT]` or `mqtts://HOST[:PORT]`.
    public init(parsing text: String) throws(MQTTError) {
        let rest: Substring
        if text.hasPrefix("mqtt://") {
            rest = text.dropFirst("mqtt://".count)
            usesTLS = false
        } else if text.hasPrefix("mqtts://") {
            rest = text.dropFirst("mqtts://".count)
            usesTLS = true
        } else {
            throw .invalidURL(text, reason: "it must start with mqtt:// or mqtts://")
        }
        let authority = rest.hasSuffix("/") ? rest.dropLast() : rest
        var hostPart = authority
        var portPart: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw .invalidURL(text, reason: "unclosed [") }
            hostPart = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") {
                portPart = after.dropFirst()
            } else if !after.isEmpty {
                throw .invalidURL(text, reason: "unexpected text after the host")
            }
        } else if let colon = authority.lastIndex(of: ":") {
            hostPart = authority[..<colon]
            portPart = authority[authority.index(after: colon)...]
        }
        guard !hostPart.isEmpty, !hostPart.contains("/") else { throw .invalidURL(text, reason: "no host") }
        host = String(hostPart)
        if let portPart {
            guard let value = Int(portPart), (1...65_535).contains(value) else {
                throw .invalidURL(text, reason: "the port must be a number from 1 to 65535")
            }
            port = value
        } else {
            port = usesTLS ? 8883 : 1883
        }
    }

    public var description: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "\(usesTLS ? "mqtts" : "mqtt")://\(shownHost):\(port)"
    }
}
