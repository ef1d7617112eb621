import ArgumentParser

/// `strom`: the broker (`strom serve`) and, as they arrive, the command-line tools.
@main
struct Strom: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "strom",
        abstract: "A Kafka-compatible streaming platform.",
        subcommands: [ServeCommand.self])
}
