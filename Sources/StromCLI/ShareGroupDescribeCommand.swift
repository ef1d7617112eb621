import ArgumentParser
import StromClient

/// `strom share-group describe GROUP`: the members and their partitions, then per share-partition
/// the start offset and the lag (records from there on not yet acknowledged or archived).
struct ShareGroupDescribeCommand: ClientCommand {
    static let configuration = CommandConfiguration(
        commandName: "describe", abstract: "Show a share group's members, and its start offset and lag per partition.")

    @OptionGroup var connection: BootstrapOptions

    @Argument(help: "The share group's id.")
    var group: String

    func execute(client: KafkaClient, output: some CommandOutput) async throws {
        let description = try await client.describeShareGroup(group)
        let offsets = try await client.shareGroupOffsets(group: group)
        var text = "\nShare group '\(group)' (\(description.state), epoch \(description.groupEpoch), assignor \(description.assignor))"
        let count = description.members.count
        text += count == 0 ? " has no active members.\n\n" : " has \(count) active member\(count == 1 ? "" : "s").\n\n"
        var members = TextTable(header: ["CONSUMER-ID", "HOST", "CLIENT-ID", "MEMBER-EPOCH", "ASSIGNMENT"])
        for member in description.members {
            let assignment = member.assignment.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value.map(String.init).joined(separator: ","))" }
            members.append([member.memberId, member.host, member.clientId, String(member.memberEpoch), assignment.joined(separator: " ")])
        }
        if count > 0 { text += members.text + "\n" }
        var table = TextTable(header: ["GROUP", "TOPIC", "PARTITION", "START-OFFSET", "LAG"])
        for (topic, partitions) in offsets.sorted(by: { $0.key < $1.key }) {
            for (partition, offset) in partitions.sorted(by: { $0.key < $1.key }) {
                table.append([group, topic, String(partition), offset.startOffset < 0 ? "-" : String(offset.startOffset),
                              offset.lag < 0 ? "-" : String(offset.lag)])
            }
        }
        output.write(text + table.text)
    }
}
