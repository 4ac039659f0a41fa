import Catalogue
import Foundation
import ImageDecoding
import ImageFetching
import LocalFeatures
import VSearchCore

/// The photos of a catalogue's items, read from its download cache (remote items) or from their
/// files (local items), without the network: an evaluation measures the catalogue as ingested.
public struct StorePhotos: EvalPhotos {
    /// The items evaluated, in catalogue order.
    public let items: [CatalogueItem]
    let cacheDirectory: String
    let decoder: ImageDecoder
    let shortSide: Int

    /// The ready items of `store`, or `limit` of them spread evenly over the catalogue.
    public init(store: CatalogueStore, shortSide: Int, limit: Int? = nil) throws(CatalogueError) {
        self.init(items: try store.items(), cacheDirectory: store.cacheDirectory, shortSide: shortSide, limit: limit)
    }

    /// The ready ones of a catalogue's `items` (in catalogue order), or `limit` of them spread
    /// evenly; remote images are read from `cacheDirectory`, where the ingest downloaded them.
    public init(items: [CatalogueItem], cacheDirectory: String, shortSide: Int, limit: Int? = nil) {
        let ready = items.filter { $0.state == .ready }
        if let limit, limit > 0, limit < ready.count {
            self.items = (0..<limit).map { ready[$0 * ready.count / limit] }
        } else {
            self.items = ready
        }
        self.cacheDirectory = cacheDirectory
        decoder = ImageDecoder()
        self.shortSide = shortSide
    }

    public var count: Int { items.count }

    public func name(of item: Int) -> String { items[item].id }

    public func photo(_ item: Int) throws -> Image {
        let url = items[item].url
        let path =
            ImageFetcher.isRemote(url)
            ? ImageFetcher.cachePath(for: url, in: cacheDirectory) : ImageFetcher.localPath(url)
        guard FileManager.default.fileExists(atPath: path) else {
            throw EvalError.photo(url: url, reason: "the image is not in the store's cache")
        }
        return try decoder.decode(file: path, targetShortSide: shortSide)
    }
}

/// Searches a catalogue through its own index (the embedded store's flat or HNSW index, or
/// pgvector's), as `vsearch search` does, and ranks the right item among the first `depth` matches.
public struct StoreRetrieval: RetrievalTarget {
    let store: any CatalogueBackend
    let ids: [String]
    let modelID: String
    let depth: Int
    let windowPenalty: Float
    let sharedPrefix: Int
    /// The model's check of the best candidates, and how it describes a query picture for it.
    let check: CandidateCheck?
    let describe: (@Sendable (Image) -> LocalFeatures?)?

    /// `ids[item]` is the store id of evaluation item `item`; `modelID` is the queries' model, and
    /// `windowPenalty` and `sharedPrefix` its descriptor's (`CatalogueQuery`). With `check`, the
    /// query pictures are described by `describe` and the store checks its best candidates, as
    /// `vsearch search` has it do.
    public init(
        store: any CatalogueBackend, ids: [String], modelID: String, depth: Int = 100, windowPenalty: Float = 0,
        sharedPrefix: Int = 0, check: CandidateCheck? = nil, describe: (@Sendable (Image) -> LocalFeatures?)? = nil
    ) {
        self.store = store
        self.ids = ids
        self.modelID = modelID
        self.depth = max(1, depth)
        self.windowPenalty = windowPenalty
        self.sharedPrefix = sharedPrefix
        self.check = check
        self.describe = describe
    }

    public func ranks(of item: Int, queries: [[[Float]]]) async throws -> [Int] {
        try await ranks(of: item, queries: queries, check: nil)
    }

    public func ranks(of item: Int, queries: [[[Float]]], pictures: [Image]) async throws -> [Int] {
        guard var check, let describe else { return try await ranks(of: item, queries: queries, check: nil) }
        check.pictures = pictures.map(describe)
        return try await ranks(of: item, queries: queries, check: check)
    }

    private func ranks(of item: Int, queries: [[[Float]]], check: CandidateCheck?) async throws -> [Int] {
        let results = try await store.search(
            regions: queries, modelID: modelID,
            query: CatalogueQuery(k: depth, windowPenalty: windowPenalty, sharedPrefix: sharedPrefix, check: check))
        return results.map { matches in
            guard let position = matches.firstIndex(where: { $0.id == ids[item] }) else { return 0 }
            let score = matches[position].score
            return 1 + matches.indices.count { $0 != position && matches[$0].score >= score }
        }
    }
}
