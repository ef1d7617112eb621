import KafkaProtocol
import NIOCore
import StromTestSupport
import Synchronization
import Testing
@testable import StromStorage

/// Log compaction (LogCleaner.swift): what survives a clean, when a clean may run, tombstones,
/// bounded memory and work, a random model, and power cuts at every step of a segment swap.
@Suite struct CompactionTests {
    static let topicPartition = TopicPartition(topic: "compacted", partition: 0)
    static let directory = "/data/compacted-0"
    static let codecs: [CompressionCodec] = [.none, .gzip, .snappy, .lz4, .zstd]

    // MARK: Fixtures

    /// One record as written: what every read-back record is compared with.
    struct Written: Equatable {
        var key: String?
        var value: String?
        var timestampMs: Int64
    }

    /// A record as read back from the log.
    struct ReadRecord: Equatable {
        var offset: Int64
        var key: String?
        var value: String?
        var timestampMs: Int64
        var isLogAppendTime = false
    }

    /// Everything appended, by offset, plus each key's latest record: what compaction must keep.
    struct Model {
        var written: [Int64: Written] = [:]
        var latestOffsetByKey: [String: Int64] = [:]
        /// Header of every batch as appended, by base offset.
        var headers: [Int64: RecordBatchHeader] = [:]

        mutating func record(_ info: PartitionLog.AppendInfo, header: RecordBatchHeader, records: [Written]) {
            var stored = header
            stored.baseOffset = info.firstOffset
            headers[info.firstOffset] = stored
            for (index, record) in records.enumerated() {
                let offset = info.firstOffset + Int64(index)
                written[offset] = record
                if let key = record.key { latestOffsetByKey[key] = offset }
            }
        }
    }

    static func config(_ properties: [String: String] = [:]) throws -> LogConfig {
        var all = [
            "cleanup.policy": "compact", "segment.bytes": "1200", "index.interval.bytes": "100",
            "min.cleanable.dirty.ratio": "0", "delete.retention.ms": "86400000",
        ]
        for (key, value) in properties { all[key] = value }
        return try LogConfig(properties: all)
    }

    static func open(
        _ fileSystem: any StorageFileSystem, config: LogConfig, cleanShutdown: Bool = true, nowMs: Int64 = 0
    ) throws -> PartitionLog {
        try PartitionLog.open(
            directory: directory, topicPartition: topicPartition, config: config, fileSystem: fileSystem,
            cleanShutdown: cleanShutdown, nowMs: nowMs
        ).0
    }

    struct Producer {
        var producerId: Int64 = -1
        var producerEpoch: Int16 = -1
        var baseSequence: Int32 = -1
        var isTransactional = false
    }

    /// Appends one batch of `records` and notes it in the model.
    @discardableResult
    static func append(
        _ records: [Written], to log: PartitionLog, model: inout Model, codec: CompressionCodec, nowMs: Int64,
        producer: Producer = Producer()
    ) throws -> PartitionLog.AppendInfo {
        var builder = RecordBatchBuilder(
            compressionCodec: codec, producerId: producer.producerId, producerEpoch: producer.producerEpoch,
            baseSequence: producer.baseSequence, isTransactional: producer.isTransactional)
        for record in records {
            builder.append(
                timestampMs: record.timestampMs, key: record.key.map { ByteBuffer(string: $0) },
                value: record.value.map { ByteBuffer(string: $0) },
                headers: [RecordBatchBuilder.Header(key: "h", value: ByteBuffer(string: record.key ?? "-"))])
        }
        var bytes = try builder.build()
        let batch = try RecordBatch.read(from: &bytes)
        try batch.validate(mode: .produced, decompressedSizeBytesMax: 1 << 20)
        let info = try log.append(batch, nowMs: nowMs)
        var header = batch.header
        if info.logAppendTimeMs >= 0 {
            header.maxTimestamp = info.logAppendTimeMs
            header.attributes.rawValue |= 1 << 3
        }
        model.record(info, header: header, records: records)
        return info
    }

    /// Reads the whole log (up to its end) through `PartitionLog.read`, validating every batch as
    /// stored data and checking that offsets only grow.
    static func readAll(_ log: PartitionLog, context: String) throws -> (records: [ReadRecord], headers: [RecordBatchHeader]) {
        var records: [ReadRecord] = []
        var headers: [RecordBatchHeader] = []
        var position = log.offsets.logStartOffset
        let end = log.offsets.logEndOffset
        for _ in 0..<100_000 where position < end {
            let info = try log.read(from: position, maxBytes: 4096, upToLogEnd: true)
            guard !info.slices.isEmpty else { break }
            for slice in info.slices {
                var bytes = try slice.read()
                while bytes.readableBytes > 0 {
                    let batch = try RecordBatch.read(from: &bytes)
                    try batch.validate(mode: .stored, decompressedSizeBytesMax: 1 << 20)
                    #expect(batch.header.baseOffset >= position || headers.isEmpty, "\(context): batch \(batch.header.baseOffset) before \(position)")
                    headers.append(batch.header)
                    var iterator = try batch.records(decompressedSizeBytesMax: 1 << 20)
                    while let record = try iterator.next() {
                        let offset = batch.header.baseOffset + Int64(record.offsetDelta)
                        #expect(offset > (records.last?.offset ?? -1), "\(context): offset \(offset) out of order")
                        let timestamp = batch.header.attributes.timestampType == .logAppendTime
                            ? batch.header.maxTimestamp : batch.header.baseTimestamp + record.timestampDelta
                        records.append(ReadRecord(
                            offset: offset, key: record.key.map { String(buffer: $0) }, value: record.value.map { String(buffer: $0) },
                            timestampMs: timestamp, isLogAppendTime: batch.header.attributes.timestampType == .logAppendTime))
                    }
                    position = batch.header.lastOffset + 1
                }
            }
        }
        return (records, headers)
    }

