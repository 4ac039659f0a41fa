import Catalogue
import CataloguePostgres
import Foundation
import Testing
import VSearchTesting

#if canImport(Glibc)
    import Glibc
#endif

/// Several `vsearch ingest` processes filling one PostgreSQL catalogue from the same source.
@Suite(.serialized, PostgresScope()) struct ParallelIngestTests {
    /// Three workers on one CSV of real photos, one killed (SIGKILL) while it holds claims. The two
    /// others take over its items when its lease runs out, so that when they end every item is
    /// stored once, with the vector an ingest into a store directory computes; a re-run then finds
    /// everything unchanged.
    @Test func threeWorkersOneKilledLeaveEveryItemOnceWithItsVector() async throws {
        let (scratch, source, url, environment) = try await Self.prepare(count: 36)

        let reference = try await runVSearch(
            ["ingest", "--store", scratch.path + "/store", source.csv], environment: environment)
        try #require(reference.status == 0, "\(reference.error)")

        let arguments = ["ingest", "--store", url, "--lease", "3", "--concurrency", "2", source.csv]
        let victim = try Worker(arguments, environment: environment, in: scratch, paused: true)
        let server = try SharedServer.require()
        let database = Fixture.databaseName(url)
        // Killed once it has stored some items and holds others, which the others must then wait
        // for until its lease runs out.
        try await waitForClaims(of: victim, server: server, database: database)
        victim.kill()
        _ = try await victim.finish()
        // It died holding items, which only the others can finish. They are counted before the others
        // start: its 3-second leases may already have run out, and a running worker would take them.
        let orphaned = try await server.psql(
            "SELECT count(*) FROM vsearch_ingest_claims WHERE state = 'claimed' AND claimed_by LIKE '%:\(victim.pid):%'",
            database: database)
        #expect((Int(orphaned.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) > 0)
        let others = try (0..<2).map { _ in try Worker(arguments, environment: environment, in: scratch) }
        var embedded = 0
        for worker in others {
            let result = try await worker.finish()
            try #require(result.status == 0, "\(result.error)")
            embedded += try Self.embeddedCount(result.error)
        }
        // The two survivors embedded no item twice between them (the victim may have stored some).
        #expect(embedded <= source.count)

        let catalogue = try await PostgresCatalogue.open(url: url)
        #expect(try await catalogue.count() == source.count)
        #expect(try await catalogue.pendingCount() == 0)
        let unsettled = try await server.psql(
            "SELECT count(*) FROM vsearch_ingest_claims WHERE state <> 'done'", database: database)
        #expect(unsettled.trimmingCharacters(in: .whitespacesAndNewlines) == "0")

        let again = try await runVSearch(arguments, environment: environment)
        try #require(again.status == 0, "\(again.error)")
        #expect(
            again.error.contains("\(source.count) items: 0 added, 0 updated, \(source.count) unchanged"),
            "\(again.error)")

        let store = try CatalogueStore.open(directory: scratch.path + "/store", mode: .read)
        let ids = try await catalogue.items().map(\.id)
        #expect(ids.sorted() == source.ids.sorted())
        for id in source.ids {
            let expected = try #require(try store.vector(ofItem: id), "no vector for \(id) in the store")
            let stored = try #require(try await catalogue.vector(ofItem: id), "no vector for \(id) in PostgreSQL")
            #expect(stored.count == expected.count)
            #expect(zip(stored, expected).allSatisfy { abs($0 - $1) < 1e-4 }, "\(id)'s vector differs")
        }
        await catalogue.close()
    }

    /// Two workers started together share the items: between them they embed each one exactly once.
    @Test func twoWorkersEmbedEachItemOnce() async throws {
        let (scratch, source, url, environment) = try await Self.prepare(count: 24)
        let arguments = ["ingest", "--store", url, "--concurrency", "2", source.csv]
        let workers = try (0..<2).map { _ in try Worker(arguments, environment: environment, in: scratch) }
        var embedded = 0
        for worker in workers {
            let result = try await worker.finish()
            try #require(result.status == 0, "\(result.error)")
            embedded += try Self.embeddedCount(result.error)
        }
        #expect(embedded == source.count)
        let catalogue = try await PostgresCatalogue.open(url: url)
        #expect(try await catalogue.count() == source.count)
        #expect(try await catalogue.pendingCount() == 0)
        await catalogue.close()
    }

    /// A scratch directory with a CSV of `count` real photos (the repository has a few dozen), ids
    /// `w0`, `w1`…; a new database; and the environment that keeps the workers' cache in the scratch.
    static func prepare(count: Int) async throws -> (
        TemporaryDirectory, (csv: String, ids: [String], count: Int), String, [String: String]
    ) {
        try Repository.requireModelAndPhotos()
        let scratch = try TemporaryDirectory("pg-workers")
        let photos = Array(Repository.photoFiles().prefix(count))
        try #require(photos.count == count, "want \(count) photos under \(Repository.photos)")
        let ids = photos.indices.map { "w\($0)" }
        let rows = zip(ids, photos).map { id, photo in "\(id),photo \(id),\(photo)" }
        let csv = scratch.path + "/items.csv"
        try (["id,title,url"] + rows).joined(separator: "\n").write(toFile: csv, atomically: true, encoding: .utf8)
        return (scratch, (csv, ids, count), try await Fixture.newDatabase(), ["VSEARCH_CACHE": scratch.path + "/cache"])
    }

    /// How many items an ingest's summary line says it embedded (added and updated).
    static func embeddedCount(_ output: String) throws -> Int {
        let line = try #require(output.split(separator: "\n").last { $0.hasPrefix("ingest: ") }, "\(output)")
        let words = line.split(separator: " ")
        func number(before word: String) -> Int {
            guard let index = words.firstIndex(where: { $0.hasPrefix(word) }), index > 0 else { return 0 }
            return Int(words[index - 1]) ?? 0
        }
        return number(before: "added") + number(before: "updated")
    }

    /// Waits until `worker` (started paused), alone on the catalogue, has stored items and still
    /// holds claims: midway through its share. It returns with the worker stopped (SIGSTOP) in that
    /// state.
    ///
    /// The worker only ever runs for a short slice between two checks, timed on a thread of its own
    /// (`Worker.runBriefly(for:)`). An ingest of a few dozen photos takes about 3 seconds, and under
    /// the sanitizers, with other suites keeping the test's cooperative threads busy, a task's sleep
    /// or its next check can come seconds late: a worker left running meanwhile was once found
    /// finished before the first check.
    func waitForClaims(of worker: Worker, server: PostgresServer, database: String) async throws {
        let start = ContinuousClock.now
        var checks = 0
        var lastCheck = "none yet"
        while ContinuousClock.now - start < .seconds(300) {
            guard worker.isRunning else {
                throw TestFailure(
                    "the worker ended early, after \(checks) checks (the last: \(lastCheck)): \(worker.errorOutput)")
            }
            // Only the claims table is read: a worker stopped while binding its model holds an
            // exclusive lock on vsearch_items (the vector column is retyped), which a read of that
            // table would wait for forever; the lock timeout covers a worker stopped while it creates
            // the claims table. An item is stored in the transaction that settles its claim, so a
            // settled claim of the worker's means a stored item. Fails until the worker has created
            // the tables.
            checks += 1
            do {
                lastCheck = try await server.psql(
                    """
                    SET lock_timeout = '2s';
                    SELECT EXISTS (SELECT 1 FROM vsearch_ingest_claims
                        WHERE state = 'done' AND claimed_by LIKE '%:\(worker.pid):%')
                    AND EXISTS (SELECT 1 FROM vsearch_ingest_claims
                        WHERE state = 'claimed' AND claimed_by LIKE '%:\(worker.pid):%')
                    """, database: database
                ).trimmingCharacters(in: .whitespacesAndNewlines)
                if lastCheck == "t" { return }
            } catch {
                lastCheck = "\(error)"
            }
            await worker.runBriefly(for: .milliseconds(150))
        }
        throw TestFailure("the worker never got midway")
    }
}

