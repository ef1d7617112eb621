import ArgumentParser

/// `strom`: the broker (`strom serve`) and the command-line tools (`topic`, `produce`, `consume`, `group`,
/// `share-group`, `transactions`, `producers`, `cluster`, `alerts`, `bench`).
@main
struct Strom: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "strom",
        abstract: "A Kafka-compatible streaming platform.",
        subcommands: [
            ServeCommand.self, TopicCommand.self, ProduceCommand.self, ConsumeCommand.self, GroupCommand.self, ShareGroupCommand.self, TransactionsCommand.self,
            ProducersCommand.self, ClusterCommand.self, AlertsCommand.self, ConsoleCommand.self,
            BenchCommand.self,
        ])
}
