import Catalogue
import Foundation
import Testing
import VSearchCore
import VSearchTesting

@testable import CataloguePostgres

/// What only the PostgreSQL backend has: its address, its schema versions, pgvector's limits, and
/// the errors of a database that cannot be used. Every error must be one line naming the URL
/// without its password, and none may crash the program.
@Suite(.serialized, PostgresScope()) struct PostgresCatalogueTests {
    /// The description of the error `body` throws, checked to be one line without the password.
    static func failure(_ body: () async throws -> Void) async -> String {
        do {
            try await body()
        } catch {
            let text = "\(error)"
            #expect(!text.contains("\n"), "one line: \(text)")
            #expect(!text.contains("secret"), "no password: \(text)")
            return text
        }
        Issue.record("no error")
        return ""
    }

    @Test func aSchemaFromANewerVSearchIsRefused() async throws {
        let url = try await Fixture.newDatabase()
        let catalogue = try await PostgresCatalogue.open(url: url)
        await catalogue.close()
        try await SharedServer.require().psql(
            "INSERT INTO vsearch_schema_migrations (version, name) VALUES (999, 'from the future')",
            database: Fixture.databaseName(url))
        for mode in [CatalogueStore.Mode.write, .read] {
            let text = await Self.failure { _ = try await PostgresCatalogue.open(url: url, mode: mode) }
            #expect(text.hasPrefix(url + ": "))
            #expect(text.contains("version 999, newer than this vsearch knows (4)"))
        }
    }

    /// A reader neither creates tables nor mistakes a wrong database for an empty catalogue.
    @Test func aReaderFindsNoCatalogueInAnEmptyDatabaseAndCreatesNothing() async throws {
        let url = try await Fixture.newDatabase()
        let text = await Self.failure { _ = try await PostgresCatalogue.open(url: url, mode: .read) }
        #expect(text == url + ": no catalogue here; build one with `vsearch ingest`")
        let tables = try await SharedServer.require().psql(
            "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'vsearch%'", database: Fixture.databaseName(url))
        #expect(tables.trimmingCharacters(in: .whitespacesAndNewlines) == "0")
        await (try await PostgresCatalogue.open(url: url)).close()
        let reader = try await PostgresCatalogue.open(url: url, mode: .read)
        #expect(try await reader.count() == 0)
        await reader.close()
    }

    @Test func opensTwiceWithoutMigratingAgain() async throws {
        let url = try await Fixture.newDatabase()
        let first = try await PostgresCatalogue.open(url: url)
        try await first.bind(modelID: "test/1", dimension: 3, switching: false)
        try await first.put([Samples.staged("a")], vectors: Samples.unit([1, 2, 3]), onlyNew: false)
        let second = try await PostgresCatalogue.open(url: url)
        #expect(try await second.items().map(\.id) == ["a"])
        // A write through one is seen by the other's next search: no reload.
        try await second.put([Samples.staged("b")], vectors: Samples.unit([3, 2, 1]), onlyNew: false)
        let found = try await first.search([Samples.unit([3, 2, 1])], modelID: "test/1", query: CatalogueQuery(k: 1))
        #expect(found[0].map(\.id) == ["b"])
        let versions = try await SharedServer.require().psql(
            "SELECT string_agg(version::text, ',' ORDER BY version) FROM vsearch_schema_migrations",
            database: Fixture.databaseName(url))
        #expect(versions.trimmingCharacters(in: .whitespacesAndNewlines) == "1,2,3,4")
        await first.close()
        await second.close()
    }

    @Test func aMissingDatabaseAndAClosedPortAreOneLineErrors() async throws {
        let server = try SharedServer.require()
        let missing = server.url(database: "no_such_database")
        let text = await Self.failure { _ = try await PostgresCatalogue.open(url: missing) }
        #expect(text == missing + #": database "no_such_database" does not exist (SQLSTATE 3D000)"#)

        let port = try FreePort.find()
        let closed = "postgres://vsearch:secret@127.0.0.1:\(port)/vsearch"
        let refused = await Self.failure { _ = try await PostgresCatalogue.open(url: closed) }
        #expect(refused.hasPrefix("postgres://vsearch@127.0.0.1:\(port)/vsearch: cannot connect: "))
        #expect(refused.contains("refused"))
    }

    /// A role that logs in with a password, owning a database without pgvector, which it may not
    /// install (pgvector is not a trusted extension): the wrong password, then the missing extension,
    /// each one line; once a superuser installs it, the right password from `$PGPASSWORD` opens it.
    @Test func aWrongPasswordAndAMissingExtensionAreOneLineErrors() async throws {
        let server = try SharedServer.require()
        try await server.psql("CREATE ROLE pwuser LOGIN PASSWORD 'right-one'")
        try await server.psql("CREATE DATABASE pwdb OWNER pwuser")
        // pg_hba.conf takes the first line that matches: this one before the script's `trust`.
        let hba = server.directory + "/data/pg_hba.conf"
        let rules = try String(contentsOfFile: hba, encoding: .utf8)
        try ("host all pwuser 127.0.0.1/32 scram-sha-256\n" + rules).write(
            toFile: hba, atomically: false, encoding: .utf8)
        try await server.psql("SELECT pg_reload_conf()")

        let wrong = "postgres://pwuser:secret@127.0.0.1:\(server.port)/pwdb"
        let refused = await Self.failure { _ = try await PostgresCatalogue.open(url: wrong) }
        #expect(
            refused
                == #"postgres://pwuser@127.0.0.1:\#(server.port)/pwdb: password authentication failed for user "pwuser" (SQLSTATE 28P01)"#
        )

        let address = try PostgresAddress(
            "postgres://pwuser@127.0.0.1:\(server.port)/pwdb", environment: ["PGPASSWORD": "right-one"])
        let missing = await Self.failure { _ = try await PostgresCatalogue.open(address) }
        #expect(missing.hasPrefix(address.redacted + ": the pgvector extension ('vector') is not installed"))
        #expect(missing.contains("permission denied"))

        try await server.psql("CREATE EXTENSION vector", database: "pwdb")
        let catalogue = try await PostgresCatalogue.open(address)
        #expect(try await catalogue.count() == 0)
        await catalogue.close()
    }

    @Test func aBadAddressIsRefusedBeforeConnecting() async throws {
        for (url, reason) in [
            ("postgres://127.0.0.1:5432/db", "no user name"),
            ("postgres://u:secret@/db", "no host"),
            ("postgres://u@h/db?sslmode=sometimes", "sslmode 'sometimes'"),
            ("postgres://u@h/db?connect_timeout=3", "unknown parameter 'connect_timeout'"),
        ] {
            let text = await Self.failure { _ = try PostgresAddress(url, environment: [:]) }
            #expect(text.contains(reason), "\(url): \(text)")
        }
    }

    @Test func addressesFollowLibpq() throws {
        let plain = try PostgresAddress("postgres://vsearch@127.0.0.1:5433/vsearch", environment: [:])
        #expect(plain.user == "vsearch" && plain.password == nil && plain.host == "127.0.0.1")
        #expect(plain.port == 5433 && plain.database == "vsearch" && plain.tls == .prefer)
        let withPassword = try PostgresAddress(
            "postgresql://me:p%40ss@db.example.com/cat?sslmode=verify-full", environment: ["PGPASSWORD": "other"])
        #expect(withPassword.password == "p@ss" && withPassword.port == 5432 && withPassword.tls == .verifyFull)
        #expect(withPassword.redacted == "postgres://me@db.example.com:5432/cat?sslmode=verify-full")
        let fromEnvironment = try PostgresAddress("postgres://me@[::1]:6000", environment: ["PGPASSWORD": "pw"])
        #expect(fromEnvironment.password == "pw" && fromEnvironment.host == "::1")
        #expect(fromEnvironment.database == "me")
        #expect(fromEnvironment.redacted == "postgres://me@[::1]:6000/me")
        #expect(PostgresAddress.isPostgres("postgres://x@y/z") && !PostgresAddress.isPostgres("/tmp/store"))
    }

    /// Over pgvector's HNSW limit of 2,000 dimensions there is no index, and searches scan exactly.
    @Test func overTwoThousandDimensionsSearchesExactly() async throws {
        let url = try await Fixture.newDatabase()
        let catalogue = try await PostgresCatalogue.open(url: url)
        let dimension = 2048
        let items = try await Samples.fill(catalogue, count: 60, dimension: dimension, seed: 7, model: "big/1")
        let queries = Samples.vectors(3, dimension: dimension, seed: 70)
        let found = try await catalogue.search(queries, modelID: "big/1", query: CatalogueQuery(k: 5))
        for (query, matches) in zip(queries, found) {
            #expect(matches.map(\.id) == Samples.bruteForce(query, items: items, k: 5).map(\.0))
        }
        #expect(try await catalogue.vector(ofItem: "item-3") == items[3].vector)
        let indexes = try await SharedServer.require().psql(
            "SELECT count(*) FROM pg_indexes WHERE tablename = 'vsearch_items' AND indexdef LIKE '%hnsw%'",
            database: Fixture.databaseName(url))
        #expect(indexes.trimmingCharacters(in: .whitespacesAndNewlines) == "0")
        await catalogue.close()

        // A model of 1,280 dimensions, as EfficientNet-Lite0's, gets the HNSW index.
        let small = try await PostgresCatalogue.open(url: url)
        try await small.bind(modelID: "lite0/1", dimension: 1280, switching: true)
        let indexed = try await SharedServer.require().psql(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'vsearch_items' AND indexdef LIKE '%hnsw%'",
            database: Fixture.databaseName(url))
        #expect(indexed.contains("vector_ip_ops"))
        await small.close()
    }

    /// Over 2,000 dimensions a search reads this process's copy of the vectors (`VectorMirror`): it must
    /// give the SQL scan's hits, and see every write of another replica at its next search.
    @Test func theMirrorOfAnUnindexedModelMatchesTheScanAndFollowsAnotherReplicasWrites() async throws {
        let url = try await Fixture.newDatabase()
        let reader = try await PostgresCatalogue.open(url: url)
        let writer = try await PostgresCatalogue.open(url: url)
        let dimension = 2048
        var items = try await Samples.fill(writer, count: 80, dimension: dimension, seed: 11, model: "big/1")
        let queries = Samples.vectors(4, dimension: dimension, seed: 110)
        // One picture's vectors: a shared first half (scaled alike) and their own second halves.
        let picture = Samples.vectors(6, dimension: dimension / 2, seed: 111).map {
            Samples.unit(queries[0][..<(dimension / 2)] + $0)
        }

        func expectTheScansHits(_ step: String) async throws {
            let query = CatalogueQuery(k: 5)
            let mirrored = try await reader.search(queries, modelID: "big/1", query: query)
            let scanned = try await PostgresCatalogue.$searchesMirror.withValue(false) {
                try await reader.search(queries, modelID: "big/1", query: query)
            }
            for (q, (a, b)) in zip(queries, zip(mirrored, scanned)) {
                #expect(a.map(\.id) == b.map(\.id), "\(step)")
                #expect(a.map(\.title) == b.map(\.title), "\(step)")
                #expect(a.map(\.id) == Samples.bruteForce(q, items: items, k: 5).map(\.0), "\(step)")
                for (x, y) in zip(a, b) { #expect(abs(x.score - y.score) < 1e-4, "\(step)") }
            }
            var regions = CatalogueQuery(k: 3)
            regions.sharedPrefix = dimension / 2
            let pictureHits = try await reader.search(regions: [picture], modelID: "big/1", query: regions)
            let pictureScan = try await PostgresCatalogue.$searchesMirror.withValue(false) {
                try await reader.search(regions: [picture], modelID: "big/1", query: regions)
            }
            #expect(pictureHits.map { $0.map(\.id) } == pictureScan.map { $0.map(\.id) }, "\(step)")
        }

        try await expectTheScansHits("first search")
        // Another replica adds an item, replaces a vector, renames an item and removes one.
        try await writer.put([Samples.staged("new-1")], vectors: queries[1], onlyNew: false)
        items.append((id: "new-1", vector: queries[1]))
        try await writer.put([Samples.staged("item-3")], vectors: queries[2], onlyNew: false)
        items[3].vector = queries[2]
        try await expectTheScansHits("after an add and a replace")
        #expect(
            try await reader.search([queries[1]], modelID: "big/1", query: CatalogueQuery(k: 1))[0].first?.id == "new-1"
        )
        #expect(
            try await reader.search([queries[2]], modelID: "big/1", query: CatalogueQuery(k: 1))[0].first?.id
                == "item-3")

        let best = try #require(
            try await reader.search([queries[3]], modelID: "big/1", query: CatalogueQuery(k: 1))[0].first)
        try await writer.updateMetadata(id: best.id, title: "renamed", url: best.url, attributes: "{}")
        #expect(
            try await reader.search([queries[3]], modelID: "big/1", query: CatalogueQuery(k: 1))[0].first?.title
                == "renamed")
        #expect(try await writer.remove(ids: ["item-3", best.id]).count == 2)
        items.removeAll { $0.id == "item-3" || $0.id == best.id }
        try await expectTheScansHits("after a remove")
        #expect(
            try await reader.search([queries[2]], modelID: "big/1", query: CatalogueQuery(k: 5))[0].contains {
                $0.id == "item-3"
            } == false)

        // A model switch: the mirror starts again from the new binding.
        try await writer.bind(modelID: "big/2", dimension: dimension, switching: true)
        items = try await Samples.fill(writer, count: 30, dimension: dimension, seed: 12, model: "big/2")
        let switched = try await reader.search(queries, modelID: "big/2", query: CatalogueQuery(k: 5))
        for (q, found) in zip(queries, switched) {
            #expect(found.map(\.id) == Samples.bruteForce(q, items: items, k: 5).map(\.0))
        }
        await reader.close()
        await writer.close()
    }

    /// A table changed by hand (here one item's title set to NULL, which vsearch never writes) is not what
    /// vsearch made. Every search, the mirror's and the SQL scan's alike, and every read of the item must then
    /// fail with one line naming the item and the column; the mirror used to skip each row it could not decode,
    /// and left the item out without a word.
    @Test func aRowChangedByHandIsAnErrorNotAMissingItem() async throws {
        let url = try await Fixture.newDatabase()
        let catalogue = try await PostgresCatalogue.open(url: url)
        // Over pgvector's HNSW limit, where the mirror answers every search.
        let items = try await Samples.fill(catalogue, count: 12, dimension: 2048, seed: 13, model: "big/1")
        let queries = Samples.vectors(2, dimension: 2048, seed: 130)
        let before = try await catalogue.search(queries, modelID: "big/1", query: CatalogueQuery(k: 3))
        #expect(before[0].map(\.id) == Samples.bruteForce(queries[0], items: items, k: 3).map(\.0))

        // The change token moves as after any write, so the mirror lists the table again.
        _ = try await SharedServer.require().psql(
            """
            ALTER TABLE vsearch_items ALTER COLUMN title DROP NOT NULL;
            UPDATE vsearch_items SET title = NULL WHERE id = '\(items[0].id)';
            SELECT nextval('vsearch_changes');
            """,
            database: Fixture.databaseName(url))
        let mirrored = await Self.failure {
            _ = try await catalogue.search(queries, modelID: "big/1", query: CatalogueQuery(k: 3))
        }
        #expect(mirrored.contains("cannot list the catalogue's vectors"), "\(mirrored)")
        #expect(mirrored.contains("item '\(items[0].id)': column 'title' is NULL"), "\(mirrored)")
        let scanned = await Self.failure {
            _ = try await PostgresCatalogue.$searchesMirror.withValue(false) {
                // Every item is a hit, the damaged one too.
                try await catalogue.search(queries, modelID: "big/1", query: CatalogueQuery(k: items.count))
            }
        }
        #expect(scanned.contains("item '\(items[0].id)': column 'title' is NULL"), "\(scanned)")
        // The item list and the item itself name it too.
        let listed = await Self.failure { _ = try await catalogue.items() }
        #expect(listed.contains("cannot list the items: item '\(items[0].id)': column 'title' is NULL"), "\(listed)")
        let read = await Self.failure { _ = try await catalogue.item(id: items[0].id) }
        #expect(read.contains("item '\(items[0].id)': column 'title' is NULL"), "\(read)")
        await catalogue.close()
    }

    /// A match event is recorded, the history trimmed to the newest `limit`, and the event announced, in one
    /// statement; an event id already recorded is neither recorded again nor announced.
    @Test func announcingRecordsTrimsAndNotifiesOnce() async throws {
        let url = try await Fixture.newDatabase()
        let catalogue = try await PostgresCatalogue.open(url: url)
        let heard = Locked<[String]>([])
        let connected = AsyncStream.makeStream(of: Void.self)
        let listening = Task {
            await catalogue.listenForMatchEvents(
                connected: { connected.continuation.yield() },
                received: { event in heard.withLock { $0.append(event.eventID) } })
        }
        for await _ in connected.stream { break }
        let events = (1...5).map {
            StoredMatchEvent(
                eventID: "e-\($0)", json: "{\"event_id\": \"e-\($0)\"}", queryJPEG: nil,
                createdAt: Date(timeIntervalSince1970: 1_700_000_000 + Double($0)))
        }
        for event in events { try await catalogue.announceMatchEvent(event, keepingLast: 3) }
        var duplicate = events[4]
        duplicate.json = "{\"event_id\": \"e-5\", \"again\": true}"
        try await catalogue.announceMatchEvent(duplicate, keepingLast: 3)
        try await catalogue.announceMatchEvent(
            StoredMatchEvent(eventID: "e-6", json: "{}", queryJPEG: nil, createdAt: Date()), keepingLast: 3)

        // Notifications arrive in commit order; e-6 is the last, so once it is heard all are.
        for _ in 0..<500 where heard.withLock({ $0.last }) != "e-6" { try await Task.sleep(for: .milliseconds(10)) }
        #expect(heard.withLock { $0 } == ["e-1", "e-2", "e-3", "e-4", "e-5", "e-6"])
        let kept = try await catalogue.recentMatchEvents(limit: 10)
        #expect(Set(kept.map(\.eventID)) == ["e-4", "e-5", "e-6"])
        #expect(kept.first { $0.eventID == "e-5" }?.json == events[4].json)
        listening.cancel()
        await catalogue.close()
    }
}
