import Foundation

/// Reads catalogue sources into records.
///
/// The format follows the path: a directory is a folder of images (the id is the file name
/// without its extension); `.json` is the original `metadata.json` (a list of `{id, title, url}`);
/// `.jsonl` / `.ndjson` is one such object per line; `.csv` has a header naming `id`, `title`
/// and `url` (other columns become attributes); anything else is the seed's `title, url` text,
/// where the URL is the last comma-separated field and the id is the 0-based line index, as the
/// original notebook numbered its k-NN labels.
///
/// This file holds the parsing of sources' text, with no I/O, so that the fuzz targets
/// (Tests/Fuzz) can build it on its own.
public enum SourceReader {
    /// Whether `path` is downloaded (http or https) rather than read from disk.
    static func isRemote(_ path: String) -> Bool { path.hasPrefix("http://") || path.hasPrefix("https://") }

    /// Parses a source's text; `format` is its file extension, `base` the folder or URL its
    /// relative item URLs are relative to.
    static func parse(_ text: String, source: String, format: String, base: String, into listing: inout SourceListing)
        throws(CatalogueError)
    {
        switch format.lowercased() {
        case "json": try metadataJSON(text, source: source, base: base, into: &listing)
        case "jsonl", "ndjson": jsonLines(text, source: source, base: base, into: &listing)
        case "csv": try csv(text, source: source, base: base, into: &listing)
        default: seedText(text, source: source, base: base, into: &listing)
        }
    }

