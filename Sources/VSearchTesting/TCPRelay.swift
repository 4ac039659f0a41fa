import Foundation
import VSearchCore

/// A loopback TCP relay in front of a test server, which a test can hold shut.
///
/// A client that connects while the relay is held is accepted but reaches nothing: its bytes wait
/// in the socket, as behind a stalled network, until `release()` connects it to the server. A test
/// uses this to decide the order in which clients get back to a restarted server, instead of racing
/// their reconnection backoffs against each other.
///
/// Its threads keep it alive until `close()`, which the test must call.
public final class TCPRelay: Sendable {
    /// The relay's own loopback port, for the client to connect to.
    public let port: Int
    /// The server's loopback port.
    public let serverPort: Int
    private let listener: Int32
    private let state = Locked(State())

    private struct State {
        var held = false
        var closed = false
        /// Accepted while held, not yet connected to the server.
        var parked: [Int32] = []
        /// Both ends of every forwarded connection, so that `close()` can end them.
        var forwarding: Set<Int32> = []
    }

    private enum Arrival { case refused, parked, forwarded }

    /// Listens on a free loopback port and forwards each connection to `serverPort`.
    public init(to serverPort: Int) throws {
        self.serverPort = serverPort
        (listener, port) = try FreePort.boundSocket(listening: true)
        Thread { [self] in acceptConnections() }.start()
    }

    /// Connections accepted from now on wait until `release()`.
    public func hold() {
        state.withLock { $0.held = true }
    }

    /// Connects every waiting connection to the server, and forwards new ones at once.
    public func release() {
        let parked = state.withLock { state in
            state.held = false
            defer { state.parked = [] }
            return state.parked
        }
        for client in parked { forward(client) }
    }

    /// Stops accepting and ends every connection.
    public func close() {
        let (parked, forwarding) = state.withLock { state in
            let alreadyClosed = state.closed
            state.closed = true
            defer { state.parked = [] }
            return alreadyClosed ? ([], []) : (state.parked, state.forwarding)
        }
        // shutdown, not close: the accepting and forwarding threads are blocked on these descriptors,
        // and they close them when they wake.
        shutdown(listener, Int32(SHUT_RDWR))
        for descriptor in forwarding { shutdown(descriptor, Int32(SHUT_RDWR)) }
        for client in parked { Glibc.close(client) }
    }

    private func acceptConnections() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                Glibc.close(listener)
                return
            }
            let arrival = state.withLock { state -> Arrival in
                if state.closed { return .refused }
                if state.held {
                    state.parked.append(client)
                    return .parked
                }
                return .forwarded
            }
            switch arrival {
            case .refused: Glibc.close(client)
            case .forwarded: forward(client)
            case .parked: break
            }
        }
    }

    /// Connects `client` to the server and copies bytes both ways on a thread of its own, until
    /// either side closes; then it closes the other, as the server's going away would.
    private func forward(_ client: Int32) {
        guard let server = FreePort.connectedSocket(to: serverPort) else {
            Glibc.close(client)
            return
        }
        let registered = state.withLock { state in
            guard !state.closed else { return false }
            state.forwarding.formUnion([client, server])
            return true
        }
        guard registered else {
            Glibc.close(server)
            Glibc.close(client)
            return
        }
        Thread { [self] in
            Self.copyBothWays(client, server)
            state.withLock { $0.forwarding.subtract([client, server]) }
            Glibc.close(client)
            Glibc.close(server)
        }.start()
    }

    private static func copyBothWays(_ a: Int32, _ b: Int32) {
        var descriptors = [
            pollfd(fd: a, events: Int16(POLLIN), revents: 0), pollfd(fd: b, events: Int16(POLLIN), revents: 0),
        ]
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            if poll(&descriptors, 2, -1) < 0 {
                if errno == EINTR { continue }
                return
            }
            for (index, descriptor) in descriptors.enumerated() where descriptor.revents != 0 {
                let destination = index == 0 ? b : a
                let count = buffer.withUnsafeMutableBytes { recv(descriptor.fd, $0.baseAddress, $0.count, 0) }
                if count < 0, errno == EINTR { continue }
                guard count > 0, sendAll(buffer[..<count], to: destination) else { return }
            }
        }
    }

    private static func sendAll(_ bytes: ArraySlice<UInt8>, to descriptor: Int32) -> Bool {
        var offset = bytes.startIndex
        while offset < bytes.endIndex {
            let sent = bytes[offset...].withUnsafeBytes {
                send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if sent < 0, errno == EINTR { continue }
            guard sent > 0 else { return false }
            offset += sent
        }
        return true
    }
}
