import Foundation
import VSearchCore

/// A real Mosquitto broker for tests, on a free loopback port, with its own
/// configuration in a temporary directory.
///
/// It can be stopped and started again on the same port, to test what
/// clients do when the broker goes away.
public final class MosquittoBroker: Sendable {
    public let port: Int
    public let directory: URL
    /// The running broker; `start` and `stop` may come from different tasks.
    private let process = Locked<Process?>(nil)

    /// The CA certificate that signed a TLS broker's certificate (nil for plain TCP).
    public let caFile: String?

    /// Writes the configuration; `users` (name → password) turns anonymous access off, and `tls`
    /// makes a throwaway CA and a certificate for 127.0.0.1 with openssl and listens with TLS only.
    /// The tools run on their own thread: an RSA key takes openssl long enough to stall the cooperative pool.
    public init(users: [String: String] = [:], tls: Bool = false) async throws {
        port = try FreePort.find()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("vsearch-broker-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var config = "listener \(port) 127.0.0.1\npersistence false\nmax_queued_messages 100000\n"
        if users.isEmpty {
            config += "allow_anonymous true\n"
        } else {
            let passwords = directory.appendingPathComponent("passwd").path
            _ = FileManager.default.createFile(atPath: passwords, contents: Data())
            try await onOwnThread {
                for (user, password) in users.sorted(by: { $0.key < $1.key }) {
                    try Tool.run("mosquitto_passwd", ["-b", passwords, user, password])
                }
            }
            config += "allow_anonymous false\npassword_file \(passwords)\n"
        }
        if tls {
            let directory = directory.path
            let files = try await onOwnThread { try Self.makeCertificates(in: directory) }
            config += "cafile \(files.ca)\ncertfile \(files.certificate)\nkeyfile \(files.key)\n"
            caFile = files.ca
        } else {
            caFile = nil
        }
        try config.write(to: configURL, atomically: true, encoding: .utf8)
    }

    private static func makeCertificates(in directory: String) throws -> (ca: String, certificate: String, key: String)
    {
        let ca = directory + "/ca.pem"
        let caKey = directory + "/ca.key"
        let key = directory + "/server.key"
        let request = directory + "/server.csr"
        let certificate = directory + "/server.pem"
        let extensions = directory + "/san.ext"
        try "subjectAltName=IP:127.0.0.1\n".write(toFile: extensions, atomically: true, encoding: .utf8)
        try Tool.run(
            "openssl",
            [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=vsearch test CA",
                "-keyout", caKey, "-out", ca,
            ])
        try Tool.run(
            "openssl",
            ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", request])
        try Tool.run(
            "openssl",
            [
                "x509", "-req", "-in", request, "-CA", ca, "-CAkey", caKey, "-CAcreateserial", "-days", "1",
                "-extfile", extensions, "-out", certificate,
            ])
        // The broker drops root privileges to the mosquitto user, which must still read these.
        for file in [ca, key, certificate] {
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: file)
        }
        return (ca, certificate, key)
    }

    deinit {
        if let running = takeProcess() { Self.kill(running) }
        try? FileManager.default.removeItem(at: directory)
    }

    private var configURL: URL { directory.appendingPathComponent("mosquitto.conf") }

    /// `mqtt://127.0.0.1:PORT`.
    public var url: String { "mqtt://127.0.0.1:\(port)" }

    /// Starts the broker and waits until it accepts connections.
    ///
    /// The wait runs on its own thread, for two reasons. It must not hold a thread of the cooperative pool:
    /// on two cores that would stall every other test. And it must not be a `Task.sleep` loop on that pool:
    /// under AddressSanitizer, with the whole suite in one process, CPU-bound tests keep both of the pool's
    /// threads busy for longer than the 10 s deadline, so such a loop woke up after the deadline and
    /// reported a broker that had been listening all along as one that never did.
    public func start() async throws {
        let process = Process()
        process.executableURL = try Tool.find("mosquitto")
        process.arguments = ["-c", configURL.path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        self.process.withLock { $0 = process }
        let (port, config, running) = (port, configURL.path, SendableProcess(process))
        try await onOwnThread {
            let deadline = Date().addingTimeInterval(10)
            while true {
                if FreePort.accepts(port) { return }
                guard running.value.isRunning else {
                    throw TestFailure("mosquitto exited at once (config \(config))")
                }
                guard Date() < deadline else {
                    throw TestFailure("mosquitto did not listen on port \(port) within 10 s")
                }
                Thread.sleep(forTimeInterval: 0.02)
            }
        }
    }

    /// Stops the broker abruptly (SIGKILL, as a crash or a power cut would) and waits for it to exit,
    /// off the cooperative pool.
    public func stop() async {
        guard let running = takeProcess() else { return }
        let process = SendableProcess(running)
        _ = try? await onOwnThread { Self.kill(process.value) }
    }

    private func takeProcess() -> Process? {
        process.withLock { process -> Process? in
            defer { process = nil }
            return process
        }
    }

    /// SIGTERM is not enough: a child started from a dispatch thread inherits its blocked signals.
    private static func kill(_ running: Process) {
        guard running.isRunning else { return }
        Foundation.kill(running.processIdentifier, SIGKILL)
        running.waitUntilExit()
    }
}
