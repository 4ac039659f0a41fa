import Foundation
import HTTPTypes
import Hummingbird

/// The web UI's files, from the module's resources or a folder given with `--web-root`.
///
/// Only plain names below the root are served: no `..`, no hidden files, no symbolic link
/// leading out of the root.
struct StaticFiles: Sendable {
    let root: String

    /// The bundled `Web` folder.
    static var bundledRoot: String? { Bundle.module.resourceURL?.appendingPathComponent("Web").path }

    /// The file at `relativePath` below the root, as an answer; 404 when it is not there.
    func response(for relativePath: String) throws(APIError) -> Response {
        let path = relativePath.isEmpty ? "index.html" : relativePath
        let components = path.split(separator: "/", omittingEmptySubsequences: false)
        guard
            !components.contains(where: { $0.isEmpty || $0.hasPrefix(".") || $0.contains("\\") || $0.contains("\0") })
        else { throw .notFound("/ui/\(relativePath): no such file") }
        let rootURL = URL(fileURLWithPath: root).resolvingSymlinksInPath()
        let fileURL = rootURL.appendingPathComponent(path).resolvingSymlinksInPath()
        var isDirectory: ObjCBool = false
        guard fileURL.path.hasPrefix(rootURL.path + "/"),
            FileManager.default.fileExists(atPath: fileURL.path, isDirectory: &isDirectory), !isDirectory.boolValue,
            let data = FileManager.default.contents(atPath: fileURL.path)
        else { throw .notFound("/ui/\(relativePath): no such file") }
        let type = Self.contentType(forExtension: fileURL.pathExtension.lowercased())
        // HTML is revalidated so a new version shows at once; scripts and styles may be reused a while.
        let cacheControl = type.hasPrefix("text/html") ? "no-cache" : "public, max-age=300"
        return Response(
            status: .ok,
            headers: [.contentType: type, .cacheControl: cacheControl, .init("X-Content-Type-Options")!: "nosniff"],
            body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func contentType(forExtension ext: String) -> String {
        switch ext {
        case "html", "htm": return "text/html; charset=utf-8"
        case "js", "mjs": return "text/javascript; charset=utf-8"
        case "css": return "text/css; charset=utf-8"
        case "json", "map": return "application/json"
        case "webmanifest": return "application/manifest+json"
        case "svg": return "image/svg+xml"
        case "png": return "image/png"
        case "jpg", "jpeg": return "image/jpeg"
        case "webp": return "image/webp"
        case "ico": return "image/x-icon"
        case "woff2": return "font/woff2"
        case "txt": return "text/plain; charset=utf-8"
        default: return "application/octet-stream"
        }
    }
}
