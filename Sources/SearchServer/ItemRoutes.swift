import Catalogue
import Foundation
import Hummingbird

extension SearchServer {
    func addItemRoutes(to routes: RouteRecorder) {
        routes.add(.get, "/api/v1/items") { request, _ in try await self.listItems(request) }
        routes.add(.get, "/api/v1/items/:id") { _, context in
            try Self.json(ItemResponse(try await self.item(context.parameters.require("id"))))
        }
        routes.add(.get, "/api/v1/items/:id/similar") { request, context in
            try await self.similar(request, id: context.parameters.require("id"))
        }
        routes.add(.get, "/api/v1/items/:id/thumbnail") { request, context in
            try await self.thumbnail(request, id: context.parameters.require("id"))
        }
        routes.add(.post, "/api/v1/items") { request, _ in try await self.createItem(request) }
        routes.add(.patch, "/api/v1/items/:id") { request, context in
            try await self.updateItem(request, id: context.parameters.require("id"))
        }
        routes.add(.delete, "/api/v1/items/:id") { request, context in
            try await self.deleteItem(request, id: context.parameters.require("id"))
        }
    }

    private func item(_ id: String) async throws -> CatalogueItem {
        guard let item = try await catalogue.reader.item(id: id) else {
            throw APIError.notFound("item '\(id)': no such item")
        }
        return item
    }

    private func listItems(_ request: Request) async throws -> Response {
        let parameters = request.uri.queryParameters
        let offset = try Self.integer(parameters.get("offset"), name: "offset", default: 0, range: 0...Int.max)
        let limit = try Self.integer(parameters.get("limit"), name: "limit", default: 24, range: 1...200)
        let store = catalogue.reader
        let page = try await store.items(offset: offset, limit: limit).map(ItemResponse.init)
        return try Self.json(ItemPage(items: page, total: try await store.count(), offset: offset, limit: limit))
    }

    private func similar(_ request: Request, id: String) async throws -> Response {
        let k = try Self.integer(
            request.uri.queryParameters.get("k"), name: "k", default: 8, range: 1...SearchOptions.maxK)
        let store = catalogue.reader
        _ = try await item(id)
        guard let vector = try await store.vector(ofItem: id), let model = try await store.binding()?.model else {
            throw APIError(.conflict, "item_pending", "item '\(id)': its vector is not computed yet")
        }
        // The item's own photo is the query: its stored local features check the best candidates, as a
        // search's picture does. Its vector is an item's, [a ; s] / √2, whose halves weigh the same.
        var check = CandidateCheck(model: featurizer, pictures: [try await store.localFeatures(ofItem: id)])
        if check?.plainWeight != nil { check?.plainWeight = 0.5 }
        let found = try await store.search(
            regions: [[vector]], modelID: model,
            query: CatalogueQuery(k: k + 1, sharedPrefix: featurizer.sharedPrefix, check: check))
        let matches = (found.first ?? []).filter { $0.id != id }.prefix(k).map(MatchResult.init)
        return try Self.json(MatchList(matches: Array(matches)))
    }

    private func thumbnail(_ request: Request, id: String) async throws -> Response {
        let size = try Self.integer(
            request.uri.queryParameters.get("size"), name: "size", default: 256, range: Thumbnailer.sizes)
        let downloader = self.downloader
        // The download lands in this replica's cache, so the next thumbnail of the item is read there.
        let fetch: (@Sendable (String) async -> [UInt8]?)? =
            catalogue.fetchesMissingImages ? { @Sendable url in try? await downloader.download(url) } : nil
        let jpeg = try await thumbnails.thumbnail(
            of: try await item(id), size: size, catalogue: catalogue.reader, fetch: fetch)
        return Response(
            status: .ok, headers: [.contentType: "image/jpeg", .cacheControl: "public, max-age=86400"],
            body: .init(byteBuffer: ByteBuffer(bytes: jpeg)))
    }

    // MARK: Writes

