import Catalogue
import CataloguePostgres
import Featurizer
import Foundation
import HTTPTypes
import NIOCore
import Testing
import VSearchCore
import VSearchTesting

@testable import SearchServer

/// The real catalogue the tests search: eight real photos ingested with the real lite0 model,
/// built once and copied for each test.
actor Fixture {
    static let shared = Fixture()

    /// id, photo, collection attribute.
    static let catalogue: [(id: String, photo: String, collection: String)] = [
        ("coffee", "skimage/coffee.png", "kitchen"),
        ("chelsea", "skimage/chelsea.png", "animals"),
        ("astronaut", "skimage/astronaut.png", "space"),
        ("rocket", "skimage/rocket.jpg", "space"),
        ("motorcycle", "skimage/motorcycle_left.png", "vehicles"),
        ("ladybird", "mate/LadyBird.jpg", "animals"),
        ("yellow-flower", "mate/YellowFlower.jpg", "garden"),
        ("aqua", "mate/Aqua.jpg", "abstract"),
    ]

    private var featurizerLoad: Task<Featurizer, any Error>?
    private var template: TemporaryDirectory?

    /// The model, loaded once, on a thread of its own: loading takes seconds in a sanitizer build,
    /// which would hold a thread of the cooperative pool that every test shares.
    func loadFeaturizer() async throws -> Featurizer {
        if featurizerLoad == nil {
            featurizerLoad = Task {
                try await onOwnThread { try Featurizer(model: ModelDirectory(path: Repository.requireModel())) }
            }
        }
        return try await featurizerLoad!.value
    }

    /// A new copy of the ingested catalogue; the directory lives as long as the returned value.
    func store() async throws -> TemporaryDirectory {
        let template = try await templateStore()
        let copy = try TemporaryDirectory()
        try FileManager.default.removeItem(atPath: copy.path)
        try FileManager.default.copyItem(atPath: template.path + "/store", toPath: copy.path)
        return copy
    }

    private func templateStore() async throws -> TemporaryDirectory {
        if let template { return template }
        let featurizer = try await loadFeaturizer()
        let dir = try TemporaryDirectory()
        var lines: [String] = []
        for item in Self.catalogue {
            let object: [String: String] = [
                "id": item.id, "title": item.id.capitalized, "url": try Repository.photo(item.photo),
                "collection": item.collection,
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            lines.append(String(decoding: data, as: UTF8.self))
        }
        let source = dir.path + "/items.jsonl"
        try lines.joined(separator: "\n").write(toFile: source, atomically: true, encoding: .utf8)
        do {
            let store = try CatalogueStore.open(directory: dir.path + "/store", mode: .write)
            let summary = try await Ingester(store: store, featurizer: featurizer).ingest(sources: [source])
            guard summary.failures.isEmpty, summary.added == Self.catalogue.count else {
                throw TestFailure("fixture ingest: \(summary.description)")
            }
        }
        template = dir
        return dir
    }
}

/// What a test server serves: a copy of the fixture in a store directory (removed when this goes)
/// or in a new PostgreSQL database on the suite's server.
final class ServedCatalogue: Sendable {
    /// The store directory or the database's URL, as `--store` takes it.
    let location: String
    private let directory: TemporaryDirectory?

    init(location: String, directory: TemporaryDirectory?) {
        self.location = location
        self.directory = directory
    }

    /// A fresh copy of the fixture catalogue in `backend`.
    static func fixture(_ backend: Backend) async throws -> ServedCatalogue {
        let dir = try await Fixture.shared.store()
        guard backend == .postgres else { return ServedCatalogue(location: dir.path, directory: dir) }
        let url = try await SharedServer.require().newDatabase()
        try await copy(from: CatalogueStore.open(directory: dir.path, mode: .read), to: url)
        return ServedCatalogue(location: url, directory: nil)
    }

    /// Copies every item and vector of an embedded store into a new PostgreSQL catalogue.
    private static func copy(from store: CatalogueStore, to url: String) async throws {
        let catalogue = try await PostgresCatalogue.open(url: url)
        let binding = try #require(try store.binding())
        try await catalogue.bind(modelID: binding.model, dimension: binding.dimension, switching: false)
        let items = try store.items()
        var vectors: [Float] = []
        for item in items { vectors += try #require(try store.vector(ofItem: item.id)) }
        let staged = items.map { item in
            StagedItem(
                id: item.id, title: item.title, url: item.url, attributes: item.attributes,
                contentHash: item.contentHash ?? "")
        }
        try await catalogue.put(staged, vectors: vectors, onlyNew: true)
        await catalogue.close()
    }
}

/// A server over a fresh copy of the fixture catalogue, kept in `backend`.
func makeServer(
    _ backend: Backend = .embedded, _ configure: (inout ServerConfiguration) -> Void = { _ in },
    featurizer: Featurizer? = nil
) async throws -> (SearchServer, ServedCatalogue) {
    let served = try await ServedCatalogue.fixture(backend)
    var configuration = ServerConfiguration()
    configuration.port = 0
    configure(&configuration)
    return (try await serve(served, configuration: configuration, featurizer: featurizer), served)
}

/// A server over `served`, opened as `vsearch serve` opens it.
func serve(_ served: ServedCatalogue, configuration: ServerConfiguration, featurizer: Featurizer? = nil) async throws
    -> SearchServer
{
    let loaded: Featurizer
    if let featurizer {
        loaded = featurizer
    } else {
        loaded = try await Fixture.shared.loadFeaturizer()
    }
    let catalogue = try await CatalogueOpener.openForServing(served.location)
    return SearchServer(configuration: configuration, catalogue: catalogue, featurizer: loaded)
}

extension SearchServer {
    /// The embedded store's access, for the tests of its read-only mode.
    var storeAccess: StoreAccess {
        get throws { try #require(catalogue as? StoreAccess) }
    }
}

func photoBytes(_ relative: String) throws -> ByteBuffer {
    ByteBuffer(bytes: try Data(contentsOf: URL(fileURLWithPath: try Repository.photo(relative))))
}

/// A JSON body as a dictionary.
func json(_ buffer: ByteBuffer) throws -> [String: Any] {
    let object = try JSONSerialization.jsonObject(with: Data(buffer: buffer), options: [.fragmentsAllowed])
    guard let dictionary = object as? [String: Any] else {
        throw TestFailure("not a JSON object: \(String(buffer: buffer))")
    }
    return dictionary
}

/// The `error.code` of a JSON error body.
func errorCode(_ buffer: ByteBuffer) -> String? {
    ((try? json(buffer))?["error"] as? [String: Any])?["code"] as? String
}

/// The ids of a search answer's matches.
func matchIDs(_ buffer: ByteBuffer) throws -> [String] {
    try (json(buffer)["matches"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
}

/// A multipart/form-data body with text fields and files.
func multipart(
    boundary: String, fields: [(String, String)], files: [(name: String, filename: String, bytes: ByteBuffer)]
)
    -> ByteBuffer
{
    var body = ByteBuffer()
    for (name, value) in fields {
        body.writeString("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n")
    }
    for file in files {
        body.writeString(
            "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(file.name)\"; filename=\"\(file.filename)\"\r\n"
                + "Content-Type: application/octet-stream\r\n\r\n")
        var bytes = file.bytes
        body.writeBuffer(&bytes)
        body.writeString("\r\n")
    }
    body.writeString("--\(boundary)--\r\n")
    return body
}

extension HTTPFields {
    static func contentType(_ type: String) -> HTTPFields { [.contentType: type] }
}
