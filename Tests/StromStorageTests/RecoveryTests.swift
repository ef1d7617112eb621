import Foundation
import KafkaProtocol
import NIOCore
import StromTestSupport
import Synchronization
import Testing
@testable import StromStorage

/// Damaged files between runs: torn and zeroed tails are cut at the last valid batch, damage to
/// flushed data is detected and the partition stops serving, lost or garbage indexes are rebuilt.
@Suite struct RecoveryTests {
    let directory: TemporaryDirectory
    var logDirectory: String { directory.path + "/t-0" }
    let topicPartition = TopicPartition(topic: "t", partition: 0)

    init() throws { directory = try TemporaryDirectory() }

    /// Writes `batches` batches of 5 records, closes cleanly, returns the first segment's .log path.
    func writeLog(batches: Int, config: LogConfig = smallSegments()) throws -> [Int64] {
        let (log, _) = try PartitionLog.open(
            directory: logDirectory, topicPartition: topicPartition, config: config, fileSystem: PosixFileSystem(),
            cleanShutdown: false, nowMs: 0)
        for index in 0..<batches { _ = try log.append(try producedBatch(keys: (0..<5).map { "k\(index)-\($0)" }), nowMs: 0) }
        try log.close()
        return log.segmentBaseOffsets
    }

    func reopen(cleanShutdown: Bool, recoveryPoint: Int64 = 0) throws -> (PartitionLog, PartitionLog.OpenReport) {
        try PartitionLog.open(
            directory: logDirectory, topicPartition: topicPartition, config: smallSegments(), fileSystem: PosixFileSystem(),
            recoveryPoint: recoveryPoint, cleanShutdown: cleanShutdown, nowMs: 0)
    }

    func segmentPath(_ base: Int64, _ suffix: String = ".log") -> String {
        "\(logDirectory)/\(LogSegment.fileName(baseOffset: base, suffix: suffix))"
    }

    func mutate(_ path: String, _ body: (inout Data) -> Void) throws {
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        body(&data)
        try data.write(to: URL(fileURLWithPath: path))
    }

    @Test func truncatedTailIsCutAtTheLastWholeBatch() throws {
        let bases = try writeLog(batches: 30)
        try mutate(segmentPath(bases.last!)) { $0.removeLast(37) }
        let (log, report) = try reopen(cleanShutdown: false)
        #expect(report.truncatedBytes > 0)
        let batches = try allBatches(of: log)
        #expect(batches.count == 29 && log.offsets.logEndOffset == 145)
        let info = try log.append(try producedBatch(keys: ["after"]), nowMs: 0)
        #expect(info.firstOffset == 145, "appends continue at the recovered end")
        try log.close()
    }

    @Test func zeroFilledTailIsCut() throws {
        let bases = try writeLog(batches: 10)
        try mutate(segmentPath(bases.last!)) { $0.append(Data(count: 4_096)) }
        let (log, report) = try reopen(cleanShutdown: false)
        #expect(report.truncatedBytes == 4_096)
        #expect(try allBatches(of: log).count == 10)
        try log.close()
    }

    @Test func flippedByteInTheUnflushedTailIsCutAway() throws {
        let bases = try writeLog(batches: 30)
        let last = segmentPath(bases.last!)
        let size = try Data(contentsOf: URL(fileURLWithPath: last)).count
        try mutate(last) { $0[size - 10] ^= 0x40 }
        // The recovery point says only offsets below 100 were flushed: the damage is a crash tail.
        let (log, report) = try reopen(cleanShutdown: false, recoveryPoint: 100)
        #expect(report.truncatedBytes > 0)
        let batches = try allBatches(of: log)
        #expect(batches.count == 29, "only the damaged last batch goes")
        #expect(log.offlineReason == nil)
        try log.close()
    }