    private func createItem(_ request: Request) async throws -> Response {
        try requireWriteAccess(request)
        let store = try await catalogue.writer()
        let contentType = request.headers[.contentType]?.lowercased() ?? ""
        var fields = ItemRequestBody()
        var imageBytes: [UInt8]?
        if contentType.hasPrefix("multipart/form-data") {
            for part in try await multipartParts(request, contentType: contentType) {
                switch part.name {
                case "image": imageBytes = part.body
                case "id": fields.id = part.text
                case "title": fields.title = part.text
                case "url": fields.url = part.text.isEmpty ? nil : part.text
                case "attributes":
                    fields.attributes = try Self.attributes(
                        APIJSON.decode(JSONValue.self, from: Data(part.body), what: "attributes"))
                default: break
                }
            }
            guard imageBytes != nil else {
                throw APIError.badRequest("missing_image", "multipart body: no file field named 'image'")
            }
        } else if contentType.hasPrefix("application/json") {
            fields = try APIJSON.decode(
                ItemRequestBody.self, from: Data(buffer: try await readBody(request)), what: "item")
            guard fields.url != nil else { throw APIError.badRequest("missing_url", "item: give \"url\" of its image") }
        } else {
            throw APIError(
                .unsupportedMediaType, "unsupported_media_type",
                "Content-Type '\(contentType)': send multipart/form-data or application/json")
        }
        let id = try Self.itemID(fields.id)
        guard let title = fields.title?.trimmingCharacters(in: .whitespacesAndNewlines), !title.isEmpty else {
            throw APIError.badRequest("missing_title", "item '\(id)': give a title")
        }
        if let url = fields.url { try Self.checkImageURL(url) }
        // Checked here to answer early, and again when the item is written: two requests creating
        // the same id at once both pass this check, and only the write decides between them.
        guard try await store.item(id: id) == nil else { throw APIError.from(catalogue: .exists(id: id)) }
        let saved = try await putItem(
            store: store, id: id, title: title, url: fields.url ?? "", attributes: fields.attributes ?? [:],
            imageBytes: imageBytes, onlyNew: true)
        return try Self.json(ItemResponse(saved), status: .created)
    }

    private func updateItem(_ request: Request, id: String) async throws -> Response {
        try requireWriteAccess(request)
        let store = try await catalogue.writer()
        let existing = try await item(id)
        let contentType = request.headers[.contentType]?.lowercased() ?? ""
        guard contentType.hasPrefix("application/json") else {
            throw APIError(.unsupportedMediaType, "unsupported_media_type", "PATCH item: send application/json")
        }
        let fields = try APIJSON.decode(
            ItemRequestBody.self, from: Data(buffer: try await readBody(request)), what: "item")
        if let newID = fields.id, newID != id {
            throw APIError.badRequest("bad_request", "item '\(id)': the id cannot be changed")
        }
        let title = fields.title?.trimmingCharacters(in: .whitespacesAndNewlines) ?? existing.title
        guard !title.isEmpty else {
            throw APIError.badRequest("missing_title", "item '\(id)': the title cannot be empty")
        }
        let attributes = fields.attributes ?? JSONValue.object(text: existing.attributes)
        if let url = fields.url, url != existing.url {
            // A new image URL means a new image: fetch it and recompute the vector.
            try Self.checkImageURL(url)
            let saved = try await putItem(
                store: store, id: id, title: title, url: url, attributes: attributes, imageBytes: nil)
            return try Self.json(ItemResponse(saved))
        }
        try await store.updateMetadata(
            id: id, title: title, url: existing.url, attributes: try Self.text(attributes))
        return try Self.json(ItemResponse(try await item(id)))
    }

    private func deleteItem(_ request: Request, id: String) async throws -> Response {
        try requireWriteAccess(request)
        let store = try await catalogue.writer()
        guard try await !store.remove(ids: [id]).isEmpty else { throw APIError.notFound("item '\(id)': no such item") }
        return Response(status: .noContent)
    }

