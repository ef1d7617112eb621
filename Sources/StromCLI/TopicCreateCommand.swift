import ArgumentParser
import StromClient

/// `strom topic create NAME [--partitions N] [--replication-factor N] [--config key=value ...]`
struct TopicCreateCommand: ClientCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a topic.")

    @OptionGroup var connection: BootstrapOptions

    @Argument(help: "The topic's name.")
    var name: String

    @Option(help: "Partition count (default: the broker's num.partitions).")
    var partitions: Int32?

    @Option(name: .customLong("replication-factor"), help: "Replicas per partition (default: the broker's default.replication.factor).")
    var replicationFactor: Int16?

    @Option(help: "A topic config, key=value (repeatable), e.g. --config retention.ms=86400000.")
    var config: [ConfigSetting] = []

    func validate() throws {
        if let partitions, partitions < 1 { throw ValidationError("--partitions must be at least 1") }
        if let replicationFactor, replicationFactor < 1 { throw ValidationError("--replication-factor must be at least 1") }
    }

    func execute(client: KafkaClient, output: some CommandOutput) async throws {
        let created = try await client.createTopic(
            NewTopic(name: name, partitionCount: partitions, replicationFactor: replicationFactor, configs: config.byName))
        let partitionCount = created.partitionCount >= 0 ? " with \(created.partitionCount) partitions" : ""
        output.write("Created topic \(name)\(partitionCount).\n")
    }
}
