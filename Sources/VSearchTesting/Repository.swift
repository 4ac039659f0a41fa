import Foundation

/// Paths in the repository the tests run from: the prepared model, the fetched photos and the built
/// `vsearch` binary. They are found from this file's own path, so a test runs from any directory.
public enum Repository {
    public static let root: String = {
        // Nearly every test comes here first, so this starts the watchdog when a run asks for it.
        PoolWatchdog.start()
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }  // Sources/VSearchTesting/Repository.swift
        return url.path
    }()

    /// The default model, which scripts/prepare-model.sh prepares.
    public static var model: String { root + "/models/efficientnet-lite0" }
    /// The real photos, which scripts/fetch-photos.sh fetches.
    public static var photos: String { root + "/data/photos" }

    /// The path of a photo under data/photos; throws naming the fix when it is missing.
    public static func photo(_ relative: String) throws -> String {
        let path = photos + "/" + relative
        guard FileManager.default.fileExists(atPath: path) else {
            throw TestFailure("no photo at \(path): run scripts/fetch-photos.sh")
        }
        return path
    }

    /// Every real photo, sorted: data/photos/{skimage,mate}/*.{png,jpg}.
    public static func photoFiles() -> [String] {
        ["skimage", "mate"].flatMap { folder -> [String] in
            let directory = photos + "/" + folder
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            return names.filter { $0.hasSuffix(".png") || $0.hasSuffix(".jpg") }.sorted().map { directory + "/" + $0 }
        }
    }

    /// The model directory `path` (the default model unless named); throws naming the fix when it
    /// has not been prepared.
    @discardableResult
    public static func requireModel(_ path: String = model) throws -> String {
        guard FileManager.default.fileExists(atPath: path + "/model.json") else {
            throw TestFailure("no model at \(path): run scripts/prepare-model.sh")
        }
        return path
    }

    /// Throws a clear set-up error when the default model or the photos have not been prepared.
    public static func requireModelAndPhotos() throws {
        try requireModel()
        guard FileManager.default.fileExists(atPath: photos + "/skimage/chelsea.png") else {
            throw TestFailure("no photos at \(photos): run scripts/fetch-photos.sh")
        }
    }

    /// The built `vsearch` binary: $VSEARCH_BIN_DIR (a sanitizer build keeps its own elsewhere), then
    /// .build/debug, then .build/release.
    public static func binary() throws -> String {
        var candidates = [root + "/.build/debug/vsearch", root + "/.build/release/vsearch"]
        if let directory = ProcessInfo.processInfo.environment["VSEARCH_BIN_DIR"] {
            candidates.insert(directory + "/vsearch", at: 0)
        }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw TestFailure("no vsearch binary in \(candidates.joined(separator: ", ")): run swift build")
        }
        return found
    }
}
