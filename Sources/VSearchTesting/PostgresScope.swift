import Testing

/// The two catalogue backends, for tests written once and run against both.
public enum Backend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case embedded
    case postgres

    public var testDescription: String { rawValue }
}

/// The PostgreSQL server of the running suite, set by ``PostgresScope``.
public enum SharedServer {
    @TaskLocal public static var current: PostgresServer?

    public static func require() throws -> PostgresServer {
        guard let current else { throw TestFailure("no PostgreSQL: the suite needs the PostgresScope trait") }
        return current
    }
}

/// Starts one PostgreSQL for a whole suite and stops it after the suite's last test, whatever
/// happened, so that no server outlives the tests.
public struct PostgresScope: SuiteTrait, TestScoping {
    public init() {}

    public var isRecursive: Bool { false }

    public func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        let server = try await PostgresServer.start()
        do {
            try await SharedServer.$current.withValue(server) { try await function() }
        } catch {
            try? await server.stop()
            throw error
        }
        try await server.stop()
    }
}