    /// Embeds an item's image (given, or fetched from `url`) and stores the item with its vector.
    private func putItem(
        store: any CatalogueBackend, id: String, title: String, url: String, attributes: [String: JSONValue],
        imageBytes: [UInt8]?, onlyNew: Bool = false
    ) async throws -> CatalogueItem {
        let bytes: [UInt8]
        if let imageBytes {
            bytes = imageBytes
        } else {
            do {
                bytes = try await downloader.download(url)
            } catch {
                throw APIError.from(error)
            }
        }
        let query = try await embed(bytes, name: "item '\(id)' image", for: .item)
        try await store.bind(modelID: featurizer.descriptor.id, dimension: featurizer.dimension, switching: false)
        let contentHash = CatalogueStore.contentHash(bytes)
        // The image is kept before the item that names it is written, so no reader finds the item
        // without its picture.
        try await store.cacheImage(
            bytes, forURL: url.isEmpty ? CatalogueStore.uploadedImageKey(contentHash: contentHash) : url)
        let staged = StagedItem(
            id: id, title: title, url: url, attributes: try Self.text(attributes), contentHash: contentHash,
            localFeatures: query.localFeatures)
        try await store.put([staged], vectors: query.vectors[0], onlyNew: onlyNew)
        return try await item(id)
    }

    // MARK: Checks

    /// Refuses a write unless an API key is configured and presented.
    func requireWriteAccess(_ request: Request) throws(APIError) {
        guard let key = configuration.apiKey, !key.isEmpty else {
            throw APIError(
                .forbidden, "writes_disabled",
                "writes are disabled: the server has no API key configured")
        }
        var presented = request.headers[.init("X-API-Key")!]
        if let authorization = request.headers[.authorization], authorization.lowercased().hasPrefix("bearer ") {
            presented = String(authorization.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        }
        guard let presented, Self.constantTimeEqual(presented, key) else {
            throw APIError(
                .unauthorized, "unauthorized", "a write needs a valid API key: Authorization: Bearer KEY or X-API-Key",
                headers: [.wwwAuthenticate: "Bearer"])
        }
    }

    /// Whether `presented` equals `key`, in a time that depends only on the presented key's
    /// length (which its sender knows): every presented byte is compared, with no early exit and
    /// no loop bounded by the secret's length.
    static func constantTimeEqual(_ presented: String, _ key: String) -> Bool {
        let x = Array(presented.utf8)
        let y = Array(key.utf8)
        var difference = UInt(bitPattern: x.count ^ y.count)
        for i in x.indices { difference |= UInt(x[i] ^ (y.isEmpty ? 0 : y[i % y.count])) }
        return difference == 0
    }

    static func itemID(_ id: String?) throws(APIError) -> String {
        guard let id = id?.trimmingCharacters(in: .whitespacesAndNewlines), !id.isEmpty, id.count <= 200,
            !id.contains(where: { $0.isNewline || $0 == "/" })
        else { throw .badRequest("bad_id", "item id: give 1 to 200 characters without '/' or line breaks") }
        return id
    }

    static func checkImageURL(_ url: String) throws(APIError) {
        guard url.hasPrefix("http://") || url.hasPrefix("https://"), URL(string: url)?.host != nil else {
            throw .badRequest("bad_url", "\(url): an item's image URL must be http:// or https://")
        }
    }

    static func attributes(_ value: JSONValue) throws(APIError) -> [String: JSONValue] {
        guard case .object(let object) = value else {
            throw .badRequest("bad_attributes", "attributes: expected a JSON object")
        }
        return object
    }

    static func text(_ attributes: [String: JSONValue]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(attributes), as: UTF8.self)
    }

    static func integer(_ text: String?, name: String, default value: Int, range: ClosedRange<Int>) throws(APIError)
        -> Int
    {
        guard let text else { return value }
        guard let number = Int(text), range.contains(number) else {
            let bounds =
                range.upperBound == Int.max ? "at least \(range.lowerBound)" : "\(range.lowerBound)…\(range.upperBound)"
            throw .badRequest("bad_parameter", "\(name)=\(text): expected a whole number, \(bounds)")
        }
        return number
    }
}
