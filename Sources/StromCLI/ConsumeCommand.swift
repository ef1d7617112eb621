import ArgumentParser
import NIOCore
import StromClient

/// `strom consume TOPIC`: prints records from one or every partition of a topic, starting at the
/// end (new records only), the beginning, an offset or a timestamp — or, with `--share-group`, as
/// a member of a share group (a queue: each record goes to one member), acknowledging each record
/// it prints (accept; `--reject` or `--release` for testing). It stops after `--max-messages`
/// records, or when none arrived for `--timeout-ms`; without either it runs until interrupted.
/// The number of records printed goes to stderr at the end.
struct ConsumeCommand: ClientCommand {
    static let configuration = CommandConfiguration(
        commandName: "consume", abstract: "Print a topic's records.")

    /// The longest single fetch wait: bounds how late a stop for `--timeout-ms` can come.
    static let fetchWaitMsMax: Int64 = 500

    @OptionGroup var connection: BootstrapOptions

    @Argument(help: "The topic to read.")
    var topic: String

    @Option(help: "Read only this partition (default: every partition).")
    var partition: Int32?

    @Flag(name: .customLong("from-beginning"), help: "Start at each partition's first record.")
    var fromBeginning = false

    @Option(help: "Start at this offset (needs --partition).")
    var offset: Int64?

    @Option(help: "Start at the first record at or after this timestamp (ms since the epoch).")
    var timestamp: Int64?

    @Option(name: .customLong("max-messages"), help: "Stop after this many records.")
    var maxMessages: Int?

    @Option(name: .customLong("timeout-ms"), help: "Stop when no record arrived for this long.")
    var timeoutMs: Int64?

    @Option(help: "How to print a record: %k key, %v value, %o offset, %p partition, %t timestamp, %h headers, %T topic, %d delivery count (share groups).")
    var format = "%v"

    @Option(name: .customLong("share-group"), help: "Consume as a member of this share group, acknowledging each record printed.")
    var shareGroup: String?

    @Flag(help: "With --share-group: reject each record (it is never delivered again).")
    var reject = false

    @Flag(help: "With --share-group: release each record (it is delivered again, up to the delivery limit).")
    var release = false

    func validate() throws {
        let starts = [fromBeginning, offset != nil, timestamp != nil].filter { $0 }.count
        if starts > 1 { throw ValidationError("give at most one of --from-beginning, --offset and --timestamp") }
        if offset != nil && partition == nil { throw ValidationError("--offset needs --partition") }
        if let offset, offset < 0 { throw ValidationError("--offset must not be negative") }
        if let partition, partition < 0 { throw ValidationError("--partition must not be negative") }
        if let maxMessages, maxMessages < 1 { throw ValidationError("--max-messages must be at least 1") }
        if let timeoutMs, timeoutMs < 0 { throw ValidationError("--timeout-ms must not be negative") }
        if shareGroup != nil, starts > 0 || partition != nil {
            throw ValidationError("a share group decides where to read: --share-group takes no --partition, --from-beginning, --offset or --timestamp")
        }
        if shareGroup == nil, reject || release { throw ValidationError("--reject and --release need --share-group") }
        if reject && release { throw ValidationError("give at most one of --reject and --release") }
        _ = try RecordFormat(parsing: format)
    }

    func execute(client: KafkaClient, output: some CommandOutput) async throws {
        if let shareGroup { return try await consumeShared(group: shareGroup, client: client, output: output) }
        let recordFormat = try RecordFormat(parsing: format)
        var positions = try await startOffsets(client: client)
        let clock = ContinuousClock()
        var lastArrival = clock.now
        var printed = 0
        consuming: while maxMessages.map({ printed < $0 }) ?? true {
            var waitMs = Self.fetchWaitMsMax
            if let timeoutMs {
                let remainingMs = timeoutMs - (clock.now - lastArrival).milliseconds
                if remainingMs <= 0 { break }
                waitMs = Swift.min(waitMs, remainingMs)
            }
            let fetched = try await client.fetch(topic: topic, offsets: positions, maxWaitMs: Int32(waitMs))
            var text = ByteBuffer()
            for partition in fetched {
                let records = try partition.result.get()
                positions[partition.partition] = records.nextOffset
                for record in records.records {
                    recordFormat.write(record, into: &text)
                    printed += 1
                    if let maxMessages, printed >= maxMessages {
                        output.write(text)
                        break consuming
                    }
                }
                if !records.records.isEmpty { lastArrival = clock.now }
            }
            if text.readableBytes > 0 { output.write(text) }
        }
        output.writeError("Processed a total of \(printed) messages\n")
    }

