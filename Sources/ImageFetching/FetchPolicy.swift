/// Which addresses a guarded fetch may connect to: public addresses always, and the blocks an
/// operator allowed on top (`vsearch serve --allow-fetch-from loopback|private|link-local|CIDR`).
public struct FetchAddressPolicy: Sendable, Equatable {
    /// Blocks allowed although they are not public.
    public var allowed: [AddressRange]

    public init(allowing allowed: [AddressRange] = []) { self.allowed = allowed }

    /// Public addresses only: what the server fetches for its clients by default.
    public static let publicOnly = FetchAddressPolicy()

    /// The blocks a name on the command line stands for: `loopback`, `private`, `link-local`, or
    /// one CIDR block or address.
    public static func blocks(named name: String) -> [AddressRange]? {
        let names: [String: [String]] = [
            "loopback": ["127.0.0.0/8", "::1/128"],
            "private": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"],
            "link-local": ["169.254.0.0/16", "fe80::/10"],
        ]
        if let blocks = names[name.lowercased()] { return blocks.compactMap(AddressRange.init) }
        return AddressRange(name).map { [$0] }
    }

    /// Why `address` may not be fetched (the kind of address it is, as "a private address"), or nil
    /// when it may.
    public func refusal(of address: IPAddress) -> String? {
        guard let kind = AddressKind.restricted(address) else { return nil }
        let candidates = [address] + (address.mappedIPv4.map { [$0] } ?? [])
        if candidates.contains(where: { candidate in allowed.contains { $0.contains(candidate) } }) { return nil }
        return kind
    }
}

/// Turns a host name into addresses. The seam exists so that tests can say what a name resolves
/// to without asking any DNS server.
public protocol HostResolver: Sendable {
    /// The addresses `host` (a name, not an address literal) stands for.
    func addresses(of host: String) async throws -> [IPAddress]
}

/// A fetch's answer, its body read up to the fetch's byte limit.
public struct FetchResponse: Sendable {
    public var status: Int
    /// The `Location` header of a redirect.
    public var location: String?
    public var body: [UInt8]

    public init(status: Int, location: String?, body: [UInt8]) {
        self.status = status
        self.location = location
        self.body = body
    }
}

/// Sends one GET for `url` over a connection to `address`, which the guard has checked, and
/// follows no redirect: the guard checks each one before it is followed. The seam exists so that
/// tests can record every connection that would be made and keep all of them on loopback.
public protocol FetchConnector: Sendable {
    func get(_ url: String, connectingTo address: IPAddress, limit: Int, options: FetchOptions) async throws
        -> FetchResponse
}

/// What guards fetches made for someone other than the operator: the address policy, and the
/// resolver and connector that let the guard connect to exactly the address it checked.
public struct FetchGuard: Sendable {
    public var policy: FetchAddressPolicy
    public var resolver: any HostResolver
    public var connector: any FetchConnector
    /// Redirects followed, each checked like the first URL.
    public var maxRedirects = 5

    public init(
        policy: FetchAddressPolicy = .publicOnly, resolver: any HostResolver = SystemResolver(),
        connector: any FetchConnector = HTTPClientConnector()
    ) {
        self.policy = policy
        self.resolver = resolver
        self.connector = connector
    }
}
