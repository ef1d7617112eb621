import ArgumentParser
import Foundation
import StromClient

/// `strom group reset-offsets GROUP --topic T --to-earliest|--to-latest|--to-datetime|--shift-by|--to-offset [--execute]`:
/// plans new committed offsets and, with `--execute`, commits them. As with
/// `kafka-consumer-groups.sh`, the group must have no active members, and without `--execute`
/// nothing changes (a dry run).
struct GroupResetOffsetsCommand: ClientCommand {
    static let configuration = CommandConfiguration(
        commandName: "reset-offsets", abstract: "Move a group's committed offsets (a dry run unless --execute).")

    @OptionGroup var connection: BootstrapOptions

    @Argument(help: "The group's id.")
    var group: String

    @Option(help: "The topic whose offsets move.")
    var topic: String

    @Option(help: "Only these partitions (comma-separated); all by default.")
    var partitions: String?

    @Flag(help: "To the log start offset.") var toEarliest = false
    @Flag(help: "To the log end offset.") var toLatest = false
    @Option(help: "To the first record at or after this time (ISO 8601, e.g. 2026-11-25T10:00:00Z).") var toDatetime: String?
    // Unconditional: "-2" is a value here, not an option.
    @Option(parsing: .unconditional, help: "By this many records from the committed offset (negative: back).") var shiftBy: Int64?
    @Option(help: "To this offset.") var toOffset: Int64?

    @Flag(help: "Commit the new offsets (otherwise only print them).") var execute = false

    func target() throws -> OffsetResetTarget {
        var targets: [OffsetResetTarget] = []
        if toEarliest { targets.append(.earliest) }
        if toLatest { targets.append(.latest) }
        if let toDatetime {
            guard let date = ISO8601DateFormatter().date(from: toDatetime) else {
                throw ValidationError("--to-datetime wants ISO 8601, e.g. 2026-11-25T10:00:00Z, not \(toDatetime)")
            }
            targets.append(.timestamp(Int64(date.timeIntervalSince1970 * 1000)))
        }
        if let shiftBy { targets.append(.shift(shiftBy)) }
        if let toOffset { targets.append(.offset(toOffset)) }
        guard targets.count == 1, let only = targets.first else {
            throw ValidationError("give exactly one of --to-earliest, --to-latest, --to-datetime, --shift-by, --to-offset")
        }
        return only
    }

    func execute(client: KafkaClient, output: some CommandOutput) async throws {
        let target = try target()
        let description = try await client.describeGroup(group)
        guard description.members.isEmpty else {
            throw ValidationError("group \(group) has \(description.members.count) active members: offsets can only be reset while it has none")
        }
        let chosen = try partitions.map { list in
            try list.split(separator: ",").map { text -> Int32 in
                guard let partition = Int32(text.trimmingCharacters(in: .whitespaces)) else { throw ValidationError("not a partition: \(text)") }
                return partition
            }
        }
        let plan: [PlannedOffset]
        do {
            plan = try await client.planOffsetReset(group: group, topic: topic, partitions: chosen, to: target)
        } catch {
            if case .invalidArgument(let reason) = error { throw ValidationError(reason) }
            throw error
        }
        let planned = Dictionary(uniqueKeysWithValues: plan.map { ($0.partition, $0.planned) })
        var table = TextTable(header: ["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"])
        for (partition, offset) in planned.sorted(by: { $0.key < $1.key }) {
            table.append([group, topic, String(partition), String(offset)])
        }
        output.write(table.text)
        if execute {
            try await client.commitOffsets(group: group, topic: topic, offsets: planned)
        } else {
            output.writeError("strom: dry run: nothing changed; add --execute to commit these offsets\n")
        }
    }
}
