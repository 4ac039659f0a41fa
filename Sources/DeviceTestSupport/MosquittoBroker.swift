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
    public init(users: [String: String] = [:], tls: Bool = false) throws {
        port = try FreePort.find()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("vsearch-broker-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var config = "listener \(port) 127.0.0.1\npersistence false\nmax_queued_messages 100000\n"
        if users.isEmpty {
            config += "allow_anonymous true\n"
        } else {
            let passwords = directory.appendingPathComponent("passwd")
            _ = FileManager.default.createFile(atPath: passwords.path, contents: Data())
            for (user, password) in users.sorted(by: { $0.key < $1.key }) {
                try Tool.run("mosquitto_passwd", ["-b", passwords.path, user, password])
            }
            config += "allow_anonymous false\npassword_file \(passwords.path)\n"
        }
        if tls {
            let files = try Self.makeCertificates(in: directory.path)
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
        stop()
        try? FileManager.default.removeItem(at: directory)
    }

    private var configURL: URL { directory.appendingPathComponent("mosquitto.conf") }

    /// `mqtt://127.0.0.1:PORT`.
    public var url: String { "mqtt://127.0.0.1:\(port)" }

    /// Starts the broker and waits until it accepts connections.
    public func start() throws {
        let process = Process()
        process.executableURL = try Tool.find("mosquitto")
        process.arguments = ["-c", configURL.path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        self.process.withLock { $0 = process }
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if FreePort.accepts(port) { return }
            guard process.isRunning else {
                throw TestSupportError("mosquitto exited at once (config \(configURL.path))")
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        throw TestSupportError("mosquitto did not listen on port \(port) within 10 s")
    }

    /// Stops the broker abruptly (SIGKILL, as a crash or a power cut would) and waits for it to exit.
    ///
    /// SIGTERM is not enough: a child started from a dispatch thread inherits its blocked signals.
    public func stop() {
        let running = process.withLock { process -> Process? in
            defer { process = nil }
            return process
        }
        guard let running, running.isRunning else { return }
        kill(running.processIdentifier, SIGKILL)
        running.waitUntilExit()
    }
}

/// A failure of the test harness itself (a missing tool, a broker that did not start).
public struct TestSupportError: VSearchError {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Runs the command-line tools tests need (mosquitto, ffmpeg).
public enum Tool {
    /// The executable's URL, from `PATH` or /usr/sbin (where Debian puts mosquitto).
    public static func find(_ name: String) throws -> URL {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":").map(String.init) + ["/usr/sbin", "/usr/local/sbin"] {
            let candidate = URL(fileURLWithPath: directory).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw TestSupportError("\(name) is not installed (bash scripts/install-deps.sh installs it)")
    }

    /// Runs `name arguments` and throws with its standard error when it fails.
    public static func run(_ name: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = try find(name)
        process.arguments = arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let text = String(decoding: message, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
            throw TestSupportError("\(name) failed (\(process.terminationStatus)): \(text)")
        }
    }
}

/// Loopback ports for test servers.
public enum FreePort {
    /// A port nothing listens on now (the kernel's choice for an ephemeral bind).
    public static func find() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestSupportError("socket() failed") }
        defer { close(fd) }
        var address = loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else { throw TestSupportError("bind() failed") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw TestSupportError("getsockname() failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// True when something accepts TCP connections on 127.0.0.1:`port`.
    public static func accepts(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = loopback(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        return connected == 0
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return address
    }
}
