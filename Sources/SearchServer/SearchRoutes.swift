import Catalogue
import Featurizer
import Foundation
import Hummingbird
import ImageDecoding
import LocalFeatures

/// What a search asks for besides its query: from the query string, then the body.
struct SearchOptions {
    var k = 4
    var minScore: Float?
    var filters: [(key: String, value: String)] = []

    static let maxK = 100

    init(request: Request) throws(APIError) {
        let parameters = request.uri.queryParameters
        if let text = parameters.get("k") { k = try Self.k(text) }
        if let text = parameters.get("min_score") { minScore = try Self.score(text) }
        for text in parameters.getAll("where") { filters.append(try Self.filter(String(text))) }
    }

    static func k(_ text: some StringProtocol) throws(APIError) -> Int {
        guard let k = Int(text.trimmingCharacters(in: .whitespaces)) else {
            throw .badRequest("bad_parameter", "k=\(text): expected a whole number from 1 to \(maxK)")
        }
        return try checked(k: k)
    }

    static func checked(k: Int) throws(APIError) -> Int {
        guard (1...maxK).contains(k) else {
            throw .badRequest("bad_parameter", "k=\(k): expected a whole number from 1 to \(maxK)")
        }
        return k
    }

    static func score(_ text: some StringProtocol) throws(APIError) -> Float {
        guard let score = Float(text.trimmingCharacters(in: .whitespaces)), score.isFinite else {
            throw .badRequest("bad_parameter", "min_score=\(text): expected a finite number")
        }
        return score
    }

    static func filter(_ text: String) throws(APIError) -> (key: String, value: String) {
        guard let equals = text.firstIndex(of: "="), equals != text.startIndex else {
            throw .badRequest("bad_filter", "where=\(text): expected key=value")
        }
        return (String(text[..<equals]), String(text[text.index(after: equals)...]))
    }

    func catalogueQuery(for featurizer: Featurizer) -> CatalogueQuery {
        CatalogueQuery(
            k: k, minScore: minScore, filters: filters, windowPenalty: featurizer.windowPenalty,
            sharedPrefix: featurizer.sharedPrefix, check: CandidateCheck(model: featurizer))
    }
}

/// A picture's vectors (an item's one, or a query's whole view and regions) and what they cost.
struct EmbeddedQuery {
    var vectors: [[Float]]
    var image: Image?
    /// The picture's local features, when the model verifies candidates by them.
    var localFeatures: LocalFeatures?
    var fetchMS: Double?
    var decodeMS: Double = 0
    var featurizeMS: Double = 0
}

extension SearchServer {
    func addSearchRoutes(to routes: RouteRecorder) {
        routes.add(.post, "/api/v1/search") { request, _ in try await self.search(request) }
    }

    func search(_ request: Request) async throws -> Response {
        let started = ContinuousClock.now
        var options = try SearchOptions(request: request)
        let query = try await embedQuery(request, options: &options)
        let store = catalogue.reader
        let searchStarted = ContinuousClock.now
        let found: [[CatalogueMatch]]
        var catalogueQuery = options.catalogueQuery(for: featurizer)
        // A picture is ranked as the model says; a client's vector, whose layout is the client's, as it is.
        catalogueQuery.check?.pictures = [query.localFeatures]
        if query.image == nil { catalogueQuery.check = nil }
        do {
            // A picture's vectors are the featurizer's, so a store of another model refuses them (409); a
            // client's vector is taken to be the catalogue's, as its length was checked against it.
            let modelID = query.image == nil ? try await store.binding()?.model : featurizer.descriptor.id
            found = try await store.search(
                regions: [query.vectors], modelID: modelID ?? featurizer.descriptor.id, query: catalogueQuery)
        } catch {
            throw APIError.from(error)
        }
        let searchMS = Self.milliseconds(since: searchStarted)
        let matches = (found.first ?? []).map(MatchResult.init)
        let timing = SearchTiming(
            fetchMS: query.fetchMS, decodeMS: query.decodeMS, featurizeMS: query.featurizeMS, searchMS: searchMS,
            totalMS: Self.milliseconds(since: started))
        let picture = query.image.map { image in
            QueryPicture.encode { try? Thumbnailer.jpeg(image, longestSide: 512, name: "query") }
        }
        let event = await hub.publish(source: .api, matches: matches, timing: timing, queryPicture: picture)
        return try Self.json(SearchResponse(eventID: event.eventID, matches: matches, timing: timing))
    }

