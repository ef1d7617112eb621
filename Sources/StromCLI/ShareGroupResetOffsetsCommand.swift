import ArgumentParser
import Foundation
import StromClient

/// `strom share-group reset-offsets GROUP --topic T --to-earliest|--to-latest|--to-datetime|--to-offset [--execute]`:
/// plans new start offsets for the group's share-partitions and, with `--execute`, sets them. As
/// with `kafka-share-groups.sh`, the group must have no active members, and without `--execute`
/// nothing changes. Records before the new start are done for the group; from it on they are
/// delivered again.
struct ShareGroupResetOffsetsCommand: ClientCommand {
    static let configuration = CommandConfiguration(
        commandName: "reset-offsets", abstract: "Move a share group's start offsets (a dry run unless --execute).")

    @OptionGroup var connection: BootstrapOptions

    @Argument(help: "The share group's id.")
    var group: String

    @Option(help: "The topic whose share-partitions move.")
    var topic: String

    @Flag(help: "To the log start offset.") var toEarliest = false
    @Flag(help: "To the log end offset.") var toLatest = false
    @Option(help: "To the first record at or after this time (ISO 8601, e.g. 2026-11-25T10:00:00Z).") var toDatetime: String?
    @Option(help: "To this offset.") var toOffset: Int64?

    @Flag(help: "Set the new offsets (otherwise only print them).") var execute = false

    func execute(client: KafkaClient, output: some CommandOutput) async throws {
        var spec: OffsetSpec?
        let chosen = [toEarliest, toLatest, toDatetime != nil, toOffset != nil].filter { $0 }.count
        if toEarliest { spec = .earliest }
        if toLatest { spec = .latest }
        if let toDatetime {
            guard let date = ISO8601DateFormatter().date(from: toDatetime) else {
                throw ValidationError("--to-datetime wants ISO 8601, e.g. 2026-11-25T10:00:00Z, not \(toDatetime)")
            }
            spec = .timestamp(Int64(date.timeIntervalSince1970 * 1000))
        }
        guard chosen == 1 else { throw ValidationError("give exactly one of --to-earliest, --to-latest, --to-datetime, --to-offset") }
        let description = try await client.describeShareGroup(group)
        guard description.members.isEmpty else {
            throw ValidationError("share group \(group) has \(description.members.count) active members: offsets can only be reset while it has none")
        }
        let earliest = try await client.listOffsets(topic: topic, spec: .earliest)
        let latest = try await client.listOffsets(topic: topic, spec: .latest)
        var wanted: [Int32: Result<ListedOffset, StromClientError>]?
        if let spec { wanted = try await client.listOffsets(topic: topic, spec: spec) }
        var planned: [Int32: Int64] = [:]
        for partition in latest.keys.sorted() {
            guard let low = try earliest[partition]?.get().offset, let high = try latest[partition]?.get().offset else { continue }
            let found = try wanted?[partition]?.get().offset
            let offset = toOffset ?? found ?? high
            planned[partition] = min(max(offset, low), high)
        }
        var table = TextTable(header: ["GROUP", "TOPIC", "PARTITION", "NEW-START-OFFSET"])
        for (partition, offset) in planned.sorted(by: { $0.key < $1.key }) { table.append([group, topic, String(partition), String(offset)]) }
        output.write(table.text)
        if execute {
            try await client.alterShareGroupOffsets(group: group, topic: topic, offsets: planned)
        } else {
            output.writeError("strom: dry run: nothing changed; add --execute to set these offsets\n")
        }
    }
}