    @Test func damageToFlushedDataIsDetectedAndNotServed() throws {
        let bases = try writeLog(batches: 60)
        #expect(bases.count >= 3)
        try mutate(segmentPath(bases[0])) { $0[$0.count / 2] ^= 0x01 }
        let (log, _) = try reopen(cleanShutdown: true)
        let (report, _) = try log.scrub()
        #expect(report.corruption != nil, "scrub missed the damage")
        #expect(log.offlineReason != nil)
        #expect(throws: LogReadError.self) { try log.read(from: 0, maxBytes: 1 << 20) }
        #expect(throws: LogAppendError.self) { try log.append(try producedBatch(keys: ["x"]), nowMs: 0) }
        do {
            _ = try log.read(from: 0, maxBytes: 1)
        } catch {
            #expect(error.kafkaErrorCode == .kafkaStorageError)
        }
    }

    @Test func aTruncatedFlushedSegmentTakesThePartitionOffline() throws {
        let bases = try writeLog(batches: 60)
        #expect(bases.count >= 3)
        try mutate(segmentPath(bases[1])) { $0.removeLast(37) }
        let (log, report) = try reopen(cleanShutdown: true, recoveryPoint: 300)
        #expect(report.damage != nil && log.offlineReason != nil)
        #expect(throws: LogReadError.self) { try log.read(from: 0, maxBytes: 1 << 20) }
        #expect(throws: LogAppendError.self) { try log.append(try producedBatch(keys: ["x"]), nowMs: 0) }
    }

    @Test(arguments: [true, false])
    func aTruncatedNewestSegmentBelowTheRecoveryPointTakesThePartitionOffline(cleanShutdown: Bool) throws {
        let bases = try writeLog(batches: 30)
        try mutate(segmentPath(bases.last!)) { $0.removeLast(37) }
        let (log, report) = try reopen(cleanShutdown: cleanShutdown, recoveryPoint: 150)
        #expect(report.damage?.contains("below its recovery point 150") == true, "\(report)")
        #expect(throws: LogReadError.self) { try log.read(from: 0, maxBytes: 1 << 20) }
    }

    @Test func aRemovedSegmentFileBelowTheRecoveryPointTakesThePartitionOffline() throws {
        let bases = try writeLog(batches: 30)
        try FileManager.default.removeItem(atPath: segmentPath(bases.last!))
        let (log, report) = try reopen(cleanShutdown: true, recoveryPoint: 150)
        #expect(report.damage != nil && log.offlineReason != nil)
    }

    @Test func garbageAfterACleanShutdownIsCutAndTheLogServed() throws {
        let bases = try writeLog(batches: 30)
        try mutate(segmentPath(bases.last!)) { $0.append(Data(repeating: 0xA5, count: 3_000)) }
        let (log, report) = try reopen(cleanShutdown: true, recoveryPoint: 150)
        #expect(report.damage == nil && log.offlineReason == nil)
        #expect(report.truncatedBytes == 3_000)
        #expect(try allBatches(of: log).count == 30)
        try log.close()
    }

    /// Damage inside an unflushed segment that is not the newest: everything from the damaged
    /// batch on was written after it, so it all goes (never acknowledged under acks=all), and the
    /// log serves what precedes it.
    @Test func damageInAnUnflushedOlderSegmentCutsEverythingAfterIt() throws {
        let bases = try writeLog(batches: 60)
        #expect(bases.count >= 4)
        try mutate(segmentPath(bases[2])) { $0[$0.count / 2] ^= 0x10 }
        let (log, report) = try reopen(cleanShutdown: false, recoveryPoint: bases[1])
        #expect(report.damage == nil && log.offlineReason == nil)
        #expect(report.removedSegmentCount == bases.count - 3)
        let batches = try allBatches(of: log)
        #expect(log.offsets.logEndOffset > bases[2] && log.offsets.logEndOffset < bases[3])
        #expect(batches.map(\.baseOffset) == stride(from: Int64(0), to: log.offsets.logEndOffset, by: 5).map { $0 })
        let info = try log.append(try producedBatch(keys: ["after"]), nowMs: 0)
        #expect(info.firstOffset == log.offsets.logEndOffset - 1)
        try log.close()
    }

