import KafkaProtocol
import NIOCore

/// Turns the `records` bytes of one fetched partition into ``ConsumerRecord``s.
///
/// What a broker returns is a run of v2 batches, possibly ending in a partial batch (it cut the
/// answer at `partitionMaxBytes`; the next fetch gets it whole). The first batch may start before
/// the fetch offset (the broker sends whole batches), so earlier records are skipped. Control
/// batches (transaction markers) are skipped but still move ``FetchedRecords/nextOffset`` past
/// them, or a consumer would fetch the same marker for ever.
enum FetchedBatchDecoder {
    /// - Throws: ``StromClientError/malformedResponse(_:reason:)`` for a bad CRC, an old message
    ///   format or a malformed record.
    static func decode(
        _ bytes: ByteBuffer?, topic: String, partition: Int32, fetchOffset: Int64,
        decompressedSizeBytesMax: Int = ClientLimits.decompressedBatchSizeBytesMax
    ) throws(StromClientError) -> (records: [ConsumerRecord], nextOffset: Int64) {
        guard var remaining = bytes else { return ([], fetchOffset) }
        var records: [ConsumerRecord] = []
        var nextOffset = fetchOffset
        while remaining.readableBytes > 0 {
            let batch: RecordBatch
            do {
                batch = try RecordBatch.read(from: &remaining)
            } catch .truncated {
                break
            } catch {
                throw .malformedResponse(.fetch, reason: "topic \"\(topic)\" partition \(partition) at offset \(nextOffset): \(error)")
            }
            let header = batch.header
            nextOffset = Swift.max(nextOffset, header.lastOffset + 1)
            if header.attributes.isControl { continue }
            do {
                try batch.verifyChecksum()
                var iterator = try batch.records(decompressedSizeBytesMax: decompressedSizeBytesMax)
                while let record = try iterator.next() {
                    let offset = header.baseOffset + Int64(record.offsetDelta)
                    guard offset >= fetchOffset else { continue }
                    let timestampType = header.attributes.timestampType
                    records.append(ConsumerRecord(
                        topic: topic, partition: partition, offset: offset,
                        timestampMs: timestampType == .logAppendTime ? header.maxTimestamp : header.baseTimestamp &+ record.timestampDelta,
                        timestampType: timestampType, key: record.key, value: record.value,
                        headers: record.headers.map { RecordBatchBuilder.Header(key: $0.keyString, value: $0.value) }))
                }
            } catch {
                throw .malformedResponse(.fetch, reason: "topic \"\(topic)\" partition \(partition) batch at offset \(header.baseOffset): \(error)")
            }
        }
        return (records, nextOffset)
    }
}
