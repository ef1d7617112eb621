import KafkaProtocol
import StromClient

/// The throughput consumer of `strom bench consume`: reads every partition of a topic from its
/// start until `recordCount` records arrived, as kbench does (no consumer group).
///
/// Each fetch asks every partition at once (one Fetch per leader, through ``KafkaClient``), at
/// librdkafka's default sizes (50 MiB per answer, 1 MiB per partition). Every record's offset
/// must be above the last one read from its partition, and with `valueSizeBytes` every value must
/// have that size. The run fails when no record arrived for `stallTimeoutMs` (kbench: 3 s), or
/// at the deadline.
struct BenchConsumer: Sendable {
    var topic: String
    /// nil: sizes are not checked.
    var valueSizeBytes: Int?
    var stallTimeoutMs: Int
    /// The longest long poll; shorter near the stall limit so a stall is noticed in time.
    var fetchWaitMsMax: Int = 500
    var fetchSizeBytesMax: Int32 = 50 << 20
    var partitionFetchSizeBytesMax: Int32 = 1 << 20

    struct Figures: Sendable {
        var partitionCount: Int
        var records: Int
        /// Value bytes read (MB in the report are 10^6 of these).
        var valueBytes: Int
        /// Records between each partition's start and end when the run began (ListOffsets).
        var available: Int
        /// From the first fetch to the last record wanted.
        var elapsedSeconds: Double
    }

    /// - Parameter recordCount: nil reads the records there when the run starts (ListOffsets).
    /// - Throws: ``BenchError`` for lost, repeated or wrong-sized records and timeouts; the
    ///   client's error for a failed fetch (one partition's error fails the run).
    func run(client: KafkaClient, recordCount wanted: Int?, deadlineNanoseconds: Int64, timeoutSeconds: Int) async throws -> Figures {
        let description = try await client.describeTopic(topic)
        let partitions = description.partitions.map(\.partition)
        let starts = try await Self.offsets(client.listOffsets(topic: topic, partitions: partitions, spec: .earliest), topic: topic)
        let ends = try await Self.offsets(client.listOffsets(topic: topic, partitions: partitions, spec: .latest), topic: topic)
        let available = partitions.reduce(0) { $0 + Int((ends[$1] ?? 0) - (starts[$1] ?? 0)) }
        let recordCount = wanted ?? available

        var positions = starts
        // Per partition: the lowest offset the next record may have.
        var nextOffsets = starts
        var atEnd = Dictionary(uniqueKeysWithValues: partitions.map { ($0, false) })
        var records = 0
        var valueBytes = 0
        let start = MonotonicClock.nowNanoseconds()
        var lastProgress = start
        let stallNanoseconds = Int64(stallTimeoutMs) * 1_000_000
        consuming: while records < recordCount {
            let now = MonotonicClock.nowNanoseconds()
            if now > deadlineNanoseconds { throw BenchError.timedOut(seconds: timeoutSeconds, activity: "consuming") }
            let stalledFor = now - lastProgress
            if stalledFor >= stallNanoseconds {
                throw BenchError.lostRecords(consumed: records, expected: recordCount, allPartitionsAtEnd: !atEnd.values.contains(false))
            }
            let waitMs = Swift.min(fetchWaitMsMax, Int((stallNanoseconds - stalledFor + 999_999) / 1_000_000))
            let fetched = try await client.fetch(
                topic: topic, offsets: positions, maxWaitMs: Int32(waitMs), maxBytes: fetchSizeBytesMax,
                partitionMaxBytes: partitionFetchSizeBytesMax)
            var progressed = false
            for partition in fetched {
                let result = try partition.result.get()
                let index = partition.partition
                positions[index] = result.nextOffset
                atEnd[index] = result.nextOffset >= result.highWatermark
                progressed = progressed || !result.records.isEmpty
                // Kept in a local for the record loop: one dictionary access per partition, not per record.
                var nextOffset = nextOffsets[index] ?? 0
                defer { nextOffsets[index] = nextOffset }
                for record in result.records {
                    guard record.offset >= nextOffset else {
                        throw BenchError.offsetNotIncreasing(partition: index, offset: record.offset, nextExpected: nextOffset)
                    }
                    let sizeBytes = record.value?.readableBytes
                    if let valueSizeBytes, sizeBytes != valueSizeBytes {
                        throw BenchError.wrongValueSize(partition: index, offset: record.offset, sizeBytes: sizeBytes, expected: valueSizeBytes)
                    }
                    nextOffset = record.offset + 1
                    records += 1
                    valueBytes += sizeBytes ?? 0
                    if records == recordCount { break consuming }
                }
            }
            if progressed { lastProgress = MonotonicClock.nowNanoseconds() }
        }
        let elapsed = MonotonicClock.seconds(from: start, to: MonotonicClock.nowNanoseconds())
        return Figures(partitionCount: partitions.count, records: records, valueBytes: valueBytes, available: available, elapsedSeconds: elapsed)
    }

    /// The offsets found; the first partition's error is thrown.
    static func offsets(_ results: [Int32: Result<ListedOffset, StromClientError>], topic: String) throws -> [Int32: Int64] {
        var offsets: [Int32: Int64] = [:]
        for (partition, result) in results.sorted(by: { $0.key < $1.key }) {
            guard let offset = try result.get().offset else {
                throw StromClientError.malformedResponse(.listOffsets, reason: "no offset for topic \"\(topic)\" partition \(partition)")
            }
            offsets[partition] = offset
        }
        return offsets
    }
}
