import ArgumentParser

/// `strom cluster …`: the cluster as a whole.
struct ClusterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster", abstract: "The cluster's brokers, controller and partition health.",
        subcommands: [ClusterStatusCommand.self])
}