    /// As a share group member: prints and acknowledges; records past `--max-messages` go back.
    private func consumeShared(group: String, client: KafkaClient, output: some CommandOutput) async throws {
        let recordFormat = try RecordFormat(parsing: format)
        let consumer = ShareConsumer(client: client, group: group, topic: topic)
        let acknowledgement: ShareConsumer.Acknowledgement = reject ? .reject : release ? .release : .accept
        let clock = ContinuousClock()
        var lastArrival = clock.now
        var printed = 0
        while maxMessages.map({ printed < $0 }) ?? true {
            var waitMs = Self.fetchWaitMsMax
            if let timeoutMs {
                let remainingMs = timeoutMs - (clock.now - lastArrival).milliseconds
                if remainingMs <= 0 { break }
                waitMs = Swift.min(waitMs, remainingMs)
            }
            let deliveries = try await consumer.poll(maxWaitMs: Int32(waitMs))
            var text = ByteBuffer()
            for delivery in deliveries {
                guard maxMessages.map({ printed < $0 }) ?? true else {
                    await consumer.acknowledge(delivery, .release)
                    continue
                }
                recordFormat.write(delivery.record, deliveryCount: delivery.deliveryCount, into: &text)
                await consumer.acknowledge(delivery, acknowledgement)
                printed += 1
            }
            if !deliveries.isEmpty { lastArrival = clock.now }
            if text.readableBytes > 0 { output.write(text) }
        }
        try await consumer.close()
        output.writeError("Processed a total of \(printed) messages\n")
    }

    /// Where each partition starts, by the start option.
    private func startOffsets(client: KafkaClient) async throws -> [Int32: Int64] {
        let description = try await client.describeTopic(topic)
        let partitions = partition.map { [$0] } ?? description.partitions.map(\.partition)
        if let partition, description.partition(partition) == nil {
            throw StromClientError.kafka(
                .unknownTopicOrPartition, resource: "topic \"\(topic)\" partition \(partition)",
                message: "the topic has \(description.partitions.count) partitions")
        }
        if let offset { return Dictionary(uniqueKeysWithValues: partitions.map { ($0, offset) }) }
        let spec: OffsetSpec = fromBeginning ? .earliest : timestamp.map { .timestamp($0) } ?? .latest
        var starts = try await Self.offsets(client.listOffsets(topic: topic, partitions: partitions, spec: spec))
        if case .timestamp = spec {
            // No record at or after the timestamp: start at the end, as Kafka's consumers do.
            let missing = partitions.filter { starts[$0] == nil }
            if !missing.isEmpty {
                let ends = try await Self.offsets(client.listOffsets(topic: topic, partitions: missing, spec: .latest))
                starts.merge(ends) { found, _ in found }
            }
        }
        for partition in partitions where starts[partition] == nil {
            throw StromClientError.malformedResponse(.listOffsets, reason: "no offset for topic \"\(topic)\" partition \(partition)")
        }
        return starts
    }

    /// The offsets found; the first partition's error is thrown.
    private static func offsets(_ results: [Int32: Result<ListedOffset, StromClientError>]) throws -> [Int32: Int64] {
        var offsets: [Int32: Int64] = [:]
        for (partition, result) in results.sorted(by: { $0.key < $1.key }) {
            if let offset = try result.get().offset { offsets[partition] = offset }
        }
        return offsets
    }
}

extension Duration {
    /// Whole milliseconds, rounded down.
    fileprivate var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000 + attoseconds / 1_000_000_000_000_000
    }
}
