import ArgumentParser
import StromClient

/// `strom group delete GROUP...`: deletes groups without members, with their committed offsets.
struct GroupDeleteCommand: ClientCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete", abstract: "Delete consumer groups (only groups without active members) and their offsets.")

    @OptionGroup var connection: BootstrapOptions

    @Argument(help: "The groups to delete.")
    var groups: [String]

    func execute(client: KafkaClient, output: some CommandOutput) async throws {
        let results = try await client.deleteGroups(groups)
        var failed: [String] = []
        for group in groups {
            switch results[group] {
            case .success?: output.write("Deleted group \(group).\n")
            case .failure(let error)?: failed.append("\(group): \(error)")
            case nil: failed.append("\(group): no answer")
            }
        }
        if !failed.isEmpty { throw ValidationError("could not delete " + failed.joined(separator: "; ")) }
    }
}
