#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An IPv4 or IPv6 address, as the fetch guard checks it and the connector dials it.
public enum IPAddress: Hashable, Sendable, CustomStringConvertible {
    case v4(UInt32)
    /// 16 bytes, network order.
    case v6([UInt8])

    /// Parses the text form (`10.0.0.1`, `::1`, `[::1]`); nil when `text` is not an address.
    ///
    /// Only the standard forms: `127.1` or `2130706433` are names here, and the resolver, which
    /// reads them as the system does, turns them into addresses that are then checked.
    public init?(_ text: String) {
        var text = Substring(text)
        if text.hasPrefix("["), text.hasSuffix("]") { text = text.dropFirst().dropLast() }
        // A zone (`fe80::1%eth0`) only says which interface; the address is what is checked.
        if let percent = text.firstIndex(of: "%") { text = text[..<percent] }
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, String(text), &v4) == 1 {
            self = .v4(UInt32(bigEndian: v4.s_addr))
        } else if inet_pton(AF_INET6, String(text), &v6) == 1 {
            self = .v6(withUnsafeBytes(of: &v6) { Array($0) })
        } else {
            return nil
        }
    }

    /// Four or sixteen bytes in network order.
    public var bytes: [UInt8] {
        switch self {
        case .v4(let value): return withUnsafeBytes(of: value.bigEndian) { Array($0) }
        case .v6(let bytes): return bytes
        }
    }

    /// The IPv4 address an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) stands for.
    public var mappedIPv4: IPAddress? {
        guard case .v6(let bytes) = self, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF
        else { return nil }
        return .v4(bytes[12..<16].reduce(0) { $0 << 8 | UInt32($1) })
    }

    public var description: String {
        switch self {
        case .v4(let value):
            return [24, 16, 8, 0].map { String(value >> UInt32($0) & 0xFF) }.joined(separator: ".")
        case .v6(var bytes):
            var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            _ = inet_ntop(AF_INET6, &bytes, &text, socklen_t(text.count))
            return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }
}

/// A block of addresses in CIDR form (`10.0.0.0/8`, `fc00::/7`), or one address.
public struct AddressRange: Hashable, Sendable, CustomStringConvertible {
    public let base: IPAddress
    public let prefixLength: Int

    /// Parses `address/length` or a single address; nil when it is neither.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let base = IPAddress(String(parts[0])) else { return nil }
        let bits = base.bytes.count * 8
        if parts.count == 2 {
            guard let length = Int(parts[1]), (0...bits).contains(length) else { return nil }
            prefixLength = length
        } else {
            prefixLength = bits
        }
        self.base = base
    }

    public func contains(_ address: IPAddress) -> Bool {
        let a = base.bytes
        let b = address.bytes
        guard a.count == b.count else { return false }
        var remaining = prefixLength
        for i in 0..<a.count where remaining > 0 {
            let mask: UInt8 = remaining >= 8 ? 0xFF : ~(0xFF >> UInt8(remaining))
            if a[i] & mask != b[i] & mask { return false }
            remaining -= 8
        }
        return true
    }

    public var description: String { "\(base)/\(prefixLength)" }
}

/// What kind of address an address is, for the fetch guard: nil for a public (globally reachable)
/// address, otherwise a few words that name its kind in an error.
///
/// The blocks follow IANA's special-purpose registries (RFC 6890 and its updates): everything
/// not globally reachable is named. IPv6 outside 2000::/3 (global unicast) is refused as a whole,
/// and the IPv6 forms that carry an IPv4 address (mapped, NAT64, 6to4) are judged by that address.
enum AddressKind {
    private static let ipv4: [(AddressRange, String)] = [
        ("0.0.0.0/8", "an unspecified (this-network) address"),
        ("10.0.0.0/8", "a private address"),
        ("100.64.0.0/10", "a shared (carrier-grade NAT) address"),
        ("127.0.0.0/8", "a loopback address"),
        ("169.254.0.0/16", "a link-local address (where cloud metadata services listen)"),
        ("172.16.0.0/12", "a private address"),
        ("192.0.0.0/24", "an IETF protocol address"),
        ("192.0.2.0/24", "a documentation address"),
        ("192.88.99.0/24", "a 6to4 relay address"),
        ("192.168.0.0/16", "a private address"),
        ("198.18.0.0/15", "a benchmarking address"),
        ("198.51.100.0/24", "a documentation address"),
        ("203.0.113.0/24", "a documentation address"),
        ("224.0.0.0/4", "a multicast address"),
        ("240.0.0.0/4", "a reserved address"),
    ].map { (AddressRange($0.0)!, $0.1) }

    private static let ipv6: [(AddressRange, String)] = [
        ("::/128", "an unspecified address"),
        ("::1/128", "a loopback address"),
        ("fc00::/7", "a unique-local (private) address"),
        ("fe80::/10", "a link-local address"),
        ("fec0::/10", "a site-local address"),
        ("ff00::/8", "a multicast address"),
        ("64:ff9b:1::/48", "a local NAT64 address"),
        ("2001::/23", "an IETF protocol address (Teredo and others)"),
        ("2001:db8::/32", "a documentation address"),
        ("3fff::/20", "a documentation address"),
    ].map { (AddressRange($0.0)!, $0.1) }

    private static let globalUnicast = AddressRange("2000::/3")!
    private static let nat64 = AddressRange("64:ff9b::/96")!
    private static let sixToFour = AddressRange("2002::/16")!

    /// Nil when `address` is public.
    static func restricted(_ address: IPAddress) -> String? {
        switch address {
        case .v4:
            return ipv4.first { $0.0.contains(address) }?.1
        case .v6(let bytes):
            if let kind = ipv6.first(where: { $0.0.contains(address) })?.1 { return kind }
            if let v4 = address.mappedIPv4 { return restricted(v4).map { "\($0) (IPv4-mapped)" } }
            if nat64.contains(address) {
                let v4 = IPAddress.v4(bytes[12..<16].reduce(0) { $0 << 8 | UInt32($1) })
                return restricted(v4).map { "\($0) (through NAT64)" }
            }
            if sixToFour.contains(address) {
                let v4 = IPAddress.v4(bytes[2..<6].reduce(0) { $0 << 8 | UInt32($1) })
                return restricted(v4).map { "\($0) (through 6to4)" }
            }
            return globalUnicast.contains(address) ? nil : "not a global unicast address"
        }
    }
}
