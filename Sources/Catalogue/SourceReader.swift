import Foundation
import ImageFetching

/// The files and downloads that catalogue sources come from; SourceFormats.swift parses them.
extension SourceReader {
    static let imageExtensions: Set<String> = ["jpg", "jpeg", "png", "webp"]

    /// Reads every local source in order; records keep their source's order.
    public static func read(_ paths: [String]) -> SourceListing {
        var listing = SourceListing()
        for path in paths {
            do {
                try read(path, into: &listing)
            } catch {
                listing.noteUnreadable(path, error)
            }
        }
        return listing
    }

    /// Reads every source in order, downloading `http(s)://` ones with `fetcher` (its timeouts,
    /// retries and source size limit); records keep their source's order.
    static func read(_ paths: [String], fetcher: ImageFetcher) async -> SourceListing {
        var listing = SourceListing()
        for path in paths {
            do {
                if ImageFetcher.isRemote(path) {
                    let bytes = try await download(path, with: fetcher)
                    let format = URL(string: path).map { $0.pathExtension } ?? ""
                    try parse(
                        String(decoding: bytes, as: UTF8.self), source: path, format: format, base: path, into: &listing
                    )
                } else {
                    try read(path, into: &listing)
                }
            } catch {
                listing.noteUnreadable(path, error)
            }
        }
        return listing
    }

    /// A remote source's bytes, a failed download told in the catalogue's words.
    static func download(_ url: String, with fetcher: ImageFetcher) async throws(CatalogueError) -> [UInt8] {
        do {
            return try await fetcher.fetchSource(url)
        } catch {
            throw CatalogueError(error)
        }
    }

    static func read(_ path: String, into listing: inout SourceListing) throws(CatalogueError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw .source(path: path, reason: "no such file or directory")
        }
        if isDirectory.boolValue {
            listing.records += try directory(path)
            return
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .source(path: path, reason: "cannot read the file")
        }
        let base = URL(fileURLWithPath: path).deletingLastPathComponent().path
        try parse(
            String(decoding: data, as: UTF8.self), source: path, format: URL(fileURLWithPath: path).pathExtension,
            base: base, into: &listing)
    }

    static func directory(_ path: String) throws(CatalogueError) -> [CatalogueRecord] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: path).sorted()
        } catch {
            throw .source(path: path, reason: "cannot list the directory")
        }
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        return names.enumerated().compactMap { offset, name in
            let url = URL(fileURLWithPath: name)
            guard imageExtensions.contains(url.pathExtension.lowercased()) else { return nil }
            let id = url.deletingPathExtension().lastPathComponent
            return CatalogueRecord(id: id, title: id, url: absolute + "/" + name, source: path, line: offset + 1)
        }
    }
}
