import Catalogue
import CataloguePostgres
import Foundation
import Logging
import Testing
import VSearchTesting

/// A fresh, empty catalogue of one backend: a new store directory, or a new database on the suite's server.
final class Fixture: Sendable {
    let backend: any CatalogueBackend
    /// The URL of the PostgreSQL database, or the store directory.
    let location: String
    private let directory: TemporaryDirectory?

    private init(backend: any CatalogueBackend, location: String, directory: TemporaryDirectory?) {
        self.backend = backend
        self.location = location
        self.directory = directory
    }

    /// A fresh catalogue; with a `dimension`, bound to model `test/1` of that dimension.
    static func make(_ kind: Backend, dimension: Int? = nil, logger: Logger? = nil) async throws -> Fixture {
        let fixture = try await empty(kind, logger: logger ?? Logger(label: "vsearch.tests"))
        if let dimension { try await fixture.backend.bind(modelID: "test/1", dimension: dimension, switching: false) }
        return fixture
    }

    private static func empty(_ kind: Backend, logger: Logger) async throws -> Fixture {
        switch kind {
        case .embedded:
            let directory = try TemporaryDirectory("pgtests")
            let store = try CatalogueStore.open(directory: directory.path, mode: .write, logger: logger)
            return Fixture(backend: store, location: directory.path, directory: directory)
        case .postgres:
            let url = try await newDatabase()
            return Fixture(
                backend: try await PostgresCatalogue.open(url: url, logger: logger), location: url, directory: nil)
        }
    }

    /// A new database on the suite's server, without the vector extension (opening creates it).
    static func newDatabase() async throws -> String { try await SharedServer.require().newDatabase() }

    /// The database's name, for `psql` (PostgreSQL fixtures only).
    var database: String { Self.databaseName(location) }

    /// The database a `postgres://` URL names.
    static func databaseName(_ url: String) -> String { String(url.split(separator: "/").last ?? "") }

    func close() async { await backend.close() }
}

/// Test data: items, unit vectors and a brute-force search to check rankings against.
enum Samples {
    static func staged(_ id: String, title: String? = nil, attributes: String = "{}") -> StagedItem {
        StagedItem(
            id: id, title: title ?? "item \(id)", url: "https://example.com/\(id).jpg", attributes: attributes,
            contentHash: "hash-\(id)")
    }

    /// Binds `catalogue` to `model` and stores `count` items `item-0`, `item-1`… with random unit
    /// vectors, 500 to a batch; returns them for brute-force checks.
    static func fill(
        _ catalogue: any CatalogueBackend, count: Int, dimension: Int, seed: UInt64, model: String = "test/1",
        attributes: (String) -> String = { _ in "{}" }
    ) async throws -> [(id: String, vector: [Float])] {
        try await catalogue.bind(modelID: model, dimension: dimension, switching: false)
        let vectors = vectors(count, dimension: dimension, seed: seed)
        let items = vectors.enumerated().map { (id: "item-\($0.offset)", vector: $0.element) }
        for start in stride(from: 0, to: count, by: 500) {
            let batch = items[start..<min(count, start + 500)]
            try await catalogue.put(
                batch.map { staged($0.id, attributes: attributes($0.id)) }, vectors: batch.flatMap(\.vector),
                onlyNew: false)
        }
        return items
    }

    /// `count` unit vectors of `dimension`, the same for the same `seed`.
    static func vectors(_ count: Int, dimension: Int, seed: UInt64) -> [[Float]] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        func next() -> Float {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return Float(state % 2_000_001) / 1_000_000 - 1
        }
        return (0..<count).map { _ in unit((0..<dimension).map { _ in next() }) }
    }

    static func unit(_ values: [Float]) -> [Float] {
        let norm = values.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return values.map { $0 / norm }
    }

    /// The ids of the `k` items of `items` with the highest inner product with `query`, best first.
    static func bruteForce(_ query: [Float], items: [(id: String, vector: [Float])], k: Int) -> [(String, Float)] {
        let scored: [(String, Float)] = items.map { item in (item.id, dot(query, item.vector)) }
        let ranked = scored.sorted { a, b in a.1 != b.1 ? a.1 > b.1 : a.0 < b.0 }
        return Array(ranked.prefix(k))
    }

    static func dot(_ a: [Float], _ b: [Float]) -> Float {
        var sum: Float = 0
        for (x, y) in zip(a, b) { sum += x * y }
        return sum
    }
}
