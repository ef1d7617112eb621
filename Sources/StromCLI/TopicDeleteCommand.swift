import ArgumentParser
import StromClient

/// `strom topic delete NAME`
struct TopicDeleteCommand: ClientCommand {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete a topic and its records.")

    @OptionGroup var connection: BootstrapOptions

    @Argument(help: "The topic's name.")
    var name: String

    func execute(client: KafkaClient, output: some CommandOutput) async throws {
        try await client.deleteTopic(name)
        output.write("Deleted topic \(name).\n")
    }
}
