import ArgumentParser
import StromClient

/// `strom share-group …`: share groups (queues) and their offsets, like `kafka-share-groups.sh`.
struct ShareGroupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "share-group", abstract: "List, describe (with lag), reset the offsets of, and delete share groups.",
        subcommands: [ShareGroupListCommand.self, ShareGroupDescribeCommand.self, ShareGroupResetOffsetsCommand.self, ShareGroupDeleteCommand.self])
}

/// `strom share-group list`: every share group with its state.
struct ShareGroupListCommand: ClientCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List share groups with their state.")

    @OptionGroup var connection: BootstrapOptions

    func execute(client: KafkaClient, output: some CommandOutput) async throws {
        var table = TextTable(header: ["GROUP", "STATE"])
        for group in try await client.listGroups() where group.type == "share" { table.append([group.groupId, group.state]) }
        output.write(table.text)
    }
}
