/// The release and the build of this binary, for `vsearch --version` and bug reports.
///
/// The release number lives here and nowhere else. The build line says what the compiler knew
/// when it compiled this file (configuration, compiler, target), so it is never stale: a git
/// commit would need a build-tool plugin that runs git on every build, or a generated file that
/// could be committed out of date, and a binary built from a tarball has no commit at all.
public enum VSearchVersion {
    /// The release, as semantic versioning: bump it when a release is tagged.
    public static let number = "0.1.0"

    /// `debug` or `release`: a debug binary is several times slower, often the first clue.
    public static var configuration: String {
        #if DEBUG
            return "debug"
        #else
            return "release"
        #endif
    }

    /// The Swift compiler that built the binary, to the minor version.
    public static var compiler: String {
        #if compiler(>=6.4)
            return "Swift 6.4 or later"
        #elseif compiler(>=6.3)
            return "Swift 6.3"
        #elseif compiler(>=6.2)
            return "Swift 6.2"
        #elseif compiler(>=6.1)
            return "Swift 6.1"
        #else
            return "Swift 6.0"
        #endif
    }

    /// The processor and operating system the binary was built for, e.g. `x86_64-linux`.
    public static var target: String {
        #if arch(x86_64)
            let arch = "x86_64"
        #elseif arch(arm64)
            let arch = "arm64"
        #else
            let arch = "unknown-arch"
        #endif
        #if os(Linux)
            let system = "linux"
        #elseif os(macOS)
            let system = "macos"
        #else
            let system = "unknown-os"
        #endif
        return "\(arch)-\(system)"
    }

    /// What `--version` prints: `vsearch 0.1.0` on the first line, the build on the second.
    public static var description: String {
        "vsearch \(number)\nbuild: \(configuration), \(compiler), \(target)"
    }
}
