import KafkaProtocol
import NIOCore
import Testing
@testable import StromStorage

@Suite struct RetentionTests {
    func makeLog(_ config: LogConfig, batches: Int, timestampMs: (Int) -> Int64) throws -> PartitionLog {
        let (log, _) = try PartitionLog.open(
            directory: "/data/r-0", topicPartition: TopicPartition(topic: "r", partition: 0), config: config,
            fileSystem: SimulatedFileSystem(), cleanShutdown: false, nowMs: 0)
        for index in 0..<batches {
            _ = try log.append(try producedBatch(keys: ["k\(index)"], valueSizeBytes: 200, timestampMs: timestampMs(index)), nowMs: 0)
        }
        try log.flush()
        return log
    }

    @Test func retentionMsDeletesWholeOldSegmentsAndMovesTheStartOffset() throws {
        var config = smallSegments(1_024)
        config.retentionMs = 10_000
        let log = try makeLog(config, batches: 40) { Int64($0) * 1_000 }
        let before = log.segmentBaseOffsets
        #expect(before.count > 5)
        // At now = 40 s, records older than 30 s (timestamps < 30 000) are past retention.
        let removed = try log.applyRetention(nowMs: 40_000)
        #expect(removed > 0)
        let offsets = log.offsets
        #expect(offsets.logStartOffset == log.segmentBaseOffsets[0])
        #expect(offsets.logStartOffset > 0 && offsets.logStartOffset <= 30, "start \(offsets.logStartOffset)")
        #expect(throws: LogReadError.self) { try log.read(from: 0, maxBytes: 100) }
        #expect(try allBatches(of: log).first?.baseOffset == offsets.logStartOffset)
    }

    @Test func retentionBytesKeepsTheNewestWithinTheLimit() throws {
        var config = smallSegments(1_024)
        config.retentionSizeBytes = 3_000
        let log = try makeLog(config, batches: 60) { _ in 1_000 }
        // Each segment's size from the batches it holds, oldest first.
        let bases = log.segmentBaseOffsets
        let batches = try allBatches(of: log)
        let sizes = bases.indices.map { index in
            batches.filter { $0.baseOffset >= bases[index] && (index + 1 == bases.count || $0.baseOffset < bases[index + 1]) }
                .reduce(Int64(0)) { $0 + Int64($1.totalSizeBytes) }
        }
        #expect(sizes.reduce(0, +) == log.sizeBytes && bases.count > 4)
        // Kafka deletes the oldest segments (never the active one) while what stays is still at
        // least retention.bytes.
        var first = 0, remaining = log.sizeBytes
        while first < bases.count - 1, remaining - sizes[first] >= 3_000 {
            remaining -= sizes[first]
            first += 1
        }
        try log.applyRetention(nowMs: 2_000)
        #expect(log.sizeBytes == remaining && remaining >= 3_000)
        #expect(log.offsets.logStartOffset == bases[first])
        #expect(log.segmentBaseOffsets == Array(bases[first...]))
        #expect(log.offsets.logEndOffset == 60)
    }

    @Test func theActiveSegmentAndUnflushedDataStay() throws {
        var config = smallSegments(1_000_000)
        config.retentionMs = 1
        let log = try makeLog(config, batches: 10) { _ in 0 }
        #expect(try log.applyRetention(nowMs: 1_000_000) == 0, "a single active segment is never deleted")
        #expect(log.offsets.logStartOffset == 0)
    }

    @Test func deleteRecordsThenRetentionFreesTheSegmentsBelow() throws {
        let log = try makeLog(smallSegments(1_024), batches: 40) { _ in 5 }
        let start = try log.advanceLogStartOffset(to: 25)
        #expect(start == 25)
        try log.applyRetention(nowMs: 10)
        #expect(log.segmentBaseOffsets[0] <= 25 && log.segmentBaseOffsets[0] > 0)
        #expect(log.offsets.logStartOffset == 25)
        #expect(try allBatches(of: log).first?.baseOffset == 25)
        #expect(throws: LogReadError.self) { try log.advanceLogStartOffset(to: 41) }
    }

    @Test func retentionIsBoundedPerRound() throws {
        var config = smallSegments(512)
        config.retentionMs = 0
        let log = try makeLog(config, batches: 40) { _ in 0 }
        let segments = log.segmentBaseOffsets.count
        #expect(try log.applyRetention(nowMs: 100, segmentsMax: 3) == 3)
        #expect(log.segmentBaseOffsets.count == segments - 3)
    }
}
