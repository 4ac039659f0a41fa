import Foundation

/// Frames from image files that appear in a directory (a camera app or an
/// `scp` dropping pictures, say).
///
/// Files already there when watching starts are left alone. A new file is
/// read once its size has stayed the same for one polling interval, so a file
/// still being written is not read half-way; writers that rename finished
/// files into the directory are picked up at the next poll.
public struct DirectoryWatchSource: FrameSource {
    public var directory: String
    /// Seconds between looks at the directory.
    public var interval: Double
    /// File name extensions taken as images (lower case).
    public var extensions: Set<String>

    public init(directory: String, interval: Double = 0.1, extensions: Set<String> = ["jpg", "jpeg", "png", "webp"]) {
        self.directory = directory
        self.interval = interval
        self.extensions = extensions
    }

    public var description: String { directory }

    public func frames() -> FrameStream {
        let directory = self.directory
        let interval = self.interval
        let extensions = self.extensions
        return FrameStream.threaded(latestOnly: false) { emit, isCancelled in
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue
            else {
                throw EdgeAgentError.source(name: directory, reason: "not a directory")
            }
            var seen = Set(try Self.listImages(in: directory, extensions: extensions).keys)
            var growing: [String: Int] = [:]
            var sequence = 0
            while !isCancelled() {
                Thread.sleep(forTimeInterval: interval)
                let current = try Self.listImages(in: directory, extensions: extensions)
                for name in current.keys.sorted() where !seen.contains(name) {
                    let size = current[name] ?? 0
                    guard growing[name] == size, size > 0 else {
                        growing[name] = size
                        continue
                    }
                    growing[name] = nil
                    seen.insert(name)
                    let path = (directory as NSString).appendingPathComponent(name)
                    guard let data = FileManager.default.contents(atPath: path) else { continue }
                    let frame = Frame(sequence: sequence, bytes: Array(data), name: path)
                    sequence += 1
                    guard emit(frame) else { return }
                }
            }
        }
    }

    /// Image files in `directory` and their sizes.
    private static func listImages(in directory: String, extensions: Set<String>) throws -> [String: Int] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw EdgeAgentError.source(name: directory, reason: "cannot list the directory")
        }
        var sizes: [String: Int] = [:]
        for name in names where !name.hasPrefix(".") {
            guard extensions.contains((name as NSString).pathExtension.lowercased()) else { continue }
            let path = (directory as NSString).appendingPathComponent(name)
            let attributes = try? FileManager.default.attributesOfItem(atPath: path)
            sizes[name] = (attributes?[.size] as? NSNumber)?.intValue ?? 0
        }
        return sizes
    }
}

/// Frames from standard input (`-`): concatenated JPEG images, as
/// `ffmpeg … -f image2pipe -` or `cat *.jpg` write them, or, when the input
/// does not start with a JPEG, one image file path per line.
public struct StandardInputSource: FrameSource {
    /// The handle to read (standard input unless a test says otherwise).
    public var handle: FileHandle

    public init(handle: FileHandle = .standardInput) {
        self.handle = handle
    }

    public var description: String { "standard input" }

    public func frames() -> FrameStream {
        let handle = UncheckedHandle(handle: handle)
        return FrameStream.threaded(latestOnly: false) { emit, isCancelled in
            var first = handle.handle.availableData
            while first.count < 2, !first.isEmpty {
                let more = handle.handle.availableData
                if more.isEmpty { break }
                first.append(more)
            }
            guard !first.isEmpty else { return }
            var sequence = 0
            func emitFrame(_ bytes: [UInt8], name: String) -> Bool {
                defer { sequence += 1 }
                return emit(Frame(sequence: sequence, bytes: bytes, name: name))
            }
            if first.starts(with: [0xFF, 0xD8]) {
                var splitter = JPEGStreamSplitter()
                var chunk = first
                while !chunk.isEmpty, !isCancelled() {
                    for image in splitter.append(chunk) {
                        guard emitFrame(image, name: "standard input image \(sequence)") else { return }
                    }
                    chunk = handle.handle.availableData
                }
            } else {
                var pending = first
                while !isCancelled() {
                    while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                        let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                        pending = Data(pending[(newline + 1)...])
                        guard try emitPath(line, emitFrame) else { return }
                    }
                    let chunk = handle.handle.availableData
                    if chunk.isEmpty { break }
                    pending.append(chunk)
                }
                _ = try emitPath(String(decoding: pending, as: UTF8.self), emitFrame)
            }
        }
    }

    /// Reads the file a line names; a line naming no readable file is skipped with a warning on standard error.
    private func emitPath(_ line: String, _ emit: ([UInt8], String) -> Bool) throws -> Bool {
        let path = line.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !path.isEmpty else { return true }
        guard let data = FileManager.default.contents(atPath: path) else {
            FileHandle.standardError.write(Data("vsearch: \(path): cannot read the file\n".utf8))
            return true
        }
        return emit(Array(data), path)
    }
}

/// FileHandle is not Sendable in corelibs Foundation; the source's thread is its only reader.
private struct UncheckedHandle: @unchecked Sendable {
    let handle: FileHandle
}
