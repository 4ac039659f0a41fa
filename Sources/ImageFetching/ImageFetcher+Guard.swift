import Foundation

extension FetchGuard {
    /// The address to connect to for `url`, after checking every address its host resolves to;
    /// `given` is the URL the client gave, which errors name (it differs from `url` after a redirect).
    func checkedAddress(of url: String, givenAs given: String) async throws(FetchError) -> IPAddress {
        let via = url == given ? "" : "it redirects to \(url), and "
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(),
            scheme == "http" || scheme == "https",
            let host = parsed.host, !host.isEmpty
        else { throw .refused(url: given, reason: "\(via)only http:// and https:// URLs with a host can be fetched") }
        let addresses: [IPAddress]
        if let literal = IPAddress(host) {
            addresses = [literal]
        } else {
            do {
                addresses = try await resolver.addresses(of: host)
            } catch {
                throw .failed(url: given, reason: "\(via)cannot resolve \(host): \(error)")
            }
        }
        guard let first = addresses.first else { throw .failed(url: given, reason: "\(via)\(host) has no address") }
        // Every address must pass, not just the one dialled: a name that mixes public and private
        // addresses is refused rather than trusted to keep pointing at the public one.
        for address in addresses {
            if let kind = policy.refusal(of: address) {
                let subject = IPAddress(host) == nil ? "\(host) resolves to \(address), which" : "\(address)"
                throw .refused(
                    url: given,
                    reason: "\(via)\(subject) is \(kind), and the fetch policy allows only public addresses "
                        + "and the blocks it names")
            }
        }
        return first
    }
}

extension ImageFetcher {
    /// A GET that checks the address of the URL and of every redirect before it connects, and
    /// connects to the address it checked.
    func guardedGet(_ url: String, limit: Int, fetchGuard: FetchGuard) async throws -> FetchResponse {
        var current = url
        for _ in 0...fetchGuard.maxRedirects {
            let address = try await fetchGuard.checkedAddress(of: current, givenAs: url)
            let response = try await fetchGuard.connector.get(
                current, connectingTo: address, limit: limit, options: options)
            guard [301, 302, 303, 307, 308].contains(response.status), let location = response.location else {
                return response
            }
            guard let next = URL(string: location, relativeTo: URL(string: current))?.absoluteString else {
                throw FetchError.failed(url: url, reason: "redirects to '\(location)', which is not a URL")
            }
            current = next
        }
        throw FetchError.failed(url: url, reason: "more than \(fetchGuard.maxRedirects) redirects")
    }
}
