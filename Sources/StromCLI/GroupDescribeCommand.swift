import ArgumentParser
import Foundation
import StromBroker
import StromClient

/// `strom group describe GROUP`: per partition the committed offset, the log end offset, the lag
/// and the member that owns it, in `kafka-consumer-groups.sh --describe`'s columns, then what the
/// group's coordinator evaluates (its admin listener): the time lag (the age of the oldest record
/// not yet consumed) and Burrow's status. The two come last so that scripts written against
/// Kafka's columns keep reading the same positions.
struct GroupDescribeCommand: ClientCommand {
    static let configuration = CommandConfiguration(
        commandName: "describe", abstract: "Show a group's members, committed offsets, log end offsets and lag per partition.")

    @OptionGroup var connection: BootstrapOptions
    @OptionGroup var adminOptions: AdminOptions

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
        let evaluated = await evaluatedLag(client: client, output: output)
        let evaluatedPartitions = Dictionary(
            (evaluated?.partitions ?? []).map { ("\($0.topic)/\($0.partition)", $0) }, uniquingKeysWith: { first, _ in first })
        let topics = Set(committed.keys).union(owners.keys).sorted()
        var table = TextTable(header: [
            "GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID", "TIME-LAG", "STATUS",
        ])
        for topic in topics {
            let ends = try await client.listOffsets(topic: topic, spec: .latest)
            let partitions = Set(committed[topic, default: [:]].keys).union(owners[topic, default: [:]].keys).sorted()
            for partition in partitions {
                let current = committed[topic]?[partition]
                let end = (try? ends[partition]?.get())?.offset
                let lag = current.flatMap { current in end.map { max(0, $0 - current) } }
                let owner = owners[topic]?[partition]
                let status = evaluatedPartitions["\(topic)/\(partition)"]
                table.append([
                    group, topic, String(partition), current.map(String.init) ?? "-", end.map(String.init) ?? "-",
                    lag.map(String.init) ?? "-", owner?.memberId ?? "-", owner?.host ?? "-", owner?.clientId ?? "-",
                    status?.timeLagSeconds.map(Self.seconds) ?? "-", status?.status ?? "-",
                ])
            }
        }
        var text = "\nGroup '\(group)' (\(description.type), \(description.state)"
        text += description.assignor.isEmpty ? ")" : ", assignor \(description.assignor))"
        let count = description.members.count
        text += count == 0 ? " has no active members." : " has \(count) active member\(count == 1 ? "" : "s")."
        if let evaluated { text += " Status \(evaluated.status)." }
        output.write(text + "\n\n" + table.text)
    }

    /// The group as its coordinator's lag monitor sees it; nil (with a warning) when no admin
    /// listener has it: the listener is off or unreachable, or the group has no committed offsets yet.
    private func evaluatedLag(client: KafkaClient, output: some CommandOutput) async -> GroupLagView? {
        let candidates: [String]
        do {
            if let given = try adminOptions.givenAddresses() {
                candidates = given
            } else {
                let coordinator = try await client.coordinatorId(ofGroup: group)
                let listeners = try await AdminListeners.discover(client: client)
                candidates = listeners[coordinator].map { [$0] } ?? []
            }
        } catch {
            output.writeError("strom: no time lag or status: \(error)\n")
            return nil
        }
        var reasons: [String] = []
        for address in candidates {
            do {
                if let view = try await AdminListeners.get([GroupLagView].self, path: "/v1/groups", from: address).first(where: { $0.group == group }) {
                    return view
                }
            } catch {
                reasons.append("\(error)")
            }
        }
        if candidates.isEmpty { reasons.append("the coordinator has no admin listener") }
        output.writeError("strom: no time lag or status for group \(group)\(reasons.isEmpty ? "" : ": " + reasons.joined(separator: "; "))\n")
        return nil
    }

    static func seconds(_ value: Double) -> String {
        value < 10 ? String(format: "%.1fs", value) : "\(Int(value.rounded()))s"
    }
}
