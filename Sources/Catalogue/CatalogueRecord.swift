import Foundation

/// One item as a source describes it, before its image is fetched.
public struct CatalogueRecord: Sendable, Equatable {
    public var id: String
    public var title: String
    /// An http(s) or file URL, or an absolute path.
    public var url: String
    /// A JSON object of the source's other fields.
    public var attributes: String
    /// Where the record came from, for reports: the source file and its 1-based line (or row).
    public var source: String
    public var line: Int

    public init(id: String, title: String, url: String, attributes: String = "{}", source: String, line: Int) {
        self.id = id
        self.title = title
        self.url = url
        self.attributes = attributes
        self.source = source
        self.line = line
    }
}

/// The records of some sources, and the records that could not be read.
public struct SourceListing: Sendable {
    public var records: [CatalogueRecord] = []
    public var failures: [IngestFailure] = []
    /// Whether every source was read as a whole; `--prune` is refused otherwise, since a
    /// source that failed to read would look like a source whose items were all deleted.
    public var complete = true

    public init() {}

    /// Records that the source at `path` could not be read as a whole.
    mutating func noteUnreadable(_ path: String, _ error: CatalogueError) {
        complete = false
        failures.append(IngestFailure(id: nil, url: nil, source: path, line: nil, reason: error.description))
    }
}

/// An item that could not be ingested, and why.
public struct IngestFailure: Sendable, Equatable {
    public var id: String?
    public var url: String?
    public var source: String
    public var line: Int?
    public var reason: String

    public init(id: String?, url: String?, source: String, line: Int?, reason: String) {
        self.id = id
        self.url = url
        self.source = source
        self.line = line
        self.reason = reason
    }

    /// One JSON object on one line.
    public var jsonLine: String {
        var object: [String: Any] = ["source": source, "reason": reason]
        if let id { object["id"] = id }
        if let url { object["url"] = url }
        if let line { object["line"] = line }
        let data =
            (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
