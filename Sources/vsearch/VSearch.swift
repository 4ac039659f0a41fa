import ArgumentParser

@main
struct VSearch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vsearch",
        abstract: "Visual search: show it an object or a photo, get the most similar catalogue items.",
        subcommands: [
            EmbedCommand.self, ClassifyCommand.self, IndexCommand.self, IngestCommand.self, SearchCommand.self,
            RemoveCommand.self, ReindexCommand.self, ExportCommand.self, EvalCommand.self, ServeCommand.self,
            EdgeCommand.self,
        ]
    )
}
