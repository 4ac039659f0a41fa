import ArgumentParser

@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vsearch-bench",
        abstract: "The Swift side of the benchmarks; scripts/bench runs them beside the competing tools.",
        subcommands: [
            DecodeCommand.self, PreprocessCommand.self, RunTensor.self, CNNBench.self, CNNKernelBench.self,
            VerifyCommand.self, LocalFeaturesCommand.self, WindowsCommand.self, StoreSearchCommand.self,
        ]
    )
}
