import ArgumentParser
import StromClient

/// `strom share-group delete GROUP [--topic T ...]`: deletes a share group without members with its
/// share-partition state, or with `--topic` only the state of those topics (their records are then
/// delivered from `share.auto.offset.reset` again).
struct ShareGroupDeleteCommand: ClientCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete", abstract: "Delete a share group without active members, or only its offsets of some topics.")

    @OptionGroup var connection: BootstrapOptions

    @Argument(help: "The share group's id.")
    var group: String

    @Option(name: .customLong("topic"), help: "Delete only the group's offsets of this topic (repeatable).")
    var topics: [String] = []

    func execute(client: KafkaClient, output: some CommandOutput) async throws {
        if !topics.isEmpty {
            try await client.deleteShareGroupOffsets(group: group, topics: topics)
            output.write("Deleted the offsets of share group \(group) for \(topics.joined(separator: ", ")).\n")
            return
        }
        switch try await client.deleteGroups([group])[group] {
        case .success?: output.write("Deleted share group \(group).\n")
        case .failure(let error)?: throw ValidationError("could not delete \(group): \(error)")
        case nil: throw ValidationError("could not delete \(group): no answer")
        }
    }
}
