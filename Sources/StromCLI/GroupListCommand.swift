import ArgumentParser
import StromClient

/// `strom group list`: every group with its type (classic or consumer) and state.
struct GroupListCommand: ClientCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List consumer groups with their type and state.")

    @OptionGroup var connection: BootstrapOptions

    func execute(client: KafkaClient, output: some CommandOutput) async throws {
        var table = TextTable(header: ["GROUP", "TYPE", "STATE"])
        for group in try await client.listGroups() { table.append([group.groupId, group.type, group.state]) }
        output.write(table.text)
    }
}
