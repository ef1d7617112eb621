import ArgumentParser
import StromClient

/// `strom topic list`: one topic name per line, sorted.
struct TopicListCommand: ClientCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the topics' names.")

    @OptionGroup var connection: BootstrapOptions

    func execute(client: KafkaClient, output: some CommandOutput) async throws {
        let names = try await client.listTopics().map(\.name)
        output.write(names.map { "\($0)\n" }.joined())
    }
}
