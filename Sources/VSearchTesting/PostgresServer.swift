import Foundation
import VSearchCore

#if canImport(Glibc)
    import Glibc
#endif

/// A real PostgreSQL 16 with pgvector for tests, started by `scripts/postgres.sh` in a fresh
/// directory under `/tmp` on a free loopback port.
///
/// The directory is short and right under `/tmp` on purpose: as root, the script runs the server as
/// a service user that must be able to enter every directory above it. Each suite starts its own
/// server (about a second) and stops it with ``stop()``, which also removes the directory, so no
/// server outlives the tests and no two suites share a port.
public final class PostgresServer: Sendable {
    /// The cluster's directory.
    public let directory: String
    /// `postgres://vsearch@127.0.0.1:PORT/vsearch`, as the script printed it.
    public let url: String
    /// The port it listens on.
    public let port: Int

    private init(directory: String, url: String, port: Int) {
        self.directory = directory
        self.url = url
        self.port = port
    }

    /// Starts a server; throws with the script's output when it cannot.
    public static func start() async throws -> PostgresServer {
        let made = try await runProcess("/usr/bin/mktemp", ["-d", "/tmp/vsearch-pg-XXXXXX"])
        let directory = made.output.trimmingCharacters(in: .whitespacesAndNewlines)
        guard made.status == 0, !directory.isEmpty else { throw TestFailure("mktemp -d failed: \(made.error)") }
        let started = try await script("start", directory)
        let url = started.output.split(separator: "\n").last.map(String.init) ?? ""
        guard started.status == 0, url.hasPrefix("postgres://"),
            let port = url.split(separator: ":").last?.split(separator: "/").first.flatMap({ Int($0) })
        else {
            try? FileManager.default.removeItem(atPath: directory)
            throw TestFailure("scripts/postgres.sh start \(directory) failed (\(started.status)): \(started.error)")
        }
        return PostgresServer(directory: directory, url: url, port: port)
    }

    /// The URL of another database on this server (which may not exist).
    public func url(database: String) -> String {
        "postgres://vsearch@127.0.0.1:\(port)/\(database)"
    }

    /// A new, empty database on this server (without the vector extension: opening creates it); returns its URL.
    public func newDatabase() async throws -> String {
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        try await psql("CREATE DATABASE \(name)")
        return url(database: String(name))
    }

    /// Runs SQL through the server's own `psql` (pgserver's, as the script uses); returns what it printed.
    @discardableResult
    public func psql(_ sql: String, database: String = "vsearch") async throws -> String {
        let bin = try await runProcess(
            "/bin/bash",
            [
                "-c",
                "ls -d \"$1\"/.venv/lib/python3.*/site-packages/pgserver/pginstall/bin \"$2\"/pg/pgserver/pginstall/bin "
                    + "2>/dev/null | head -n 1",
                "find-bin", Repository.root, directory,
            ])
        let directory = bin.output.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !directory.isEmpty else { throw TestFailure("no psql from pgserver in \(Repository.root)/.venv") }
        let result = try await runProcess(
            directory + "/psql",
            ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql, url(database: database)])
        guard result.status == 0 else { throw TestFailure("psql failed (\(result.status)): \(result.error)") }
        return result.output
    }

    /// Stops the server and removes its directory.
    public func stop() async throws {
        let stopped = try await Self.script("stop", directory)
        try? FileManager.default.removeItem(atPath: directory)
        guard stopped.status == 0 else { throw TestFailure("scripts/postgres.sh stop failed: \(stopped.error)") }
    }

    /// Runs `scripts/postgres.sh COMMAND DIR` to its end.
    ///
    /// Not through Foundation's `Process`: on Linux it learns that a child ended when a socket the
    /// child inherits closes, and the server that `pg_ctl start` leaves running inherits it too, so
    /// `start` would never be seen to end. Here the child closes every descriptor above standard
    /// error first, so the server inherits none of the tests' files or sockets, and the script's end
    /// is awaited with waitpid on a thread of its own.
    private static func script(_ command: String, _ directory: String) async throws -> ProcessOutput {
        let scratch = try TemporaryDirectory("postgres-script")
        let out = scratch.path + "/out"
        let err = scratch.path + "/err"
        // The shell closes whatever descriptors it inherited above standard error, then runs the script.
        let closeAll = #"for fd in $(ls /proc/$$/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done; exec bash "$@""#
        let arguments = [
            "/bin/bash", "-c", closeAll, "postgres.sh", Repository.root + "/scripts/postgres.sh", command, directory,
        ]
        let status = try await onOwnThread { () throws -> Int32 in
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            posix_spawn_file_actions_addopen(&actions, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            let argv = arguments.map { strdup($0) } + [nil]
            defer { for pointer in argv { free(pointer) } }
            var pid: pid_t = 0
            let spawned = posix_spawn(&pid, arguments[0], &actions, nil, argv, environ)
            guard spawned == 0 else { throw TestFailure("cannot run scripts/postgres.sh: error \(spawned)") }
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 {
                guard errno == EINTR else { throw TestFailure("waitpid for scripts/postgres.sh: errno \(errno)") }
            }
            // WIFEXITED and WEXITSTATUS, which Swift does not import.
            return status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        }
        return ProcessOutput(
            status: status, output: try String(contentsOfFile: out, encoding: .utf8),
            error: try String(contentsOfFile: err, encoding: .utf8))
    }
}