    /// Found by FuzzLogRecovery: after a clean shutdown a segment whose batches lie below its own
    /// base offset was trusted, so the log ended before its newest segment began and a read from
    /// the start served that segment's batches out of place, unchecked (the scrub skipped it).
    @Test func batchesBelowTheirSegmentsBaseAreNotTrusted() throws {
        let bases = try writeLog(batches: 30)
        let last = bases.last!
        for suffix in [".log", ".index"] {
            try FileManager.default.moveItem(atPath: segmentPath(last, suffix), toPath: segmentPath(last + 500, suffix))
        }
        try FileManager.default.removeItem(atPath: segmentPath(last, ".timeindex"))
        let (log, _) = try reopen(cleanShutdown: true)
        #expect(log.offsets.logEndOffset == last + 500)
        let served = try allBatches(of: log)
        #expect(served.map(\.baseOffset) == stride(from: Int64(0), to: last, by: 5).map { $0 })
        let (report, _) = try log.scrub()
        #expect(report.corruption == nil && log.offlineReason == nil)
        try log.close()
    }

    @Test func scrubFindsNothingInAHealthyLog() throws {
        _ = try writeLog(batches: 60)
        let (log, _) = try reopen(cleanShutdown: true)
        let (report, _) = try log.scrub()
        #expect(report.corruption == nil && report.batchesChecked == 60)
        try log.close()
    }

    @Test(arguments: ["missing", "garbage", "short"])
    func damagedIndexesAreRebuilt(damage: String) throws {
        let bases = try writeLog(batches: 40)
        for suffix in [".index", ".timeindex"] {
            let path = segmentPath(bases[0], suffix)
            switch damage {
            case "missing": try FileManager.default.removeItem(atPath: path)
            case "garbage": try Data((0..<96).map { UInt8(truncatingIfNeeded: $0 &* 37) }).write(to: URL(fileURLWithPath: path))
            default: try mutate(path) { $0.removeLast(3) }
            }
        }
        let (log, _) = try reopen(cleanShutdown: true)
        #expect(try allBatches(of: log).count == 40)
        // Reads from the middle of the first segment find their batch through the rebuilt index.
        let info = try log.read(from: 12, maxBytes: 1)
        var bytes = try info.slices[0].read()
        #expect(try RecordBatch.read(from: &bytes).header.baseOffset == 10)
        try log.close()
        let rebuilt = try Data(contentsOf: URL(fileURLWithPath: segmentPath(bases[0], ".index")))
        #expect(rebuilt.count > 0 && rebuilt.count % 8 == 0, "the index file was rewritten")
    }

    @Test func offsetsForTimestampsUseTheTimeIndex() throws {
        let (log, _) = try PartitionLog.open(
            directory: logDirectory, topicPartition: topicPartition, config: smallSegments(), fileSystem: PosixFileSystem(),
            cleanShutdown: false, nowMs: 0)
        for index in 0..<50 {
            _ = try log.append(try producedBatch(keys: ["a\(index)", "b\(index)"], timestampMs: 10_000 + Int64(index) * 100), nowMs: 0)
        }
        try log.flush()
        #expect(try log.offset(forTimestamp: 0)?.offset == 0)
        #expect(try log.offset(forTimestamp: 12_000)?.offset == 40)
        #expect(try log.offset(forTimestamp: 12_050)?.offset == 42)
        #expect(try log.offset(forTimestamp: 99_999) == nil)
        #expect(try log.maxTimestamp()?.timestampMs == 14_900)
        try log.close()
    }
}

@Suite struct LeaderEpochAndManagerTests {
    @Test func leaderEpochsArePersistedAndStampedIntoBatches() throws {
        let fileSystem = SimulatedFileSystem()
        let topicPartition = TopicPartition(topic: "e", partition: 0)
        var (log, _) = try PartitionLog.open(
            directory: "/d/e-0", topicPartition: topicPartition, config: smallSegments(), fileSystem: fileSystem,
            cleanShutdown: false, nowMs: 0)
        log.setLeaderEpoch(3)
        _ = try log.append(try producedBatch(keys: ["a", "b"]), nowMs: 0)
        log.setLeaderEpoch(5)
        _ = try log.append(try producedBatch(keys: ["c"]), nowMs: 0)
        try log.close()
        (log, _) = try PartitionLog.open(
            directory: "/d/e-0", topicPartition: topicPartition, config: smallSegments(), fileSystem: fileSystem,
            cleanShutdown: true, nowMs: 0)
        #expect(log.leaderEpoch == 5)
        #expect(log.epochEntries == [EpochEntry(epoch: 3, startOffset: 0), EpochEntry(epoch: 5, startOffset: 2)])
        #expect(try allBatches(of: log).map(\.partitionLeaderEpoch) == [3, 5])
    }

