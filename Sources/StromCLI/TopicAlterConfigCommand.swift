import ArgumentParser
import StromClient

/// `strom topic alter-config NAME --set key=value ... --delete key ...`: changes only the named
/// configs (IncrementalAlterConfigs); `--delete` returns a config to its default.
struct TopicAlterConfigCommand: ClientCommand {
    static let configuration = CommandConfiguration(
        commandName: "alter-config", abstract: "Set or remove some of a topic's configs, leaving the others alone.")

    @OptionGroup var connection: BootstrapOptions

    @Argument(help: "The topic's name.")
    var name: String

    @Option(name: .customLong("set"), help: "A config to set, key=value (repeatable).")
    var settings: [ConfigSetting] = []

    @Option(name: .customLong("delete"), help: "A config to return to its default (repeatable).")
    var deletions: [String] = []

    func validate() throws {
        if settings.isEmpty && deletions.isEmpty { throw ValidationError("give at least one --set key=value or --delete key") }
        let both = Set(settings.map(\.name)).intersection(deletions)
        if let name = both.sorted().first { throw ValidationError("\(name) is both set and deleted") }
    }

    var alterations: [ConfigAlteration] {
        settings.map { ConfigAlteration.set(name: $0.name, value: $0.value) } + deletions.map { ConfigAlteration.delete(name: $0) }
    }

    func execute(client: KafkaClient, output: some CommandOutput) async throws {
        try await client.incrementalAlterConfigs(.topic(name), alterations)
        output.write("Updated the configs of topic \(name).\n")
    }
}