    /// The query vector of a search request, whatever form its body takes.
    private func embedQuery(_ request: Request, options: inout SearchOptions) async throws -> EmbeddedQuery {
        let contentType = request.headers[.contentType]?.lowercased() ?? ""
        if contentType.hasPrefix("multipart/form-data") {
            let parts = try await multipartParts(request, contentType: contentType)
            for part in parts {
                switch part.name {
                case "k": options.k = try SearchOptions.k(part.text)
                case "min_score": options.minScore = try SearchOptions.score(part.text)
                case "where": options.filters.append(try SearchOptions.filter(part.text))
                default: break
                }
            }
            guard let image = parts.first(where: { $0.name == "image" }) else {
                throw APIError.badRequest("missing_image", "multipart body: no file field named 'image'")
            }
            return try await embed(image.body, name: "upload '\(image.filename ?? "image")'", for: .query)
        }
        if contentType.hasPrefix("image/") {
            let body = try await readBody(request)
            return try await embed(Array(body.readableBytesView), name: "request body (\(contentType))", for: .query)
        }
        guard contentType.hasPrefix("application/json") else {
            throw APIError(
                .unsupportedMediaType, "unsupported_media_type",
                "Content-Type '\(contentType)': send multipart/form-data, image/*, or application/json")
        }
        let body = try APIJSON.decode(
            SearchRequestBody.self, from: Data(buffer: try await readBody(request)), what: "search body")
        if let k = body.k { options.k = try SearchOptions.checked(k: k) }
        if let score = body.minScore { options.minScore = try SearchOptions.score(String(score)) }
        for (key, value) in (body.filters ?? [:]).sorted(by: { $0.key < $1.key }) {
            guard let text = value.filterText else {
                throw APIError.badRequest("bad_filter", "where.\(key): expected a string, number or boolean")
            }
            options.filters.append((key, text))
        }
        switch (body.url, body.vector) {
        case (let url?, nil):
            try Self.checkImageURL(url)
            let fetchStarted = ContinuousClock.now
            let bytes: [UInt8]
            do {
                bytes = try await downloader.download(url)
            } catch {
                throw APIError.from(error)
            }
            var query = try await embed(bytes, name: url, for: .query)
            query.fetchMS = Self.milliseconds(since: fetchStarted) - query.decodeMS - query.featurizeMS
            return query
        case (nil, let vector?):
            return EmbeddedQuery(vectors: [try await checkedVector(vector)])
        default:
            throw APIError.badRequest("bad_request", "search body: give exactly one of \"url\" and \"vector\"")
        }
    }

    /// A client's vector, checked against the store's dimension and for NaN and infinity.
    private func checkedVector(_ values: [Double]) async throws(APIError) -> [Float] {
        let binding: (model: String, dimension: Int)?
        do {
            binding = try await catalogue.reader.binding()
        } catch {
            throw APIError.from(catalogue: error)
        }
        let dimension = binding?.dimension ?? featurizer.dimension
        guard values.count == dimension else {
            throw .badRequest("bad_vector", "vector: \(values.count) values, the catalogue's vectors have \(dimension)")
        }
        var vector = [Float](repeating: 0, count: values.count)
        for (index, value) in values.enumerated() {
            guard value.isFinite, abs(value) <= Double(Float.greatestFiniteMagnitude) else {
                throw .badRequest("bad_vector", "vector[\(index)]: \(value) is not a finite 32-bit float")
            }
            vector[index] = Float(value)
        }
        return vector
    }

    /// Decodes image bytes (in this task, off the event loops) and featurizes them in a batch, as
    /// a query or as a catalogue item's photo.
    func embed(_ bytes: [UInt8], name: String, for role: VectorRole) async throws(APIError) -> EmbeddedQuery {
        let decodeStarted = ContinuousClock.now
        // Announced before decoding, so that a batch forming meanwhile waits for this image; a lone one goes at once.
        let expected = batcher.expectImage()
        let image: Image
        // An item's photo keeps its alpha channel, so that its local features stay inside its outline.
        var alpha: [UInt8]?
        do {
            if role == .item {
                let decoded = try featurizer.decodeWithAlpha(bytes: bytes, name: name, for: role)
                (image, alpha) = (decoded.image, decoded.alpha)
            } else {
                image = try featurizer.decode(bytes: bytes, name: name, for: role)
            }
        } catch {
            throw APIError.from(error)
        }
        let decodeMS = Self.milliseconds(since: decodeStarted)
        let featurizeStarted = ContinuousClock.now
        // Described beside the network's batch, which waits for other requests and uses its own threads.
        async let localFeatures = featurizer.localFeatures(of: image, alpha: alpha)
        let vectors: [[Float]]
        do {
            vectors = try await expected.vectors(of: image, for: role)
        } catch {
            throw APIError.from(error)
        }
        return EmbeddedQuery(
            vectors: vectors, image: image, localFeatures: await localFeatures, decodeMS: decodeMS,
            featurizeMS: Self.milliseconds(since: featurizeStarted))
    }

    // MARK: Request and response helpers

    /// The whole body, refused with 413 beyond the configured limit.
    func readBody(_ request: Request) async throws -> ByteBuffer {
        let limit = configuration.maxBodyBytes
        let tooLarge = APIError(
            .contentTooLarge, "body_too_large", "request body: larger than the server's limit of \(limit) bytes")
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit { throw tooLarge }
        do {
            return try await request.body.collect(upTo: limit)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw tooLarge
        }
    }

    func multipartParts(_ request: Request, contentType: String) async throws -> [MultipartPart] {
        // The boundary is case-sensitive (RFC 2046): read it from the header as sent, not the lowercased copy.
        guard let boundary = MultipartParser.boundary(contentType: request.headers[.contentType] ?? contentType) else {
            throw APIError.badRequest("bad_multipart", "Content-Type multipart/form-data without a boundary")
        }
        let buffer = try await readBody(request)
        do {
            return try MultipartParser.parse(Array(buffer.readableBytesView), boundary: boundary)
        } catch {
            throw APIError.badRequest("bad_multipart", error.description)
        }
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: try APIJSON.encode(value))))
    }

    static func milliseconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return (elapsed / .microseconds(1)).rounded() / 1000
    }
}
