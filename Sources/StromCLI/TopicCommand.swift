import ArgumentParser

/// `strom topic …`: topic administration.
struct TopicCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topic", abstract: "Create, list, describe, delete and configure topics.",
        subcommands: [
            TopicCreateCommand.self, TopicListCommand.self, TopicDescribeCommand.self, TopicDeleteCommand.self,
            TopicAlterConfigCommand.self,
        ])
}