    @Test func managerDetectsCleanShutdownAndCrash() throws {
        let fileSystem = SimulatedFileSystem()
        let topicPartition = TopicPartition(topic: "m", partition: 1)
        var (manager, report) = try LogManager.open(dataDirectory: "/data", fileSystem: fileSystem, nowMs: 0) { _ in smallSegments() }
        #expect(!report.cleanShutdown)
        let log = try manager.createLog(topicPartition, config: smallSegments(), nowMs: 0)
        for index in 0..<30 { _ = try log.append(try producedBatch(keys: ["k\(index)"]), nowMs: 0) }
        try manager.shutdown()
        (manager, report) = try LogManager.open(dataDirectory: "/data", fileSystem: fileSystem, nowMs: 0) { _ in smallSegments() }
        #expect(report.cleanShutdown && report.partitionCount == 1 && report.recoveredSegmentCount == 0)
        #expect(manager.log(for: topicPartition)?.offsets.logEndOffset == 30)
        // No shutdown this time: the next open must recover what lies past the recovery point.
        let reopened = try #require(manager.log(for: topicPartition))
        for index in 0..<5 { _ = try reopened.append(try producedBatch(keys: ["late\(index)"]), nowMs: 0) }
        try reopened.flush()
        fileSystem.crash(seed: 7)
        (manager, report) = try LogManager.open(dataDirectory: "/data", fileSystem: fileSystem, nowMs: 0) { _ in smallSegments() }
        #expect(!report.cleanShutdown && report.recoveredSegmentCount >= 1)
        #expect(manager.log(for: topicPartition)?.offsets.logEndOffset == 35)
        try manager.deleteLog(topicPartition)
        #expect(manager.log(for: topicPartition) == nil && !fileSystem.exists("/data/m-1"))
    }
}

@Suite struct FlushPolicyTests {
    @Test func writeCachingMakeDataVisibleAtOnceAndFlushByCount() throws {
        let fileSystem = SimulatedFileSystem()
        var config = smallSegments()
        config.flushPolicy = .writeCaching
        config.flushIntervalMessages = 3
        let (manager, _) = try LogManager.open(dataDirectory: "/data", fileSystem: fileSystem, nowMs: 0) { _ in config }
        let log = try manager.createLog(TopicPartition(topic: "f", partition: 0), config: config, nowMs: 0)
        _ = try log.append(try producedBatch(keys: ["a", "b"]), nowMs: 1)
        #expect(log.offsets.highWatermark == 2, "Kafka's policy: visible once written")
        #expect(try manager.flushDueLogs(nowMs: 1) == 0 && log.recoveryPoint == 0)
        _ = try log.append(try producedBatch(keys: ["c"]), nowMs: 2)
        #expect(try manager.flushDueLogs(nowMs: 2) == 1 && log.recoveryPoint == 3)
    }

    @Test func defaultPolicyShowsDataOnlyOnceFlushed() throws {
        let (log, _) = try PartitionLog.open(
            directory: "/d/f-0", topicPartition: TopicPartition(topic: "f", partition: 0), config: smallSegments(),
            fileSystem: SimulatedFileSystem(), cleanShutdown: false, nowMs: 0)
        _ = try log.append(try producedBatch(keys: ["a", "b"]), nowMs: 1)
        #expect(log.offsets.highWatermark == 0 && log.offsets.logEndOffset == 2)
        #expect(try log.read(from: 0, maxBytes: 1 << 20).slices.isEmpty, "unflushed data is not served")
        #expect(log.needsIntervalFlush(nowMs: 1))
        try log.flush()
        #expect(log.offsets.highWatermark == 2)
    }
}

@Suite struct HighWatermarkListenerTests {
    final class Seen: Sendable {
        let values = Mutex<[Int64]>([])
    }

