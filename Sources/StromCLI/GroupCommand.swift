import ArgumentParser

/// `strom group …`: consumer groups and their lag, like `kafka-consumer-groups.sh`.
struct GroupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "group", abstract: "List, describe (with lag), reset the offsets of, and delete consumer groups.",
        subcommands: [GroupListCommand.self, GroupDescribeCommand.self, GroupResetOffsetsCommand.self, GroupDeleteCommand.self])
}