    /// Checks what compaction promises against the model:
    /// - every record read is one that was written, at its original offset;
    /// - every key's latest record is there (unless it is a tombstone and `tombstonesMayBeGone`),
    ///   and nothing of a key follows its latest record or resurrects after its tombstone;
    /// - with `fullyCompacted`, each key has exactly one record left.
    static func verify(
        _ log: PartitionLog, model: Model, context: String, tombstonesMayBeGone: Bool = false, fullyCompactedBelow: Int64? = nil
    ) throws {
        let (records, headers) = try readAll(log, context: context)
        var lastOffsetByKey: [String: Int64] = [:]
        var countByKey: [String: Int] = [:]
        for record in records {
            let written = model.written[record.offset]
            #expect(written?.key == record.key && written?.value == record.value,
                    "\(context): offset \(record.offset) reads \(record), wrote \(String(describing: written))")
            if !record.isLogAppendTime {
                #expect(written?.timestampMs == record.timestampMs, "\(context): timestamp of \(record.offset)")
            }
            if let key = record.key {
                lastOffsetByKey[key] = record.offset
                if let below = fullyCompactedBelow, record.offset < below { countByKey[key, default: 0] += 1 }
            }
        }
        for (key, latest) in model.latestOffsetByKey {
            let isTombstone = model.written[latest]?.value == nil
            if tombstonesMayBeGone && isTombstone {
                #expect(lastOffsetByKey[key] == nil || lastOffsetByKey[key] == latest,
                        "\(context): key \(key) resurrected at \(lastOffsetByKey[key] ?? -1) after its tombstone at \(latest)")
            } else {
                #expect(lastOffsetByKey[key] == latest, "\(context): key \(key) last at \(lastOffsetByKey[key] ?? -1), latest is \(latest)")
            }
        }
        if let below = fullyCompactedBelow {
            for (key, count) in countByKey {
                #expect(count == 1, "\(context): key \(key) has \(count) records below \(below)")
            }
        }
        // Rebuilt batches keep the original header fields; only counts, timestamps and CRC change.
        for header in headers {
            guard let original = model.headers[header.baseOffset] else {
                Issue.record("\(context): batch at \(header.baseOffset) was never appended")
                continue
            }
            #expect(header.lastOffsetDelta == original.lastOffsetDelta, "\(context): lastOffsetDelta of \(header.baseOffset)")
            #expect(header.attributes == original.attributes, "\(context): attributes of \(header.baseOffset)")
            #expect(header.producerId == original.producerId && header.producerEpoch == original.producerEpoch
                && header.baseSequence == original.baseSequence, "\(context): producer fields of \(header.baseOffset)")
            #expect(header.baseTimestamp == original.baseTimestamp, "\(context): base timestamp of \(header.baseOffset)")
            if original.attributes.timestampType == .logAppendTime {
                #expect(header.maxTimestamp == original.maxTimestamp, "\(context): log append time of \(header.baseOffset)")
            }
        }
    }

    /// Compacts until a clean completes (or nothing is due), a bounded number of calls.
    @discardableResult
    static func compactFully(
        _ log: PartitionLog, nowMs: Int64, limits: LogCleanerLimits = LogCleanerLimits(), context: String
    ) throws -> [CompactionReport] {
        var reports: [CompactionReport] = []
        for _ in 0..<1_000 {
            let report = try log.compact(nowMs: nowMs, limits: limits)
            reports.append(report)
            if report.outcome != .inProgress { return reports }
        }
        Issue.record("\(context): compaction did not finish in 1000 calls")
        return reports
    }

    /// A keyed history over `keyCount` keys: updates, some tombstones, codecs rotating per batch.
    static func fill(
        _ log: PartitionLog, model: inout Model, rng: inout SplitMix64, batches: Int, keyCount: Int, nowMs: inout Int64,
        codecs: [CompressionCodec] = codecs, tombstoneOneIn: Int = 8, nullKeyOneIn: Int = 40
    ) throws {
        for batchIndex in 0..<batches {
            nowMs += 1 + Int64(rng.below(5))
            let records = (0..<(1 + rng.below(6))).map { index -> Written in
                let key: String? = rng.oneIn(nullKeyOneIn) ? nil : "key-\(rng.below(keyCount))"
                let value: String? = key != nil && rng.oneIn(tombstoneOneIn) ? nil : "value-\(batchIndex)-\(index)-\(rng.below(1_000))"
                return Written(key: key, value: value, timestampMs: nowMs)
            }
            // A fresh producer id each time: the log checks an idempotent producer's sequence, and
            // these batches only need to carry producer fields through compaction.
            let producer = rng.oneIn(3)
                ? Producer(producerId: Int64(rng.next() >> 2), producerEpoch: 1, baseSequence: Int32(batchIndex * 10)) : Producer()
            try append(records, to: log, model: &model, codec: codecs[batchIndex % codecs.count], nowMs: nowMs, producer: producer)
        }
    }

    // MARK: What survives a clean

    @Test(arguments: CompactionTests.codecs)
    func compactsToTheLatestValueOfEveryKey(codec: CompressionCodec) throws {
        let fileSystem = SimulatedFileSystem()
        let log = try Self.open(fileSystem, config: try Self.config())
        var model = Model()
        var rng = SplitMix64(seed: UInt64(codec.rawValue) + 100)
        var nowMs: Int64 = 1_000
        try Self.fill(log, model: &model, rng: &rng, batches: 120, keyCount: 15, nowMs: &nowMs, codecs: [codec, .none])
        try log.roll(nowMs: nowMs)
        try Self.append([Written(key: "key-0", value: "in the active segment", timestampMs: nowMs)], to: log, model: &model, codec: codec, nowMs: nowMs)
        try log.flush(nowMs: nowMs)
        let activeBase = try #require(log.segmentBaseOffsets.last)
        let activePath = LogCleaner.path(Self.directory, activeBase, ".log")
        let activeBefore = fileSystem.content(of: activePath)
        let sizeBefore = log.sizeBytes
        let offsetsBefore = log.offsets
        let segmentsBefore = log.segmentBaseOffsets.count
        #expect(segmentsBefore > 5, "the history should span several segments")
        // A reader holding a slice from before the clean keeps reading the old bytes.
        let oldSlice = try #require(try log.read(from: 0, maxBytes: 1).slices.first)
        let oldBytes = try oldSlice.read()

        let reports = try Self.compactFully(log, nowMs: nowMs, context: "\(codec)")
        let report = try #require(reports.last)
        #expect(report.outcome == .completed)
        #expect(report.cleanedUpToOffset == activeBase)
        #expect(log.cleanerCheckpoint == activeBase)
        #expect(report.recordsRemoved > 0 && log.sizeBytes < sizeBefore, "\(report)")
        #expect(log.offsets == offsetsBefore, "compaction moved offsets")
        #expect(fileSystem.content(of: activePath) == activeBefore, "the active segment changed")
        #expect(log.segmentBaseOffsets.last == activeBase)
        try Self.verify(log, model: model, context: "\(codec)", fullyCompactedBelow: activeBase)
        #expect(try oldSlice.read() == oldBytes)

        // Reading from any offset starts at the batch covering it (batches keep their offset range,
        // so it may hold only earlier records now, as in Kafka), and the first record at or after
        // the offset is the first survivor there.
        let survivors = try Self.readAll(log, context: "\(codec)").records.map(\.offset)
        for offset in offsetsBefore.logStartOffset..<offsetsBefore.logEndOffset {
            let info = try log.read(from: offset, maxBytes: 1 << 20, upToLogEnd: true)
            var first: Int64?
            var firstBatch: RecordBatchHeader?
            for slice in info.slices where first == nil {
                var bytes = try slice.read()
                while first == nil, bytes.readableBytes > 0 {
                    let batch = try RecordBatch.read(from: &bytes)
                    firstBatch = firstBatch ?? batch.header
                    var iterator = try batch.records(decompressedSizeBytesMax: 1 << 20)
                    while let record = try iterator.next() {
                        let recordOffset = batch.header.baseOffset + Int64(record.offsetDelta)
                        if recordOffset >= offset { first = recordOffset; break }
                    }
                }
            }
            let covering = try #require(firstBatch, "\(codec): read from \(offset) returned nothing")
            #expect(covering.lastOffset >= offset, "\(codec): read from \(offset) starts with a batch ending at \(covering.lastOffset)")
            #expect(first == survivors.first { $0 >= offset }, "\(codec): read from \(offset)")
        }

        // A second clean with nothing new is a no-op; after a clean restart the log reads the same.
        #expect(try log.compact(nowMs: nowMs).outcome == .nothingToClean)
        let checkpoint = log.cleanerCheckpoint
        try log.close()
        let reopened = try Self.open(fileSystem, config: try Self.config(), nowMs: nowMs)
        #expect(reopened.cleanerCheckpoint == nil)
        reopened.restoreCleanerCheckpoint(try #require(checkpoint))
        try Self.verify(reopened, model: model, context: "\(codec) reopened", fullyCompactedBelow: activeBase)
        #expect(try reopened.compact(nowMs: nowMs).outcome == .nothingToClean)
    }

    @Test func keepsNullKeysControlBatchesAndLogAppendTime() throws {
        let fileSystem = SimulatedFileSystem()
        let log = try Self.open(fileSystem, config: try Self.config(["message.timestamp.type": "LogAppendTime"]))
        var model = Model()
        var nowMs: Int64 = 5_000
        for round in 0..<30 {
            nowMs += 10
            try Self.append(
                [Written(key: "a", value: "a\(round)", timestampMs: 1), Written(key: nil, value: "keyless \(round)", timestampMs: 2),
                 Written(key: "b", value: "b\(round)", timestampMs: 3)],
                to: log, model: &model, codec: round % 2 == 0 ? .zstd : .none, nowMs: nowMs,
                producer: Producer(producerId: 7, producerEpoch: 2, baseSequence: Int32(round * 3), isTransactional: false))
        }
        let marker = RecordBatchBuilder.endTransactionMarker(.commit, producerId: 9, producerEpoch: 0, coordinatorEpoch: 1, timestampMs: nowMs)
        var markerBytes = try marker.build()
        let markerBatch = try RecordBatch.read(from: &markerBytes)
        let markerInfo = try log.append(markerBatch, nowMs: nowMs)
        var markerHeader = markerBatch.header
        markerHeader.baseOffset = markerInfo.firstOffset
        markerHeader.attributes.rawValue |= 1 << 3
        markerHeader.maxTimestamp = markerInfo.logAppendTimeMs
        model.headers[markerInfo.firstOffset] = markerHeader
        try log.roll(nowMs: nowMs)
        try log.flush(nowMs: nowMs)
        try Self.compactFully(log, nowMs: nowMs, context: "log append time")
        let records = try Self.readAll(log, context: "log append time").records
        #expect(records.filter { $0.key == nil }.count == 30, "keyless records are kept")
        #expect(records.filter { $0.key == "a" }.map(\.value) == ["a29"])
        #expect(records.filter { $0.key == "b" }.map(\.value) == ["b29"])
        let headers = try Self.readAll(log, context: "log append time").headers
        #expect(headers.contains { $0.attributes.isControl && $0.baseOffset == markerInfo.firstOffset }, "control batch kept")
        for header in headers where !header.attributes.isControl {
            #expect(header.attributes.timestampType == .logAppendTime)
            #expect(header.maxTimestamp == model.headers[header.baseOffset]?.maxTimestamp, "log append time kept")
        }
    }

    // MARK: When a clean may run

    @Test func minCompactionLagKeepsRecentSegmentsDirty() throws {
        let fileSystem = SimulatedFileSystem()
        let config = try Self.config(["min.compaction.lag.ms": "10000"])
        let log = try Self.open(fileSystem, config: config)
        var model = Model()
        var rng = SplitMix64(seed: 7)
        let startMs: Int64 = 100_000
        var nowMs = startMs
        try Self.fill(log, model: &model, rng: &rng, batches: 60, keyCount: 5, nowMs: &nowMs)
        try log.roll(nowMs: nowMs)
        try log.flush(nowMs: nowMs)
        let newest = nowMs
        let sizeBefore = log.sizeBytes
        // Every segment is younger than the lag: nothing may be cleaned.
        #expect(try log.compact(nowMs: startMs + 9_999).outcome == .nothingToClean)
        #expect(log.sizeBytes == sizeBefore)
        // Halfway: only segments whose newest record is at least 10 s old are cleaned.
        let cutMs = newest - 90
        let reports = try Self.compactFully(log, nowMs: cutMs + 10_000, context: "lag")
        let end = try #require(reports.last?.cleanedUpToOffset)
        #expect(reports.last?.outcome == .completed)
        #expect(end > 0 && end < log.segmentBaseOffsets.last!, "the clean must stop before the young segments: \(end)")
        let records = try Self.readAll(log, context: "lag").records
        #expect(records.filter { $0.offset >= end }.map(\.offset) == model.written.keys.filter { $0 >= end }.sorted(),
                "records past the clean must all stay")
        #expect(records.contains { $0.offset < end && $0.timestampMs <= cutMs })
        try Self.verify(log, model: model, context: "lag", fullyCompactedBelow: end)
        // Once the lag has passed for all of them, everything is cleaned.
        #expect(try Self.compactFully(log, nowMs: newest + 10_000, context: "lag, later").last?.outcome == .completed)
        try Self.verify(log, model: model, context: "lag, later", fullyCompactedBelow: log.segmentBaseOffsets.last!)
    }

    @Test func dirtyRatioAndMaxCompactionLag() throws {
        let fileSystem = SimulatedFileSystem()
        let log = try Self.open(fileSystem, config: try Self.config(["min.cleanable.dirty.ratio": "0.5"]))
        var model = Model()
        var rng = SplitMix64(seed: 11)
        var nowMs: Int64 = 1_000
        // Many distinct keys: the first clean keeps most of the log, so the clean part is large.
        try Self.fill(log, model: &model, rng: &rng, batches: 80, keyCount: 400, nowMs: &nowMs, tombstoneOneIn: 1_000)
        try log.roll(nowMs: nowMs)
        try log.flush(nowMs: nowMs)
        let first = try Self.compactFully(log, nowMs: nowMs, context: "ratio")
        #expect(first.last?.outcome == .completed && first.last?.dirtyRatio == 1)
        let cleanSize = log.sizeBytes

        // A little dirty data: below the ratio, nothing happens.
        try Self.fill(log, model: &model, rng: &rng, batches: 6, keyCount: 400, nowMs: &nowMs, tombstoneOneIn: 1_000)
        try log.roll(nowMs: nowMs)
        try log.flush(nowMs: nowMs)
        let below = try log.compact(nowMs: nowMs)
        #expect(below.outcome == .belowDirtyRatio)
        let ratio = try #require(below.dirtyRatio)
        #expect(ratio > 0 && ratio < 0.5)
        #expect(log.sizeBytes > cleanSize)
        let sizeBelow = log.sizeBytes

        // max.compaction.lag.ms forces the clean once the oldest dirty segment is old enough.
        log.updateConfig(try Self.config(["min.cleanable.dirty.ratio": "0.5", "max.compaction.lag.ms": "60000"]))
        #expect(try log.compact(nowMs: nowMs + 1_000).outcome == .belowDirtyRatio)
        let forced = try Self.compactFully(log, nowMs: nowMs + 61_000, context: "forced")
        #expect(forced.last?.outcome == .completed && forced.last?.forcedByMaxCompactionLag == true, "\(forced)")
        #expect(log.sizeBytes <= sizeBelow)
        try Self.verify(log, model: model, context: "forced", fullyCompactedBelow: log.segmentBaseOffsets.last!)

        // Enough dirty data: above the ratio, cleaned without forcing.
        log.updateConfig(try Self.config(["min.cleanable.dirty.ratio": "0.5"]))
        try Self.fill(log, model: &model, rng: &rng, batches: 150, keyCount: 400, nowMs: &nowMs, tombstoneOneIn: 1_000)
        try log.roll(nowMs: nowMs)
        try log.flush(nowMs: nowMs)
        let above = try Self.compactFully(log, nowMs: nowMs, context: "above")
        #expect(above.last?.outcome == .completed && above.last?.forcedByMaxCompactionLag == false)
        #expect((above.first?.dirtyRatio ?? 0) >= 0.5)
        try Self.verify(log, model: model, context: "above", fullyCompactedBelow: log.segmentBaseOffsets.last!)
    }

    @Test func nothingAboveTheHighWatermarkOrInTheActiveSegment() throws {
        let fileSystem = SimulatedFileSystem()
        let log = try Self.open(fileSystem, config: try Self.config())
        var model = Model()
        var rng = SplitMix64(seed: 3)
        var nowMs: Int64 = 1_000
        try Self.fill(log, model: &model, rng: &rng, batches: 40, keyCount: 3, nowMs: &nowMs)
        // Not flushed: with fsync-before-acknowledging the high watermark is still 0.
        #expect(log.offsets.highWatermark == 0)
        #expect(try log.compact(nowMs: nowMs).outcome == .nothingToClean)
        // A log with one (active) segment has nothing to clean either.
        let single = try PartitionLog.open(
            directory: "/data/single-0", topicPartition: TopicPartition(topic: "single", partition: 0),
            config: try Self.config(["segment.bytes": "1000000"]), fileSystem: fileSystem, cleanShutdown: true, nowMs: 0).0
        var singleModel = Model()
        try Self.fill(single, model: &singleModel, rng: &rng, batches: 20, keyCount: 2, nowMs: &nowMs)
        try single.flush(nowMs: nowMs)
        #expect(try single.compact(nowMs: nowMs).outcome == .nothingToClean)
        // A topic without `compact` is not compacted.
        log.updateConfig(try Self.config(["cleanup.policy": "delete"]))
        try log.flush(nowMs: nowMs)
        #expect(try log.compact(nowMs: nowMs).outcome == .notCompacted)
    }

    // MARK: Tombstones and retention

    @Test func tombstonesGoOnlyAfterDeleteRetention() throws {
        let fileSystem = SimulatedFileSystem()
        let deleteRetentionMs: Int64 = 50_000
        let log = try Self.open(fileSystem, config: try Self.config(["delete.retention.ms": String(deleteRetentionMs)]))
        var model = Model()
        var nowMs: Int64 = 1_000_000
        try Self.append([Written(key: "gone", value: "v1", timestampMs: nowMs)], to: log, model: &model, codec: .lz4, nowMs: nowMs)
        try Self.append([Written(key: "kept", value: "v1", timestampMs: nowMs)], to: log, model: &model, codec: .none, nowMs: nowMs)
        let tombstoneMs = nowMs + 1
        let tombstone = try Self.append(
            [Written(key: "gone", value: nil, timestampMs: tombstoneMs), Written(key: "kept", value: "v2", timestampMs: tombstoneMs)],
            to: log, model: &model, codec: .gzip, nowMs: tombstoneMs)

        /// Adds a little dirty data so that a clean has something to do, then cleans at `atMs`.
        func cleanAgain(atMs: Int64) throws -> [ReadRecord] {
            nowMs += 1
            try Self.append([Written(key: "filler", value: "\(nowMs)", timestampMs: nowMs)], to: log, model: &model, codec: .none, nowMs: nowMs)
            try log.roll(nowMs: nowMs)
            try log.flush(nowMs: nowMs)
            let reports = try Self.compactFully(log, nowMs: atMs, context: "tombstones at \(atMs)")
            #expect(reports.last?.outcome == .completed)
            return try Self.readAll(log, context: "tombstones at \(atMs)").records
        }

        // The first clean drops the old value but keeps the tombstone, however old it is (this call's
        // clock is far ahead; the next ones go back to probe the delete.retention.ms boundary).
        var records = try cleanAgain(atMs: tombstoneMs + deleteRetentionMs * 10)
        #expect(records.filter { $0.key == "gone" }.map(\.offset) == [tombstone.firstOffset])
        // Later cleans keep it until delete.retention.ms has passed since its timestamp...
        records = try cleanAgain(atMs: tombstoneMs + deleteRetentionMs)
        #expect(records.filter { $0.key == "gone" }.map(\.offset) == [tombstone.firstOffset], "tombstone dropped too early")
        // ...then it goes, and no older value comes back.
        records = try cleanAgain(atMs: tombstoneMs + deleteRetentionMs + 1)
        #expect(records.filter { $0.key == "gone" }.isEmpty, "tombstone kept past delete.retention.ms")
        #expect(records.filter { $0.key == "kept" }.map(\.value) == ["v2"])
        try Self.verify(log, model: model, context: "tombstones", tombstonesMayBeGone: true)
    }

    @Test func compactDeleteAlsoAppliesRetention() throws {
        let fileSystem = SimulatedFileSystem()
        let log = try Self.open(fileSystem, config: try Self.config(["cleanup.policy": "compact,delete", "retention.ms": "100000"]))
        var model = Model()
        var rng = SplitMix64(seed: 21)
        var nowMs: Int64 = 1_000
        try Self.fill(log, model: &model, rng: &rng, batches: 40, keyCount: 6, nowMs: &nowMs)
        let oldEnd = log.offsets.logEndOffset
        nowMs += 500_000
        try Self.fill(log, model: &model, rng: &rng, batches: 60, keyCount: 6, nowMs: &nowMs)
        try log.roll(nowMs: nowMs)
        try log.flush(nowMs: nowMs)
        let reports = try Self.compactFully(log, nowMs: nowMs, context: "compact,delete")
        #expect((reports.first?.retentionSegmentsDeleted ?? 0) > 0)
        #expect(reports.last?.outcome == .completed)
        let start = log.offsets.logStartOffset
        #expect(start > 0 && start <= oldEnd, "retention should remove the old segments only: start \(start), old end \(oldEnd)")
        // What is left is compacted: the latest record of every key written after the start.
        var kept = Model()
        kept.headers = model.headers
        for (offset, record) in model.written where offset >= start {
            kept.written[offset] = record
            if let key = record.key, (kept.latestOffsetByKey[key] ?? -1) < offset { kept.latestOffsetByKey[key] = offset }
        }
        try Self.verify(log, model: kept, context: "compact,delete", fullyCompactedBelow: log.segmentBaseOffsets.last!)
    }

    // MARK: Bounded memory and work

    @Test func aFullOffsetMapCleansUpToWhereItFilled() throws {
        let fileSystem = SimulatedFileSystem()
        let log = try Self.open(fileSystem, config: try Self.config())
        var model = Model()
        var rng = SplitMix64(seed: 5)
        var nowMs: Int64 = 1_000
        try Self.fill(log, model: &model, rng: &rng, batches: 150, keyCount: 40, nowMs: &nowMs, tombstoneOneIn: 1_000)
        try log.roll(nowMs: nowMs)
        try log.flush(nowMs: nowMs)
        let activeBase = log.segmentBaseOffsets.last!
        let limits = LogCleanerLimits(cleanerOffsetMapEntriesMax: 7, segmentsPerRoundMax: 2)
        var checkpoints: [Int64] = []
        for round in 0..<500 {
            let report = try log.compact(nowMs: nowMs, limits: limits)
            if report.outcome == .nothingToClean { break }
            #expect(report.outcome == .inProgress || report.outcome == .completed, "round \(round): \(report.outcome)")
            #expect(report.segmentsScanned + report.segmentsRewritten + report.segmentsDeleted <= 2, "round \(round) did too much")
            if report.outcome == .completed { checkpoints.append(try #require(report.cleanedUpToOffset)) }
            try Self.verify(log, model: model, context: "round \(round)")
        }
        #expect(checkpoints.count > 2, "a 7-key map should need several cleans: \(checkpoints)")
        #expect(checkpoints == checkpoints.sorted() && checkpoints.last == activeBase, "\(checkpoints)")
        #expect(checkpoints.first.map { $0 < activeBase } == true)
        try Self.verify(log, model: model, context: "map bound", fullyCompactedBelow: activeBase)
    }

    @Test func offsetMapKeepsTheLatestOffsetAndItsBounds() {
        var map = CleanerOffsetMap(entriesMax: 100, keyBytesMax: 1_000)
        var accepted = 0
        for offset in 0..<300 where map.put(key: ByteBuffer(string: "k\(offset % 100)"), offset: Int64(offset)) { accepted += 1 }
        #expect(accepted == 300 && map.count == 100)
        for key in 0..<100 { #expect(map.offset(for: ByteBuffer(string: "k\(key)")) == Int64(200 + key)) }
        let newKeyAccepted = map.put(key: ByteBuffer(string: "new"), offset: 1_000)
        #expect(!newKeyAccepted, "a full map takes no new key")
        let knownKeyAccepted = map.put(key: ByteBuffer(string: "k5"), offset: 1_001)
        #expect(knownKeyAccepted, "a full map still updates known keys")
        #expect(map.offset(for: ByteBuffer(string: "k5")) == 1_001 && map.offset(for: ByteBuffer(string: "new")) == nil)

        var bytesBound = CleanerOffsetMap(entriesMax: 100, keyBytesMax: 10)
        let bigKeyAccepted = bytesBound.put(key: ByteBuffer(repeating: 1, count: 50), offset: 1)
        let smallKeyAccepted = bytesBound.put(key: ByteBuffer(string: "x"), offset: 2)
        #expect(bigKeyAccepted, "an empty map takes any key, so every clean makes progress")
        #expect(!smallKeyAccepted, "the key bytes are bounded")

        // Keys are compared byte for byte, prefixes and the empty key included.
        var exact = CleanerOffsetMap(entriesMax: 10, keyBytesMax: 100)
        _ = exact.put(key: ByteBuffer(bytes: [0, 0]), offset: 1)
        _ = exact.put(key: ByteBuffer(bytes: [0]), offset: 2)
        #expect(exact.offset(for: ByteBuffer(bytes: [0, 0])) == 1 && exact.offset(for: ByteBuffer(bytes: [0])) == 2)
        #expect(exact.offset(for: ByteBuffer(bytes: [])) == nil)
    }

    // MARK: Model-based

    @Test(arguments: 0..<10)
    func randomHistoriesMatchTheModel(seed: Int) throws {
        var rng = SplitMix64(seed: UInt64(seed) &* 0x9E37_79B9)
        // Odd seeds run with two open files at most: every segment swap then replaces files the
        // budget closed, which must still read as they were for anyone holding them.
        let fileSystem: any StorageFileSystem = seed % 2 == 0
            ? SimulatedFileSystem() : ReopeningFileSystem(base: SimulatedFileSystem(), openFilesMax: 2)
        let deleteRetentionMs = Int64(500 + rng.below(3_000))
        let config = try Self.config([
            "segment.bytes": String(600 + rng.below(2_000)), "index.interval.bytes": String(50 + rng.below(500)),
            "delete.retention.ms": String(deleteRetentionMs), "min.cleanable.dirty.ratio": ["0", "0.3", "0.6"][rng.below(3)],
            "min.compaction.lag.ms": String(rng.below(3) * 200),
        ])
        var log = try Self.open(fileSystem, config: config)
        var model = Model()
        var nowMs: Int64 = 10_000
        let keyCount = 3 + rng.below(30)
        var sawCompletedClean = false
        for step in 0..<300 {
            let context = "seed \(seed) step \(step)"
            nowMs += Int64(rng.below(40))
            switch rng.below(100) {
            case 0..<55:
                try Self.fill(log, model: &model, rng: &rng, batches: 1, keyCount: keyCount, nowMs: &nowMs, tombstoneOneIn: 6)
            case 55..<65:
                try log.roll(nowMs: nowMs)
            case 65..<70:
                // Clean restart, carrying the cleaner checkpoint as LogManager would.
                let checkpoint = log.cleanerCheckpoint
                try log.close()
                log = try Self.open(fileSystem, config: config, nowMs: nowMs)
                if let checkpoint { log.restoreCleanerCheckpoint(checkpoint) }
            default:
                try log.flush(nowMs: nowMs)
                let limits = LogCleanerLimits(
                    cleanerOffsetMapEntriesMax: 1 + rng.below(keyCount + 5), segmentsPerRoundMax: 1 + rng.below(4))
                let report = try log.compact(nowMs: nowMs, limits: limits)
                sawCompletedClean = sawCompletedClean || report.outcome == .completed
                try Self.verify(log, model: model, context: context, tombstonesMayBeGone: true)
            }
        }
        try log.roll(nowMs: nowMs)
        try log.flush(nowMs: nowMs)
        var finalConfig = config
        finalConfig.minCleanableDirtyRatio = 0
        log.updateConfig(finalConfig)
        for _ in 0..<10 {
            let outcome = try Self.compactFully(log, nowMs: nowMs + 1_000_000, context: "seed \(seed) final").last?.outcome
            if outcome == .nothingToClean { break }
        }
        #expect(sawCompletedClean, "seed \(seed): no clean completed during the history")
        try Self.verify(log, model: model, context: "seed \(seed) final", tombstonesMayBeGone: true, fullyCompactedBelow: log.segmentBaseOffsets.last!)
    }

    // MARK: Crash safety

    /// Power cuts at every file-system step of a clean, through LogManager (so the cleaner
    /// checkpoint is persisted and restored too): after each, the reopened log reads correctly,
    /// later cleans finish, and no key comes back after its tombstone is gone.
    @Test(arguments: 0..<6)
    func aPowerCutAtEveryStepOfACleanLeavesAReadableLog(seed: Int) throws {
        let seed = UInt64(seed)
        var crashPoint = 1
        var completedWithoutCrash = false
        // Bounded: a clean of this log takes far fewer file-system steps than this.
        while crashPoint < 2_000 && !completedWithoutCrash {
            completedWithoutCrash = try Self.runClean(seed: seed, crashingAfterSteps: crashPoint)
            crashPoint += 1
        }
        #expect(completedWithoutCrash, "seed \(seed): the clean never completed")
        #expect(crashPoint > 20, "seed \(seed): suspiciously few steps (\(crashPoint))")
    }

    /// The two sides of the commit point, hit exactly: a power cut just before the first
    /// `.cleaned` → `.swap` rename leaves the old segment (and the `.cleaned` files are deleted);
    /// one just after the commit fsync, before the first `.swap` → live rename, is completed by the
    /// next open: the first segment comes back cleaned, with rebuilt indexes.
    @Test(arguments: [false, true])
    func aPowerCutAtTheCommitPoint(afterCommit: Bool) throws {
        let simulated = SimulatedFileSystem()
        let fileSystem = CrashingFileSystem(simulated)
        let config = try Self.config()
        var log = try Self.open(fileSystem, config: config)
        var model = Model()
        var rng = SplitMix64(seed: 99)
        var nowMs: Int64 = 1_000
        try Self.fill(log, model: &model, rng: &rng, batches: 60, keyCount: 4, nowMs: &nowMs)
        try log.roll(nowMs: nowMs)
        try log.flush(nowMs: nowMs)
        var sizesBefore: [String: Int] = [:]
        for name in try simulated.list(Self.directory) where name.hasSuffix(".log") {
            sizesBefore[name] = simulated.content(of: "\(Self.directory)/\(name)")?.readableBytes
        }
        // The first segment swapped (earlier ones may be emptied and deleted instead).
        let swapped = Mutex<String?>(nil)
        let firstRename = afterCommit ? ".index.swap" : ".index.cleaned"
        fileSystem.arm { operation, path in
            guard operation == "rename", path.hasSuffix(firstRename) else { return false }
            swapped.withLock { $0 = String(path.split(separator: "/").last!.prefix(20)) + ".log" }
            return true
        }
        #expect(throws: LogCompactionError.self) { try Self.compactFully(log, nowMs: nowMs, context: "commit point") }
        #expect(fileSystem.crashed)
        simulated.crash(seed: 1)
        let segmentName = try #require(swapped.withLock { $0 })
        let names = try simulated.list(Self.directory)
        if afterCommit {
            #expect(names.filter { $0.hasSuffix(".swap") }.count == 3, "the commit fsync makes the three .swap names durable: \(names)")
        } else {
            #expect(!names.contains { $0.hasSuffix(".swap") }, "\(names)")
        }

        let report: PartitionLog.OpenReport
        (log, report) = try PartitionLog.open(
            directory: Self.directory, topicPartition: Self.topicPartition, config: config, fileSystem: simulated,
            recoveryPoint: log.offsets.logEndOffset, cleanShutdown: true, nowMs: nowMs)
        #expect(try simulated.list(Self.directory).allSatisfy { !$0.hasSuffix(".swap") && !$0.hasSuffix(".cleaned") })
        let sizeBefore = try #require(sizesBefore[segmentName])
        let sizeAfter = try #require(simulated.content(of: "\(Self.directory)/\(segmentName)")).readableBytes
        if afterCommit {
            #expect(sizeAfter < sizeBefore, "the committed swap of \(segmentName) was not completed")
            #expect(report.recoveredSegmentCount == 1, "the swapped segment's indexes must be rebuilt")
        } else {
            #expect(sizeAfter == sizeBefore, "the old \(segmentName) must stay")
            #expect(report.recoveredSegmentCount == 0)
        }
        try Self.verify(log, model: model, context: "commit point, after: \(afterCommit)")
        try Self.compactFully(log, nowMs: nowMs, context: "after the commit-point crash")
        try Self.verify(log, model: model, context: "commit point, cleaned", fullyCompactedBelow: log.segmentBaseOffsets.last!)
    }

    @Test func logManagerPersistsTheCleanerCheckpoint() throws {
        let fileSystem = SimulatedFileSystem()
        let compacted = try Self.config()
        var deleted = compacted
        deleted.cleanupPolicy = .delete
        let configs = { (topic: String) in topic == Self.topicPartition.topic ? compacted : deleted }
        var (manager, _) = try LogManager.open(dataDirectory: "/data", fileSystem: fileSystem, nowMs: 0, config: configs)
        let log = try manager.createLog(Self.topicPartition, config: compacted, nowMs: 0)
        let other = try manager.createLog(TopicPartition(topic: "plain", partition: 0), config: deleted, nowMs: 0)
        var model = Model()
        var otherModel = Model()
        var rng = SplitMix64(seed: 1)
        var nowMs: Int64 = 1_000
        try Self.fill(log, model: &model, rng: &rng, batches: 50, keyCount: 5, nowMs: &nowMs)
        try Self.fill(other, model: &otherModel, rng: &rng, batches: 50, keyCount: 5, nowMs: &nowMs)
        for partitionLog in [log, other] {
            try partitionLog.roll(nowMs: nowMs)
            try partitionLog.flush(nowMs: nowMs)
        }
        try Self.compactAll(manager, nowMs: nowMs)
        let checkpoint = try #require(log.cleanerCheckpoint)
        #expect(checkpoint == log.segmentBaseOffsets.last)
        #expect(other.cleanerCheckpoint == nil && other.sizeBytes > 0)
        let stored = try OffsetCheckpointFile(path: "/data/\(LogManager.cleanerOffsetCheckpoint)", fileSystem: fileSystem).read()
        #expect(stored == [Self.topicPartition: checkpoint])

        try manager.shutdown()
        (manager, _) = try LogManager.open(dataDirectory: "/data", fileSystem: fileSystem, nowMs: nowMs, config: configs)
        try manager.restoreCleanerCheckpoints()
        let reopened = try #require(manager.log(for: Self.topicPartition))
        #expect(reopened.cleanerCheckpoint == checkpoint)
        #expect(try manager.compact(nowMs: nowMs) == nil, "nothing is due after a restart")
        try Self.verify(reopened, model: model, context: "log manager", fullyCompactedBelow: checkpoint)
    }

    /// LogManager rounds until no log is due (bounded).
    static func compactAll(_ manager: LogManager, nowMs: Int64) throws {
        for _ in 0..<1_000 {
            guard try manager.compact(nowMs: nowMs) != nil else { return }
        }
        Issue.record("compaction rounds did not settle")
    }

    /// Builds a log (already cleaned once, then updated), arms a crash after `steps` mutating
    /// file-system calls, compacts, cuts the power, reopens and checks. Returns true when the
    /// clean finished before the crash point.
    static func runClean(seed: UInt64, crashingAfterSteps steps: Int) throws -> Bool {
        let context = "seed \(seed), crash after \(steps) steps"
        let simulated = SimulatedFileSystem()
        let fileSystem = CrashingFileSystem(simulated)
        let deleteRetentionMs: Int64 = 10_000
        let config = try Self.config(["delete.retention.ms": String(deleteRetentionMs), "segment.bytes": "900"])
        var rng = SplitMix64(seed: seed)
        var nowMs: Int64 = 1_000
        var model = Model()
        let (manager, _) = try LogManager.open(dataDirectory: "/data", fileSystem: fileSystem, nowMs: nowMs) { _ in config }
        let log = try manager.createLog(topicPartition, config: config, nowMs: nowMs)
        try Self.fill(log, model: &model, rng: &rng, batches: 40, keyCount: 8, nowMs: &nowMs, tombstoneOneIn: 4)
        try log.roll(nowMs: nowMs)
        try log.flush(nowMs: nowMs)
        try Self.compactAll(manager, nowMs: nowMs)
        try Self.fill(log, model: &model, rng: &rng, batches: 30, keyCount: 8, nowMs: &nowMs, tombstoneOneIn: 4)
        try log.roll(nowMs: nowMs)
        try log.flush(nowMs: nowMs)
        // No manager.checkpoint() here: the persisted recovery point is stale, as after any crash,
        // and LogManager.compact must persist it before rewriting (else open cuts cleaned segments).
        let endBefore = log.offsets.logEndOffset

        // The clean under test: tombstones of the first part are old enough to go.
        let cleanMs = nowMs + deleteRetentionMs + 1
        fileSystem.arm(afterSteps: steps)
        var finished = false
        do {
            for _ in 0..<100 {
                guard let (_, report) = try manager.compact(nowMs: cleanMs, limits: LogCleanerLimits(segmentsPerRoundMax: 2)) else { break }
                if report.outcome != .inProgress { break }
            }
            finished = !fileSystem.crashed
        } catch {
            #expect(fileSystem.crashed, "\(context): \(error)")
        }
        if finished { return true }
        let crash = simulated.crash(seed: seed &+ UInt64(steps))

        // Restart after the power cut: recovery, swap completion, checkpoint restore.
        let (reopened, _) = try LogManager.open(dataDirectory: "/data", fileSystem: simulated, nowMs: cleanMs) { _ in config }
        try reopened.restoreCleanerCheckpoints()
        let recovered = try #require(reopened.log(for: topicPartition), "\(context): log lost")
        #expect(recovered.offsets.logEndOffset == endBefore, "\(context): log end \(recovered.offsets.logEndOffset), was \(endBefore) (\(crash))")
        let leftovers = try simulated.list(directory).filter { $0.hasSuffix(".cleaned") || $0.hasSuffix(".swap") }
        #expect(leftovers.isEmpty, "\(context): leftovers \(leftovers)")
        try Self.verify(recovered, model: model, context: "\(context) after the crash (\(crash))", tombstonesMayBeGone: true)
        if let checkpoint = recovered.cleanerCheckpoint {
            #expect(checkpoint <= recovered.segmentBaseOffsets.last!, "\(context): checkpoint \(checkpoint) past the active segment")
        }

        // Cleaning goes on from there; later tombstones expire too, and nothing resurrects.
        var laterMs = cleanMs + deleteRetentionMs * 3
        try Self.fill(recovered, model: &model, rng: &rng, batches: 10, keyCount: 8, nowMs: &laterMs, tombstoneOneIn: 4)
        try recovered.roll(nowMs: laterMs)
        try recovered.flush(nowMs: laterMs)
        for round in 0..<3 {
            try Self.compactAll(reopened, nowMs: laterMs + Int64(round) * deleteRetentionMs * 3)
            try Self.verify(recovered, model: model, context: "\(context) later round \(round)", tombstonesMayBeGone: true)
        }
        try Self.verify(
            recovered, model: model, context: "\(context) final", tombstonesMayBeGone: true,
            fullyCompactedBelow: recovered.segmentBaseOffsets.last!)
        return false
    }
}

/// Wraps a file system and "kills the process" after a set number of mutating calls: that call
/// and every later one fail, so nothing more reaches the disk; the test then cuts the power.
final class CrashingFileSystem: StorageFileSystem {
    private struct Counter {
        var remaining: Int?
        /// Crash at the first mutating call this accepts (operation, path), before it happens.
        var trigger: (@Sendable (String, String) -> Bool)?
        var crashed = false
    }

    let base: any StorageFileSystem
    private let counter = Mutex(Counter())

    init(_ base: any StorageFileSystem) {
        self.base = base
    }

    var crashed: Bool { counter.withLock { $0.crashed } }

    func arm(afterSteps steps: Int) {
        counter.withLock { $0.remaining = steps }
    }

    func arm(when trigger: @escaping @Sendable (_ operation: String, _ path: String) -> Bool) {
        counter.withLock { $0.trigger = trigger }
    }

    /// Counts one mutating step; throws once the budget is spent or the trigger fires.
    func step(_ operation: String, _ path: String) throws(StorageIOError) {
        let dead = counter.withLock { counter -> Bool in
            if counter.crashed { return true }
            if let trigger = counter.trigger, trigger(operation, path) {
                counter.crashed = true
                return true
            }
            guard let remaining = counter.remaining else { return false }
            if remaining <= 1 {
                counter.crashed = true
                return true
            }
            counter.remaining = remaining - 1
            return false
        }
        if dead { throw StorageIOError(kind: .other, operation: "\(operation) (process killed)", path: path) }
    }

    func alive(_ operation: String, _ path: String) throws(StorageIOError) {
        if crashed { throw StorageIOError(kind: .other, operation: "\(operation) (process killed)", path: path) }
    }

    func open(_ path: String, create: Bool) throws(StorageIOError) -> any StorageFile {
        if create && !base.exists(path) { try step("create", path) } else { try alive("open", path) }
        return CrashingFile(try base.open(path, create: create), fileSystem: self)
    }

    func list(_ directory: String) throws(StorageIOError) -> [String] {
        try alive("list", directory)
        return try base.list(directory)
    }

    func createDirectory(_ path: String) throws(StorageIOError) {
        if !base.exists(path) { try step("mkdir", path) }
        try base.createDirectory(path)
    }

    func rename(_ source: String, to destination: String) throws(StorageIOError) {
        try step("rename", source)
        try base.rename(source, to: destination)
    }

    func remove(_ path: String) throws(StorageIOError) {
        try step("remove", path)
        try base.remove(path)
    }

    func removeTree(_ path: String) throws(StorageIOError) {
        try step("removeTree", path)
        try base.removeTree(path)
    }

    func exists(_ path: String) -> Bool { base.exists(path) }

    func syncDirectory(_ path: String) throws(StorageIOError) {
        try step("syncDirectory", path)
        try base.syncDirectory(path)
    }
}

final class CrashingFile: StorageFile {
    let file: any StorageFile
    let fileSystem: CrashingFileSystem

    init(_ file: any StorageFile, fileSystem: CrashingFileSystem) {
        self.file = file
        self.fileSystem = fileSystem
    }

    var path: String { file.path }
    func leaseDescriptor() -> StorageFileLease? { file.leaseDescriptor() }

    func write(_ bytes: ByteBuffer, at position: Int64) throws(StorageIOError) {
        try fileSystem.step("write", path)
        try file.write(bytes, at: position)
    }

    func read(at position: Int64, count: Int) throws(StorageIOError) -> ByteBuffer {
        try fileSystem.alive("read", path)
        return try file.read(at: position, count: count)
    }

    func size() throws(StorageIOError) -> Int64 {
        try fileSystem.alive("size", path)
        return try file.size()
    }

    func sync() throws(StorageIOError) {
        try fileSystem.step("sync", path)
        try file.sync()
    }

    func truncate(to sizeBytes: Int64) throws(StorageIOError) {
        try fileSystem.step("truncate", path)
        try file.truncate(to: sizeBytes)
    }

    func close() throws(StorageIOError) {
        try file.close()
    }
}
