import Foundation

/// What a finished child process left: its exit status and everything it wrote.
public struct ProcessOutput: Sendable {
    public let status: Int32
    /// Its standard output.
    public let output: String
    /// Its standard error.
    public let error: String
}

/// Runs `executable` to completion without holding a thread of the cooperative pool.
///
/// The child writes to files, not pipes: a child that prints many vectors would otherwise stall on a
/// full pipe that nobody reads until it exits. `environment` is added to this process's own.
public func runProcess(_ executable: String, _ arguments: [String], environment: [String: String] = [:])
    async throws -> ProcessOutput
{
    let scratch = try TemporaryDirectory("process")
    let out = scratch.path + "/out"
    let err = scratch.path + "/err"
    _ = FileManager.default.createFile(atPath: out, contents: nil)
    _ = FileManager.default.createFile(atPath: err, contents: nil)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
    process.standardOutput = FileHandle(forWritingAtPath: out)
    process.standardError = FileHandle(forWritingAtPath: err)
    try process.run()
    let status = try await process.exited()
    return ProcessOutput(
        status: status, output: try String(contentsOfFile: out, encoding: .utf8),
        error: try String(contentsOfFile: err, encoding: .utf8))
}

/// Runs the built `vsearch` with `arguments`, its model from $VSEARCH_MODEL set to `model`.
public func runVSearch(_ arguments: [String], model: String = Repository.model, environment: [String: String] = [:])
    async throws -> ProcessOutput
{
    var environment = environment
    environment["VSEARCH_MODEL"] = environment["VSEARCH_MODEL"] ?? model
    return try await runProcess(try Repository.binary(), arguments, environment: environment)
}