/// A `vsearch` process running in the background, its output in files.
final class Worker: Sendable {
    private let process: SendableProcess
    private let out: String
    private let err: String
    let pid: Int32

    /// Starts `vsearch arguments`; `paused`, it is stopped (SIGSTOP) before it has done any work.
    init(_ arguments: [String], environment: [String: String], in scratch: TemporaryDirectory, paused: Bool = false)
        throws
    {
        let name = UUID().uuidString
        out = scratch.path + "/\(name).out"
        err = scratch.path + "/\(name).err"
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        _ = FileManager.default.createFile(atPath: err, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Repository.binary())
        process.arguments = arguments
        var environment = environment
        environment["VSEARCH_MODEL"] = Repository.model
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        process.standardOutput = FileHandle(forWritingAtPath: out)
        process.standardError = FileHandle(forWritingAtPath: err)
        try process.run()
        self.process = SendableProcess(process)
        pid = process.processIdentifier
        if paused { pause() }
    }

    var isRunning: Bool { process.value.isRunning }

    /// Kills the process at once, as a crash or an out-of-memory kill would (a stopped one too).
    func kill() { _ = Glibc.kill(pid, SIGKILL) }

    /// Stops the process where it is (SIGSTOP), holding whatever it holds.
    func pause() { _ = Glibc.kill(pid, SIGSTOP) }

    /// Lets a stopped process run for about `duration`, then stops it again.
    ///
    /// The slice is timed by a thread of its own, blocking in `usleep`, not by a task: a task's
    /// sleep ends only when a cooperative thread is free to resume it, which can be seconds late
    /// while other tests keep them busy.
    func runBriefly(for duration: Duration) async {
        let pid = pid
        let microseconds = UInt32(duration / .microseconds(1))
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                _ = Glibc.kill(pid, SIGCONT)
                usleep(microseconds)
                _ = Glibc.kill(pid, SIGSTOP)
                continuation.resume()
            }
        }
    }

    /// Waits for the process to end; its status and what it wrote on standard error.
    func finish() async throws -> (status: Int32, error: String) {
        let status = try await process.value.exited()
        return (status, try String(contentsOfFile: err, encoding: .utf8))
    }

    /// What it has written on standard error so far.
    var errorOutput: String { (try? String(contentsOfFile: err, encoding: .utf8)) ?? "" }
}
