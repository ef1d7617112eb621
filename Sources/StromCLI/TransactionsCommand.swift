import ArgumentParser
import Foundation
import StromClient

/// `strom transactions …`: transactional ids and hanging transactions, like `kafka-transactions.sh`.
struct TransactionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transactions", abstract: "List and describe transactions; find and abort hanging ones.",
        subcommands: [TransactionsListCommand.self, TransactionsDescribeCommand.self, TransactionsFindHangingCommand.self, TransactionsAbortCommand.self])
}

/// `strom transactions list`: every transactional id with its producer and state.
struct TransactionsListCommand: ClientCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List transactional ids with their producer id and state.")

    @OptionGroup var connection: BootstrapOptions

    @Option(name: .customLong("state"), help: "Only ids in this state (Empty, Ongoing, PrepareCommit, CompleteCommit, ...); repeatable.")
    var states: [String] = []

    func execute(client: KafkaClient, output: some CommandOutput) async throws {
        var table = TextTable(header: ["TRANSACTIONAL-ID", "COORDINATOR", "PRODUCER-ID", "STATE"])
        for listing in try await client.listTransactions(states: states) {
            table.append([listing.transactionalId, String(listing.coordinatorId), String(listing.producerId), listing.state])
        }
        output.write(table.text)
    }
}

/// `strom transactions describe ID`: the id's producer, state and open transaction.
struct TransactionsDescribeCommand: ClientCommand {
    static let configuration = CommandConfiguration(commandName: "describe", abstract: "Show a transactional id's producer, state and partitions.")

    @OptionGroup var connection: BootstrapOptions

    @Argument(help: "The transactional id.")
    var transactionalId: String

    func execute(client: KafkaClient, output: some CommandOutput) async throws {
        let description = try await client.describeTransaction(transactionalId)
        var table = TextTable(header: ["TRANSACTIONAL-ID", "PRODUCER-ID", "PRODUCER-EPOCH", "STATE", "TIMEOUT-MS", "START-TIME", "PARTITIONS"])
        let start = description.startTimeMs < 0 ? "-" : ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(description.startTimeMs) / 1000))
        let partitions = description.partitions.sorted { $0.key < $1.key }.flatMap { topic, indexes in indexes.map { "\(topic)-\($0)" } }
        table.append([
            description.transactionalId, String(description.producerId), String(description.producerEpoch), description.state,
            String(description.timeoutMs), start, partitions.isEmpty ? "-" : partitions.joined(separator: ","),
        ])
        output.write(table.text)
    }
}

/// `strom transactions find-hanging --topic T`: transactions open in the topic's partitions for
/// longer than the longest transaction timeout whose coordinator no longer has them open there —
/// markers that will never come (Kafka's "hanging transactions").
struct TransactionsFindHangingCommand: ClientCommand {
    static let configuration = CommandConfiguration(commandName: "find-hanging", abstract: "Find transactions left open in a topic's partitions.")

    @OptionGroup var connection: BootstrapOptions

    @Option(help: "The topic to search.")
    var topic: String

    @Option(help: "Open longer than this many minutes (Kafka's transaction.max.timeout.ms, 15, by default).")
    var maxTransactionTimeout: Int = 15

    func execute(client: KafkaClient, output: some CommandOutput) async throws {
        let nowMs = Int64(Date().timeIntervalSince1970 * 1000)
        let ongoing = try await client.listTransactions(states: ["Ongoing"])
        var table = TextTable(header: ["TOPIC", "PARTITION", "PRODUCER-ID", "PRODUCER-EPOCH", "COORDINATOR-EPOCH", "START-OFFSET", "LAST-TIMESTAMP"])
        for (partition, producers) in try await client.describeProducers(topic: topic).sorted(by: { $0.key < $1.key }) {
            for producer in producers where producer.transactionStartOffset >= 0 {
                guard nowMs - producer.lastTimestampMs > Int64(maxTransactionTimeout) * 60_000 else { continue }
                // Still open at its coordinator, with this partition in it: slow, not hanging.
                if let listing = ongoing.first(where: { $0.producerId == producer.producerId }),
                   let description = try? await client.describeTransaction(listing.transactionalId),
                   description.partitions[topic]?.contains(partition) == true { continue }
                table.append([
                    topic, String(partition), String(producer.producerId), String(producer.producerEpoch), String(producer.coordinatorEpoch),
                    String(producer.transactionStartOffset), String(producer.lastTimestampMs),
                ])
            }
        }
        output.write(table.text)
    }
}

/// `strom transactions abort --topic T --partition P --start-offset O`: writes an ABORT marker for
/// the transaction open at that offset (its producer found with DescribeProducers), so the last
/// stable offset can move on.
struct TransactionsAbortCommand: ClientCommand {
    static let configuration = CommandConfiguration(commandName: "abort", abstract: "Abort a hanging transaction in one partition.")

    @OptionGroup var connection: BootstrapOptions

    @Option(help: "The topic.")
    var topic: String

    @Option(help: "The partition.")
    var partition: Int32

    @Option(help: "The first offset of the open transaction (see find-hanging).")
    var startOffset: Int64

    func execute(client: KafkaClient, output: some CommandOutput) async throws {
        let producers = try await client.describeProducers(topic: topic)[partition] ?? []
        guard let producer = producers.first(where: { $0.transactionStartOffset == startOffset }) else {
            throw ValidationError("no transaction open at offset \(startOffset) in \(topic)-\(partition)")
        }
        try await client.abortTransaction(
            topic: topic, partition: partition, producerId: producer.producerId, producerEpoch: Int16(producer.producerEpoch),
            coordinatorEpoch: producer.coordinatorEpoch)
        output.write("Aborted the transaction of producer \(producer.producerId) (epoch \(producer.producerEpoch)) open at \(topic)-\(partition) offset \(startOffset).\n")
    }
}

/// `strom producers describe TOPIC`: each partition's producers and their open transactions.
struct ProducersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "producers", abstract: "Show the producers partitions know.", subcommands: [ProducersDescribeCommand.self])
}

struct ProducersDescribeCommand: ClientCommand {
    static let configuration = CommandConfiguration(commandName: "describe", abstract: "Show each partition's producers and open transactions.")

    @OptionGroup var connection: BootstrapOptions

    @Argument(help: "The topic.")
    var topic: String

    func execute(client: KafkaClient, output: some CommandOutput) async throws {
        var table = TextTable(header: ["PARTITION", "PRODUCER-ID", "PRODUCER-EPOCH", "LAST-SEQUENCE", "LAST-TIMESTAMP", "COORDINATOR-EPOCH", "TRANSACTION-START-OFFSET"])
        for (partition, producers) in try await client.describeProducers(topic: topic).sorted(by: { $0.key < $1.key }) {
            for producer in producers {
                table.append([
                    String(partition), String(producer.producerId), String(producer.producerEpoch), String(producer.lastSequence),
                    String(producer.lastTimestampMs), String(producer.coordinatorEpoch),
                    producer.transactionStartOffset < 0 ? "-" : String(producer.transactionStartOffset),
                ])
            }
        }
        output.write(table.text)
    }
}