    @Test func listenerHearsEveryAdvanceOnce() throws {
        let (log, _) = try PartitionLog.open(
            directory: "/d/h-0", topicPartition: TopicPartition(topic: "h", partition: 0), config: smallSegments(),
            fileSystem: SimulatedFileSystem(), cleanShutdown: false, nowMs: 0)
        let seen = Seen()
        log.setHighWatermarkListener { _, highWatermark in seen.values.withLock { $0.append(highWatermark) } }
        _ = try log.append(try producedBatch(keys: ["a", "b"]), nowMs: 0)
        #expect(seen.values.withLock { $0 }.isEmpty, "not visible before the flush")
        try log.flush()
        try log.flush()
        _ = try log.append(try producedBatch(keys: ["c"]), nowMs: 0)
        try log.flush()
        #expect(seen.values.withLock { $0 } == [2, 3])
    }
}

/// The leader-epoch checkpoint is written by the flush that first needs it, and rebuilt from the
/// batches for data that was never flushed.
@Suite struct LeaderEpochCheckpointTimingTests {
    let topicPartition = TopicPartition(topic: "t", partition: 0)

    func open(_ fileSystem: SimulatedFileSystem) throws -> PartitionLog {
        try PartitionLog.open(
            directory: "/d/t-0", topicPartition: topicPartition, config: smallSegments(), fileSystem: fileSystem,
            cleanShutdown: false, nowMs: 0).0
    }

    func stored(_ fileSystem: SimulatedFileSystem) -> [EpochEntry] {
        (try? LeaderEpochCheckpointFile(directory: "/d/t-0", fileSystem: fileSystem).read()) ?? []
    }

    @Test func aNewEpochIsWrittenByTheFlushThatMakesItsDataDurable() throws {
        let fileSystem = SimulatedFileSystem()
        let log = try open(fileSystem)
        log.setLeaderEpoch(3)
        #expect(log.epochEntries == [EpochEntry(epoch: 3, startOffset: 0)])
        #expect(stored(fileSystem) == [])
        _ = try log.append(try producedBatch(keys: ["a", "b"]), nowMs: 0)
        try log.flush()
        #expect(stored(fileSystem) == [EpochEntry(epoch: 3, startOffset: 0)])
        // A follower's copy that starts an epoch: the same.
        let follower = try PartitionLog.open(
            directory: "/d/f-0", topicPartition: TopicPartition(topic: "f", partition: 0), config: smallSegments(),
            fileSystem: fileSystem, cleanShutdown: false, nowMs: 0).0
        var bytes = try log.read(from: 0, maxBytes: 1 << 20, upToLogEnd: true).slices[0].read()
        try follower.appendAsFollower(try RecordBatch.read(from: &bytes), nowMs: 0)
        let followerFile = LeaderEpochCheckpointFile(directory: "/d/f-0", fileSystem: fileSystem)
        #expect(((try? followerFile.read()) ?? []) == [])
        try follower.flush()
        #expect(try followerFile.read() == [EpochEntry(epoch: 3, startOffset: 0)])
    }

    /// kill -9 (what was written survives, the checkpoint was not written) and power cuts (any
    /// prefix of the unsynced writes survives): every surviving batch's epoch is in the cache.
    @Test(arguments: [nil] + (0..<40).map { Optional(UInt64($0)) })
    func epochsOfUnflushedBatchesAreRebuiltOnOpen(powerCutSeed: UInt64?) throws {
        let fileSystem = SimulatedFileSystem()
        let log = try open(fileSystem)
        log.setLeaderEpoch(3)
        _ = try log.append(try producedBatch(keys: ["a", "b"]), nowMs: 0)
        try log.flush()
        log.setLeaderEpoch(5)
        for key in ["c", "d", "e"] { _ = try log.append(try producedBatch(keys: [key]), nowMs: 0) }
        if let powerCutSeed { fileSystem.crash(seed: powerCutSeed) }
        let reopened = try open(fileSystem)
        let end = reopened.offsets.logEndOffset
        #expect(end >= 2)
        if powerCutSeed == nil { #expect(end == 5) }
        let expected = [EpochEntry(epoch: 3, startOffset: 0)] + (end > 2 ? [EpochEntry(epoch: 5, startOffset: 2)] : [])
        #expect(reopened.epochEntries == expected)
        #expect(stored(fileSystem) == expected)
    }
}
