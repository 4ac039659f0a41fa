import Foundation

/// A fresh directory under the system's temporary folder, removed when the value goes away.
public final class TemporaryDirectory: Sendable {
    public let path: String

    /// `label` goes into the directory's name, so a directory left behind by a crash says whose it was.
    public init(_ label: String = "test") throws {
        path = NSTemporaryDirectory() + "vsearch-\(label)-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
