import Foundation

/// Paths of the repository's prepared model and photos, for tests.
public enum RepositoryPaths {
    public static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    public static let model = root + "/models/efficientnet-lite0"
    public static let photos = root + "/data/photos"

    /// Throws a clear setup error when the model or the photos have not been prepared.
    public static func requireModelAndPhotos() throws {
        guard FileManager.default.fileExists(atPath: model + "/model.json") else {
            throw TestSupportError("no model at \(model): run scripts/prepare-model.sh lite0")
        }
        guard FileManager.default.fileExists(atPath: photos + "/skimage/chelsea.png") else {
            throw TestSupportError("no photos at \(photos): run scripts/fetch-photos.sh")
        }
    }

    /// The built `vsearch` binary ($VSEARCH_BIN_DIR, then .build/debug, then .build/release).
    public static func binary() throws -> String {
        var candidates = [root + "/.build/debug/vsearch", root + "/.build/release/vsearch"]
        if let directory = ProcessInfo.processInfo.environment["VSEARCH_BIN_DIR"] {
            candidates.insert(directory + "/vsearch", at: 0)
        }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw TestSupportError("no vsearch binary: run swift build")
        }
        return found
    }
}

/// Short videos made by ffmpeg from still photos, looking like a handheld
/// camera filmed them: a slight rotation and zoom, a colour shift, sensor
/// noise that changes every frame, and lossy compression.
public enum TestVideo {
    /// Writes an MP4 at `path` showing each photo for `secondsEach` seconds at `fps`, in order.
    public static func make(
        photos: [String], secondsEach: Double, fps: Int, path: String, width: Int = 640, height: Int = 480
    ) throws {
        var arguments = ["-hide_banner", "-loglevel", "error", "-y"]
        for photo in photos {
            arguments += ["-loop", "1", "-framerate", String(fps), "-t", String(secondsEach), "-i", photo]
        }
        var graph = ""
        for index in photos.indices {
            graph +=
                "[\(index):v]scale=\(width):\(height):force_original_aspect_ratio=increase,"
                + "crop=\(width):\(height),setsar=1,format=yuv420p[v\(index)];"
        }
        graph += photos.indices.map { "[v\($0)]" }.joined() + "concat=n=\(photos.count):v=1:a=0,"
        // Camera-like: 3° rotation with a 10 % zoom (so no black corners), warmer and darker, and noise.
        graph += "rotate=3*PI/180,scale=iw*1.1:ih*1.1,crop=\(width):\(height),"
        graph += "eq=brightness=-0.04:contrast=1.08:saturation=0.9:gamma_r=1.05,noise=alls=5:allf=t[out]"
        arguments += ["-filter_complex", graph, "-map", "[out]", "-r", String(fps), "-c:v", "libx264", "-crf", "26"]
        arguments += ["-pix_fmt", "yuv420p", path]
        try Tool.run("ffmpeg", arguments)
    }
}
