import ArgumentParser
import StromClient

/// `strom group describe GROUP`: per partition the committed offset, the log end offset, the lag
/// and the member that owns it, in `kafka-consumer-groups.sh --describe`'s columns.
struct GroupDescribeCommand: ClientCommand {
    static let configuration = CommandConfiguration(
        commandName: "describe", abstract: "Show a group's members, committed offsets, log end offsets and lag per partition.")

    @OptionGroup var connection: BootstrapOptions

    @Argument(help: "The group's id.")
    var group: String

    func execute(client: KafkaClient, output: some CommandOutput) async throws {
        let description = try await client.describeGroup(group)
        let committed = try await client.committedOffsets(group: group)
        // Who owns each partition now.
        var owners: [String: [Int32: GroupDescription.Member]] = [:]
        for member in description.members {
            for (topic, partitions) in member.assignment {
                for partition in partitions { owners[topic, default: [:]][partition] = member }
            }
        }
        let topics = Set(committed.keys).union(owners.keys).sorted()
        var table = TextTable(header: ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID"])
        for topic in topics {
            let ends = try await client.listOffsets(topic: topic, spec: .latest)
            let partitions = Set(committed[topic, default: [:]].keys).union(owners[topic, default: [:]].keys).sorted()
            for partition in partitions {
                let current = committed[topic]?[partition]
                let end = (try? ends[partition]?.get())?.offset
                let lag = current.flatMap { current in end.map { max(0, $0 - current) } }
                let owner = owners[topic]?[partition]
                table.append([
                    group, topic, String(partition), current.map(String.init) ?? "-", end.map(String.init) ?? "-",
                    lag.map(String.init) ?? "-", owner?.memberId ?? "-", owner?.host ?? "-", owner?.clientId ?? "-",
                ])
            }
        }
        var text = "\nGroup '\(group)' (\(description.type), \(description.state)"
        text += description.assignor.isEmpty ? ")" : ", assignor \(description.assignor))"
        let count = description.members.count
        text += count == 0 ? " has no active members.\n\n" : " has \(count) active member\(count == 1 ? "" : "s").\n\n"
        output.write(text + table.text)
    }
}
