import Foundation
import TestSupport

/// A fresh directory under the system's temporary folder, removed when the value goes away.
final class TemporaryDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "vsearch-catalogue-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Paths in the repository this test runs from.
enum Repository {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static var model: String { root + "/models/efficientnet-lite0" }
    static var photos: String { root + "/data/photos" }

    /// The built `vsearch` binary: $VSEARCH_BIN_DIR, then .build/debug, then .build/release.
    static var binary: String? {
        var candidates = [root + "/.build/debug/vsearch", root + "/.build/release/vsearch"]
        if let dir = ProcessInfo.processInfo.environment["VSEARCH_BIN_DIR"] {
            candidates.insert(dir + "/vsearch", at: 0)
        }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Every real photo, sorted: data/photos/{skimage,mate}/*.{png,jpg}.
    static func photoFiles() -> [String] {
        ["skimage", "mate"].flatMap { folder -> [String] in
            let dir = photos + "/" + folder
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
            return names.filter { $0.hasSuffix(".png") || $0.hasSuffix(".jpg") }.sorted().map { dir + "/" + $0 }
        }
    }
}

/// Runs a program to completion, returning its exit status and standard output.
@discardableResult
func runProcess(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) async throws
    -> (status: Int32, output: String, error: String)
{
    try await onOwnThread {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read before waiting, so a large output cannot fill the pipe and stall the child.
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (
            process.terminationStatus, String(decoding: outData, as: UTF8.self),
            String(decoding: errData, as: UTF8.self)
        )
    }
}
