import Foundation
import Testing
import VSearchTesting

@testable import EdgeAgent

/// Frame sources: the JPEG stream splitter, standard input, a watched directory and ffmpeg.
@Suite(.offThePool) struct FrameSourceTests {
    static func jpegs() throws -> [[UInt8]] {
        try Repository.requireModelAndPhotos()
        return try ["Aqua.jpg", "FreshFlower.jpg", "LadyBird.jpg"].map {
            Array(try Data(contentsOf: URL(fileURLWithPath: Repository.photos + "/mate/" + $0)))
        }
    }

    @Test(arguments: [1, 7, 4096, 1 << 20])
    func splitterCutsConcatenatedJPEGsWhateverTheChunkSize(chunk: Int) throws {
        let images = try Self.jpegs()
        var stream: [UInt8] = Array("garbage before".utf8)
        for image in images { stream += image + [0x0A] }
        var splitter = JPEGStreamSplitter()
        var found: [[UInt8]] = []
        var offset = 0
        while offset < stream.count {
            found += splitter.append(stream[offset..<min(stream.count, offset + chunk)])
            offset += chunk
        }
        #expect(found.map(\.count) == images.map(\.count))
        #expect(found == images)
    }

    @Test func splitterSkipsPaddingAfterTheEndOfAnImage() throws {
        let images = try Self.jpegs()
        // Wood.jpg ends at its first end marker (byte 502221); zeros and a stray FF D9 pad it to 525520 bytes.
        let wood = Array(try Data(contentsOf: URL(fileURLWithPath: Repository.photos + "/mate/Wood.jpg")))
        var splitter = JPEGStreamSplitter()
        let found = splitter.append(wood + images[0])
        #expect(found.map(\.count) == [502_221, images[0].count])
        #expect(found.last == images[0])
    }

    @Test func splitterResynchronisesAfterABrokenImage() throws {
        let images = try Self.jpegs()
        let broken = Array(images[0].prefix(600)) + [0x12, 0x34]  // cut inside its header segments
        var splitter = JPEGStreamSplitter()
        let found = splitter.append(broken + images[1] + images[2])
        #expect(found.suffix(2).map(\.count) == [images[1].count, images[2].count])
    }

    static func collect(_ source: some FrameSource, limit: Int) async throws -> [Frame] {
        var frames: [Frame] = []
        for try await frame in source.frames() {
            frames.append(frame)
            if frames.count == limit { break }
        }
        return frames
    }

    @Test func standardInputTakesConcatenatedJPEGs() async throws {
        let images = try Self.jpegs()
        let pipe = Pipe()
        let writer = pipe.fileHandleForWriting
        Thread {
            for image in images { writer.write(Data(image)) }
            try? writer.close()
        }.start()
        let frames = try await Self.collect(StandardInputSource(handle: pipe.fileHandleForReading), limit: 10)
        #expect(frames.map(\.bytes.count) == images.map(\.count))
        #expect(frames.map(\.sequence) == [0, 1, 2])
    }

    @Test func standardInputTakesOnePathPerLineAndSkipsUnreadableOnes() async throws {
        try Repository.requireModelAndPhotos()
        let paths = [
            Repository.photos + "/mate/Aqua.jpg", "/nonexistent/x.jpg",
            Repository.photos + "/skimage/coffee.png",
        ]
        let pipe = Pipe()
        pipe.fileHandleForWriting.write(Data((paths.joined(separator: "\n") + "\n").utf8))
        try pipe.fileHandleForWriting.close()
        let frames = try await Self.collect(StandardInputSource(handle: pipe.fileHandleForReading), limit: 10)
        #expect(frames.map(\.name) == [paths[0], paths[2]])
    }

    @Test func watchedDirectoryYieldsOnlyNewImages() async throws {
        let images = try Self.jpegs()
        let scratch = try TemporaryDirectory("watch")
        let directory = scratch.path
        try Data(images[0]).write(to: URL(fileURLWithPath: directory + "/old.jpg"))
        let writer = Task {
            try await Task.sleep(for: .milliseconds(300))
            try Data(images[1]).write(to: URL(fileURLWithPath: directory + "/new-1.jpg"))
            try Data("not an image".utf8).write(to: URL(fileURLWithPath: directory + "/notes.txt"))
            try await Task.sleep(for: .milliseconds(300))
            try Data(images[2]).write(to: URL(fileURLWithPath: directory + "/new-2.jpg"))
        }
        let frames = try await Self.collect(DirectoryWatchSource(directory: directory, interval: 0.05), limit: 2)
        try await writer.value
        #expect(frames.map { ($0.name as NSString).lastPathComponent } == ["new-1.jpg", "new-2.jpg"])
        #expect(frames.map(\.bytes.count) == [images[1].count, images[2].count])
    }

    @Test func ffmpegSamplesAVideoAtTheRequestedRate() async throws {
        try Repository.requireModelAndPhotos()
        let scratch = try TemporaryDirectory("ffmpeg")
        let directory = scratch.path
        let video = directory + "/clip.mp4"
        let photos = ["skimage/coffee.png", "mate/Aqua.jpg"].map { Repository.photos + "/" + $0 }
        try await TestVideo.make(photos: photos, secondsEach: 2, fps: 10, path: video)
        let frames = try await Self.collect(FFmpegSource(input: video, fps: 5, shortSide: 256), limit: 1000)
        #expect(frames.count == 20)
        // Every frame is a whole JPEG whose short side is 256.
        #expect(frames.allSatisfy { $0.bytes.starts(with: [0xFF, 0xD8]) && $0.bytes.suffix(2) == [0xFF, 0xD9] })
    }

    @Test func ffmpegFailureIsOneClearLine() async throws {
        await #expect {
            _ = try await Self.collect(FFmpegSource(input: "/nonexistent/video.mp4"), limit: 10)
        } throws: { error in
            "\(error)".hasPrefix("/nonexistent/video.mp4: ffmpeg: ") && !"\(error)".contains("\n")
        }
    }
}
