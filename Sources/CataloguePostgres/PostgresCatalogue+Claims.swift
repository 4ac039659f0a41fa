import Catalogue
import Foundation
import Logging
import PostgresNIO

extension PostgresCatalogue {
    /// Registers an ingest's ids in `vsearch_ingest_claims` and returns this worker's share of them.
    ///
    /// The sources' ids, in order, make a job: every worker reading the same sources computes the
    /// same job and works on the same rows. A job whose items are all settled (a finished ingest)
    /// is started again, so that the new run checks every item as an ingest into a store
    /// directory does; a job in progress is joined. Registration runs in one transaction under
    /// an advisory lock on the job, so that of several workers starting together one restarts a
    /// finished job and the others join it.
    public func ingestClaims(ids: [String], lease: Duration) async throws(CatalogueError) -> any IngestClaims {
        let seconds = max(1, Double(lease.components.seconds) + Double(lease.components.attoseconds) / 1e18)
        let job = try await transaction("cannot register \(ids.count) items for ingest") { connection in
            var job = ""
            for try await (key, ) in try await connection.query(
                "SELECT md5(array_to_string(\(ids)::text[], chr(10)))", logger: logger
            ).decode((String,).self) {
                job = key
            }
            try await connection.query("SELECT pg_advisory_xact_lock(hashtext(\(job)))", logger: logger)
            var restart = false
            for try await (finished, ) in try await connection.query(
                """
                SELECT EXISTS (SELECT 1 FROM vsearch_ingest_claims WHERE job = \(job))
                    AND NOT EXISTS (SELECT 1 FROM vsearch_ingest_claims WHERE job = \(job) AND state <> 'done')
                """, logger: logger
            ).decode((Bool,).self) {
                restart = finished
            }
            // In slices, so that a large catalogue's ids do not make one enormous statement.
            for start in stride(from: 0, to: ids.count, by: 10_000) {
                let slice = Array(ids[start..<min(ids.count, start + 10_000)])
                try await connection.query(
                    """
                    INSERT INTO vsearch_ingest_claims AS c (job, id, ordinal)
                    SELECT \(job), id, \(start) + n FROM unnest(\(slice)::text[]) WITH ORDINALITY AS t(id, n)
                    ON CONFLICT (job, id) DO UPDATE SET state = 'open', claimed_by = NULL, claimed_until = NULL,
                        done_at = NULL
                    WHERE \(restart) AND c.state = 'done'
                    """, logger: logger)
            }
            return job
        }
        return PostgresIngestClaims(catalogue: self, job: job, lease: seconds)
    }
}

/// One ingest worker's share of a job in `vsearch_ingest_claims` (see
/// ``PostgresCatalogue/ingestClaims(ids:lease:)``).
///
/// Claims are taken with `FOR UPDATE SKIP LOCKED`, so workers claiming at once never wait for
/// each other nor take the same item. A claim holds for a lease that a background task renews
/// while the worker lives; when a worker is killed its leases run out, and its items go to a
/// worker still running (which waits for them) or to the next ingest of the same sources. An
/// item is settled in the transaction that stores it, so it is never settled unstored; a worker
/// killed between storing and settling leaves it claimed, and the next worker finds it stored
/// with the same content hash and does not embed it again.
final class PostgresIngestClaims: IngestClaims {
    private let catalogue: PostgresCatalogue
    private let job: String
    /// The lease in seconds.
    private let lease: Double
    /// Who holds a claim, for `claimed_by`: host, process and a random part, so that a process
    /// ingesting twice, or a reused process id, is never taken for an earlier worker.
    private let worker: String
    /// Renews this worker's leases until ``end()``.
    private let renewing: Task<Void, Never>

