import Foundation

/// Short videos made by ffmpeg from still photos, looking like a handheld
/// camera filmed them: a slight rotation and zoom, a colour shift, sensor
/// noise that changes every frame, and lossy compression.
public enum TestVideo {
    /// Writes an MP4 at `path` showing each photo for `secondsEach` seconds at `fps`, in order. The
    /// wait for ffmpeg runs on a thread of its own, off the cooperative pool.
    public static func make(
        photos: [String], secondsEach: Double, fps: Int, path: String, width: Int = 640, height: Int = 480
    ) async throws {
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
        try await onOwnThread { [arguments] in try Tool.run("ffmpeg", arguments) }
    }
}