    static func seedText(_ text: String, source: String, base: String, into listing: inout SourceListing) {
        for (index, rawLine) in lines(text).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            guard let comma = line.lastIndex(of: ",") else {
                listing.failures.append(
                    IngestFailure(
                        id: String(index), url: nil, source: source, line: index + 1,
                        reason: "expected `title, url`: no comma on the line"))
                continue
            }
            let title = line[..<comma].trimmingCharacters(in: .whitespaces)
            let url = line[line.index(after: comma)...].trimmingCharacters(in: .whitespaces)
            guard !url.isEmpty else {
                listing.failures.append(
                    IngestFailure(id: String(index), url: nil, source: source, line: index + 1, reason: "empty URL"))
                continue
            }
            listing.records.append(
                CatalogueRecord(
                    id: String(index), title: title, url: resolve(url, base: base), source: source, line: index + 1))
        }
    }

    static func metadataJSON(_ text: String, source: String, base: String, into listing: inout SourceListing)
        throws(CatalogueError)
    {
        guard let parsed = try? JSONSerialization.jsonObject(with: Data(text.utf8)) else {
            throw .source(path: source, reason: "not valid JSON")
        }
        guard let list = parsed as? [Any] else {
            throw .source(path: source, reason: "expected a JSON list of {id, title, url} objects")
        }
        for (index, element) in list.enumerated() {
            record(
                from: element, source: source, line: index + 1, base: base, fallbackID: String(index), into: &listing)
        }
    }

    static func jsonLines(_ text: String, source: String, base: String, into listing: inout SourceListing) {
        for (index, line) in lines(text).enumerated() {
            guard !line.trimmingCharacters(in: .whitespaces).isEmpty else { continue }
            guard let parsed = try? JSONSerialization.jsonObject(with: Data(line.utf8)) else {
                listing.failures.append(
                    IngestFailure(id: nil, url: nil, source: source, line: index + 1, reason: "not valid JSON"))
                continue
            }
            record(from: parsed, source: source, line: index + 1, base: base, fallbackID: String(index), into: &listing)
        }
    }

    static func csv(_ text: String, source: String, base: String, into listing: inout SourceListing)
        throws(CatalogueError)
    {
        let rows = CSVParser.rows(text)
        guard let header = rows.first?.map({ $0.trimmingCharacters(in: .whitespaces) }) else {
            throw .source(path: source, reason: "empty CSV file")
        }
        guard header.contains("url") else {
            throw .source(path: source, reason: "the CSV header has no `url` column: \(header.joined(separator: ","))")
        }
        for (offset, row) in rows.dropFirst().enumerated() {
            if row.count == 1, row[0].trimmingCharacters(in: .whitespaces).isEmpty { continue }
            guard row.count == header.count else {
                listing.failures.append(
                    IngestFailure(
                        id: nil, url: nil, source: source, line: offset + 2,
                        reason: "\(row.count) fields, the header has \(header.count)"))
                continue
            }
            var object: [String: Any] = [:]
            for (name, value) in zip(header, row) { object[name] = value }
            record(
                from: object, source: source, line: offset + 2, base: base, fallbackID: String(offset), into: &listing)
        }
    }

    /// One record from a JSON object; fields other than id, title and url become attributes.
    static func record(
        from element: Any, source: String, line: Int, base: String, fallbackID: String,
        into listing: inout SourceListing
    ) {
        guard var object = element as? [String: Any] else {
            listing.failures.append(
                IngestFailure(id: nil, url: nil, source: source, line: line, reason: "expected a JSON object"))
            return
        }
        let id = scalarText(object.removeValue(forKey: "id")) ?? fallbackID
        let title = scalarText(object.removeValue(forKey: "title")) ?? ""
        guard let url = scalarText(object.removeValue(forKey: "url")), !url.isEmpty else {
            listing.failures.append(
                IngestFailure(id: id, url: nil, source: source, line: line, reason: "no `url` field"))
            return
        }
        guard !id.isEmpty else {
            listing.failures.append(IngestFailure(id: nil, url: url, source: source, line: line, reason: "empty id"))
            return
        }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        listing.records.append(
            CatalogueRecord(
                id: id, title: title, url: resolve(url, base: base), attributes: String(decoding: data, as: UTF8.self),
                source: source, line: line))
    }

    static func scalarText(_ value: Any?) -> String? {
        switch value {
        case let text as String: return text
        case let number as NSNumber: return number.stringValue
        default: return nil
        }
    }

    /// URLs stay as they are; relative paths become absolute, relative to the source's folder (or,
    /// for a downloaded source, to its URL), so that the store can fetch them again later (reindex)
    /// from anywhere.
    static func resolve(_ url: String, base: String) -> String {
        if url.hasPrefix("http://") || url.hasPrefix("https://") || url.hasPrefix("file://") {
            return url
        }
        if isRemote(base) {
            return URL(string: url, relativeTo: URL(string: base))?.absoluteURL.absoluteString ?? url
        }
        if url.hasPrefix("/") { return url }
        return URL(fileURLWithPath: url, relativeTo: URL(fileURLWithPath: base, isDirectory: true))
            .standardizedFileURL.path
    }

    static func lines(_ text: String) -> [String] {
        text.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.hasSuffix("\r") ? String($0.dropLast()) : String($0)
        }
    }
}

/// RFC 4180 CSV: quoted fields may hold commas, quotes (doubled) and line breaks.
enum CSVParser {
    static func rows(_ text: String) -> [[String]] {
        var rows: [[String]] = []
        var row: [String] = []
        var field = ""
        var quoted = false
        var iterator = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = nil
        while let scalar = pending ?? iterator.next() {
            pending = nil
            if quoted {
                if scalar == "\"" {
                    let next = iterator.next()
                    if next == "\"" {
                        field.unicodeScalars.append("\"")
                    } else {
                        quoted = false
                        pending = next
                    }
                } else {
                    field.unicodeScalars.append(scalar)
                }
                continue
            }
            switch scalar {
            case "\"" where field.isEmpty: quoted = true
            case ",":
                row.append(field)
                field = ""
            case "\n":
                row.append(field)
                rows.append(row)
                row = []
                field = ""
            case "\r": break
            default: field.unicodeScalars.append(scalar)
            }
        }
        if !field.isEmpty || !row.isEmpty {
            row.append(field)
            rows.append(row)
        }
        return rows
    }
}
