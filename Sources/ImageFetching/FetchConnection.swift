import AsyncHTTPClient
import Dispatch
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The system's resolver (`getaddrinfo`: /etc/hosts, then DNS), on a thread of its own because
/// it blocks.
public struct SystemResolver: HostResolver {
    public init() {}

    public func addresses(of host: String) async throws -> [IPAddress] {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try Self.lookUp(host) }) }
        }
    }

    private static func lookUp(_ host: String) throws -> [IPAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
            hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &list)
        guard status == 0 else { throw ResolverError(reason: String(cString: gai_strerror(status))) }
        defer { freeaddrinfo(list) }
        var addresses: [IPAddress] = []
        var entry = list
        while let info = entry?.pointee {
            if let sockaddr = info.ai_addr {
                if info.ai_family == AF_INET {
                    let address = sockaddr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
                    addresses.append(.v4(UInt32(bigEndian: address.s_addr)))
                } else if info.ai_family == AF_INET6 {
                    var address = sockaddr.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                        $0.pointee.sin6_addr
                    }
                    addresses.append(.v6(withUnsafeBytes(of: &address) { Array($0) }))
                }
            }
            entry = info.ai_next
        }
        var seen = Set<IPAddress>()
        return addresses.filter { seen.insert($0).inserted }
    }

    struct ResolverError: Error, CustomStringConvertible {
        let reason: String
        var description: String { reason }
    }
}

/// Connects through AsyncHTTPClient to the address the guard checked, never to one of its own
/// lookup.
///
/// AsyncHTTPClient's `dnsOverride` maps the URL's host to the checked address literal: the client
/// then dials that address without resolving anything, and still sends the URL's host as `Host`,
/// as the TLS server name (SNI) and as the name the certificate must carry. So HTTPS keeps full
/// verification against the name while the socket goes only where the check said, and a DNS
/// answer that changes between the check and the connection (rebinding) changes nothing. Each
/// request gets a client of its own because the override is per client; a guarded fetch is one
/// client request, not an ingest of thousands, so the lost connection reuse costs little.
public struct HTTPClientConnector: FetchConnector {
    public init() {}

    public func get(_ url: String, connectingTo address: IPAddress, limit: Int, options: FetchOptions) async throws
        -> FetchResponse
    {
        guard let host = URL(string: url)?.host, !host.isEmpty else {
            throw FetchError.failed(url: url, reason: "the URL names no host")
        }
        var configuration = ImageFetcher.clientConfiguration(options)
        configuration.redirectConfiguration = .disallow
        // AsyncHTTPClient keys the override by the host as it serializes it: bare for names and
        // IPv4, in brackets for IPv6. Both spellings are given so that an IPv6 literal URL cannot
        // slip past the override into a connection of its own.
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        configuration.dnsOverride = [bare: address.description, "[\(bare)]": address.description]
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            let response = try await ImageFetcher.get(url, client: client, limit: limit, options: options)
            try await client.shutdown()
            return response
        } catch {
            try? await client.shutdown()
            throw error
        }
    }
}