    init(catalogue: PostgresCatalogue, job: String, lease: Double) {
        self.catalogue = catalogue
        self.job = job
        self.lease = lease
        let worker =
            "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier):"
            + UUID().uuidString.prefix(8).lowercased()
        self.worker = worker
        renewing = Task {
            // Three renewals per lease: one late or failed renewal does not lose the claims.
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(lease / 3))
                if Task.isCancelled { break }
                do throws(CatalogueError) {
                    _ = try await catalogue.rows(
                        "cannot renew the ingest claims of \(worker)",
                        """
                        UPDATE vsearch_ingest_claims SET claimed_until = now() + make_interval(secs => \(lease))
                        WHERE job = \(job) AND claimed_by = \(worker) AND state = 'claimed'
                        """)
                } catch {
                    catalogue.logger.warning("\(error.description)")
                }
            }
        }
    }

    deinit { renewing.cancel() }

    func claim(limit: Int) async throws(CatalogueError) -> [IngestClaim] {
        let rows = try await catalogue.rows(
            "cannot claim items to ingest",
            """
            WITH picked AS (
                SELECT id FROM vsearch_ingest_claims
                WHERE job = \(job) AND (state = 'open' OR (state = 'claimed' AND claimed_until < now()))
                ORDER BY ordinal LIMIT \(max(1, limit)) FOR UPDATE SKIP LOCKED)
            UPDATE vsearch_ingest_claims c
            SET state = 'claimed', claimed_by = \(worker), claimed_until = now() + make_interval(secs => \(lease))
            FROM picked WHERE c.job = \(job) AND c.id = picked.id
            RETURNING c.id, c.ordinal
            """)
        var claimed: [(id: String, ordinal: Int64)] = []
        for row in rows {
            // A row skipped here would stay claimed by this worker, unprocessed, until its lease ran out.
            let (id, ordinal) = try catalogue.decoded("cannot claim items to ingest") {
                try row.decode((String, Int64).self)
            }
            claimed.append((id, ordinal))
        }
        guard !claimed.isEmpty else { return [] }
        claimed.sort { $0.ordinal < $1.ordinal }
        let ids = claimed.map(\.id)
        let doing = "cannot read \(ids.count) claimed items"
        let stored = try catalogue.items(
            from: try await catalogue.rows(
                doing,
                "SELECT \(unescaped: PostgresCatalogue.itemColumns) FROM vsearch_items WHERE id = ANY(\(ids))"),
            doing)
        let byID = Dictionary(stored.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        return ids.map { IngestClaim(id: $0, stored: byID[$0]) }
    }

    func waitForWork() async throws(CatalogueError) -> Bool {
        let poll = min(1, lease / 4)
        while true {
            let rows = try await catalogue.rows(
                "cannot read the ingest's progress",
                """
                SELECT count(*) FILTER (WHERE state = 'open' OR claimed_until < now()),
                    count(*) FILTER (WHERE state = 'claimed' AND claimed_by <> \(worker))
                FROM vsearch_ingest_claims WHERE job = \(job) AND state <> 'done'
                """)
            guard let (free, held) = try? rows.first?.decode((Int64, Int64).self) else {
                throw .store(path: catalogue.location, reason: "cannot read the ingest's progress: no answer")
            }
            if free > 0 { return true }
            if held == 0 { return false }
            do {
                try await Task.sleep(for: .seconds(poll))
            } catch {
                return false
            }
        }
    }

    func store(_ staged: [StagedItem], vectors: [Float]) async throws(CatalogueError) {
        guard !staged.isEmpty else { return }
        let ids = staged.map(\.id)
        try await catalogue.transaction(PostgresCatalogue.storing(staged)) { connection in
            try await catalogue.write(staged, vectors: vectors, onlyNew: false, on: connection)
            try await connection.query(
                """
                UPDATE vsearch_ingest_claims SET state = 'done', done_at = now(), claimed_until = NULL
                WHERE job = \(job) AND id = ANY(\(ids))
                """, logger: catalogue.logger)
        }
        await catalogue.noteChange()
    }

    func settle(ids: [String]) async throws(CatalogueError) {
        guard !ids.isEmpty else { return }
        _ = try await catalogue.rows(
            "cannot settle \(ids.count == 1 ? "item '\(ids[0])'" : "\(ids.count) items") of the ingest",
            """
            UPDATE vsearch_ingest_claims SET state = 'done', done_at = now(), claimed_until = NULL
            WHERE job = \(job) AND id = ANY(\(ids))
            """)
    }

    func end() async {
        renewing.cancel()
        await renewing.value
        // What this worker holds unsettled (after a failure) is free at once for the others.
        _ = try? await catalogue.rows(
            "cannot hand back the ingest claims of \(worker)",
            """
            UPDATE vsearch_ingest_claims SET state = 'open', claimed_by = NULL, claimed_until = NULL
            WHERE job = \(job) AND claimed_by = \(worker) AND state = 'claimed'
            """)
    }
}
