import Foundation

/// One part of a `multipart/form-data` body.
struct MultipartPart: Sendable {
    var name: String
    var filename: String?
    var contentType: String?
    var body: [UInt8]

    var text: String { String(decoding: body, as: UTF8.self) }
}

/// A `multipart/form-data` parser (RFC 7578) for bodies already read into memory under the
/// size limit.
enum MultipartParser {
    /// The boundary from a `multipart/form-data; boundary=...` content type.
    static func boundary(contentType: String) -> String? {
        for parameter in contentType.split(separator: ";").dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces).lowercased() == "boundary" else {
                continue
            }
            var value = pair[1].trimmingCharacters(in: .whitespaces)
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 {
                value = String(value.dropFirst().dropLast())
            }
            return value.isEmpty || value.count > 200 ? nil : value
        }
        return nil
    }

    static func parse(_ body: [UInt8], boundary: String) throws(MultipartError) -> [MultipartPart] {
        let delimiter = Array("--\(boundary)".utf8)
        guard var position = find(delimiter, in: body, from: 0) else {
            throw malformed("the body does not contain the boundary")
        }
        var parts: [MultipartPart] = []
        while true {
            position += delimiter.count
            // "--" after a delimiter closes the body.
            if position + 1 < body.count, body[position] == 0x2D, body[position + 1] == 0x2D { return parts }
            guard let lineEnd = find([0x0D, 0x0A], in: body, from: position) else {
                throw malformed("a part has no header lines")
            }
            let headerStart = lineEnd + 2
            guard let headerEnd = find([0x0D, 0x0A, 0x0D, 0x0A], in: body, from: headerStart) else {
                throw malformed("a part's headers do not end")
            }
            let contentStart = headerEnd + 4
            guard let next = find([0x0D, 0x0A] + delimiter, in: body, from: contentStart) else {
                throw malformed("the body ends inside a part (no closing boundary)")
            }
            let headers = String(decoding: body[headerStart..<headerEnd], as: UTF8.self)
            parts.append(try part(headers: headers, body: Array(body[contentStart..<next])))
            guard parts.count <= 64 else { throw malformed("more than 64 parts") }
            position = next + 2
        }
    }

    private static func part(headers: String, body: [UInt8]) throws(MultipartError) -> MultipartPart {
        var name: String?
        var filename: String?
        var contentType: String?
        for line in headers.split(separator: "\r\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let field = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if field == "content-type" { contentType = value }
            guard field == "content-disposition" else { continue }
            for parameter in value.split(separator: ";").dropFirst() {
                let pair = parameter.split(separator: "=", maxSplits: 1)
                guard pair.count == 2 else { continue }
                var text = pair[1].trimmingCharacters(in: .whitespaces)
                if text.hasPrefix("\""), text.hasSuffix("\""), text.count >= 2 {
                    text = String(text.dropFirst().dropLast())
                }
                switch pair[0].trimmingCharacters(in: .whitespaces).lowercased() {
                case "name": name = text
                case "filename": filename = text
                default: break
                }
            }
        }
        guard let name else { throw malformed("a part has no Content-Disposition name") }
        return MultipartPart(name: name, filename: filename, contentType: contentType, body: body)
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard let first = needle.first, needle.count <= haystack.count else { return nil }
        var index = start
        let last = haystack.count - needle.count
        while index <= last {
            if haystack[index] == first, haystack[index..<(index + needle.count)].elementsEqual(needle) {
                return index
            }
            index += 1
        }
        return nil
    }

    private static func malformed(_ reason: String) -> MultipartError { MultipartError(reason: reason) }
}

/// Why a multipart body is malformed. Its own type rather than the server's `APIError`, so that the
/// parser builds without the HTTP stack (the fuzz targets in Tests/Fuzz build it alone).
struct MultipartError: Error, CustomStringConvertible {
    let reason: String
    var description: String { "multipart body: \(reason)" }
}
