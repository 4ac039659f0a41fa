import Foundation

/// Runs the command-line tools tests need (mosquitto, ffmpeg).
public enum Tool {
    /// The executable's URL, from `PATH` or /usr/sbin (where Debian puts mosquitto).
    public static func find(_ name: String) throws -> URL {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":").map(String.init) + ["/usr/sbin", "/usr/local/sbin"] {
            let candidate = URL(fileURLWithPath: directory).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw TestFailure("\(name) is not installed (bash scripts/install-deps.sh installs it)")
    }

    /// Runs `name arguments` and throws with its standard error when it fails.
    public static func run(_ name: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = try find(name)
        process.arguments = arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let text = String(decoding: message, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
            throw TestFailure("\(name) failed (\(process.terminationStatus)): \(text)")
        }
    }
}
