import Foundation
import KafkaProtocol
import NIOCore
import StromStorage

/// Who owns the topic metadata: the broker creates a coordinator's topic (`__consumer_offsets`,
/// `__share_group_state`) for it.
protocol CoordinatorTopicHost: AnyObject, Sendable {
    /// The partition count of the coordinator topic, nil while it does not exist.
    func coordinatorTopicPartitionCount(_ topic: String) -> Int32?
    /// Creates the coordinator topic (with the configs the broker keeps for it) with this many partitions.
    func createCoordinatorTopic(_ topic: String, partitionCount: Int32) async throws
    /// Whether this broker leads the topic's partition `partition`, and so coordinates what is
    /// placed there (always, alone).
    func leadsCoordinatorPartition(_ topic: String, _ partition: Int32) -> Bool
    /// Waits until records up to `lastOffset` are as durable as an acks=all produce: on this
    /// broker's disk alone, past the high watermark in a cluster. False if they cannot be.
    func awaitDurable(_ log: PartitionLog, lastOffset: Int64) async -> Bool
}

/// A record a coordinator keeps in its topic: a key that names what it is about and a value
/// (null: deleted), each with its schema version first.
protocol CoordinatorLogRecord: Sendable {
    func encoded() throws(KafkaEncodingError) -> (key: ByteBuffer, value: ByteBuffer?)
    static func decode(key: ByteBuffer, value: ByteBuffer?) throws -> Self
}

extension CoordinatorRecord: CoordinatorLogRecord {}

/// A coordinator's I/O: its topic's partitions to append records to (durably) and to read back
/// on load. The coordinators themselves never touch files.
struct CoordinatorTopicStorage: Sendable {
    let topic: String
    let logs: LogManager

    /// Most records per batch, so that a large delete stays far below `max.message.bytes`.
    static let recordsPerBatchMax = 500

    struct Unavailable: Error, CustomStringConvertible {
        var description: String
    }

    func log(_ partition: Int32) throws -> PartitionLog {
        guard let log = logs.log(for: TopicPartition(topic: topic, partition: partition)) else {
            throw Unavailable(description: "\(topic)-\(partition) is not open")
        }
        return log
    }

    /// Appends the records (in batches) and returns the log and the last offset written. With a
    /// `transactionalProducer` they go in transactional batches of it (TxnOffsetCommit), pending
    /// until its transaction's marker.
    func append<Record: CoordinatorLogRecord>(
        _ records: [Record], partition: Int32, nowMs: Int64, transactionalProducer: (producerId: Int64, epoch: Int16)? = nil
    ) throws -> (PartitionLog, Int64) {
        let log = try log(partition)
        var lastOffset: Int64 = -1
        var start = 0
        while start < records.count {
            let end = min(start + Self.recordsPerBatchMax, records.count)
            var builder = transactionalProducer.map {
                RecordBatchBuilder(producerId: $0.producerId, producerEpoch: $0.epoch, isTransactional: true)
            } ?? RecordBatchBuilder()
            for record in records[start..<end] {
                let (key, value) = try record.encoded()
                builder.append(timestampMs: nowMs, key: key, value: value)
            }
            var bytes = try builder.build()
            let batch = try RecordBatch.read(from: &bytes)
            lastOffset = try log.append(batch, nowMs: nowMs).lastOffset
            start = end
        }
        return (log, lastOffset)
    }

    /// Every record of one partition, oldest first, with its offset. Records that cannot be read
    /// are skipped (and counted), so one damaged record does not lose the rest.
    func readAll<Record: CoordinatorLogRecord>(_ type: Record.Type, partition: Int32, _ body: (Record, Int64) -> Void) throws -> Int {
        try readAll(type, partition: partition, body: { record, offset, _ in body(record, offset) }, marker: { _, _ in })
    }

    /// Every record with its offset and, for records of a transactional batch, its producer id;
    /// and every transaction marker (producer id, commit), in log order.
    func readAll<Record: CoordinatorLogRecord>(
        _: Record.Type, partition: Int32, body: (Record, Int64, Int64?) -> Void, marker: (Int64, Bool) -> Void
    ) throws -> Int {
        let log = try log(partition)
        var offset = log.offsets.logStartOffset
        var unreadable = 0
        while true {
            let read = try log.read(from: offset, maxBytes: 1 << 20, upToLogEnd: true)
            guard !read.slices.isEmpty else { break }
            var bytes = ByteBuffer()
            for slice in read.slices { bytes.writeImmutableBuffer(try slice.read()) }
            let before = offset
            while bytes.readableBytes >= RecordBatchHeader.sizeBytes {
                let batch = try RecordBatch.read(from: &bytes)
                offset = batch.header.lastOffset + 1
                guard var records = try? batch.records(decompressedSizeBytesMax: 64 << 20) else { continue }
                if batch.header.attributes.isControl {
                    if let type = (try? records.next())?.controlType { marker(batch.header.producerId, type == .commit) }
                    continue
                }
                let producer = batch.header.attributes.isTransactional ? batch.header.producerId : nil
                while let record = try? records.next() {
                    guard let key = record.key, let decoded = try? Record.decode(key: key, value: record.value) else {
                        unreadable += 1
                        continue
                    }
                    body(decoded, batch.header.baseOffset + Int64(record.offsetDelta), producer)
                }
            }
            guard offset > before else { break }
        }
        return unreadable
    }
}
