import ArgumentParser
import Foundation
import VSearchCore
import VectorIndex

/// `vsearch index`: the vector index on its own, for people who bring their own vectors.
struct IndexCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Build and query a vector index from .npy or .fvecs files.",
        subcommands: [IndexBuild.self, IndexQuery.self, IndexAdd.self, IndexRemove.self]
    )
}

extension Metric: ExpressibleByArgument {}
extension VectorStorage: ExpressibleByArgument {}
extension IndexKind: ExpressibleByArgument {}

/// Runs an index command, printing any error as one line and exiting non-zero.
func runIndexCommand(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as ExitCode {
        throw error
    } catch {
        printError(error)
        throw ExitCode.failure
    }
}
