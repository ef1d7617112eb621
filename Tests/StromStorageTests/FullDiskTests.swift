import KafkaProtocol
import NIOCore
import Testing
@testable import StromStorage

/// A full disk fails the appends that do not fit (KAFKA_STORAGE_ERROR), leaves the partition
/// online and the file holding only whole batches, and appends work again once there is room.
@Suite struct FullDiskTests {
    let fileSystem = SimulatedFileSystem()
    let topicPartition = TopicPartition(topic: "full", partition: 0)

    func open(cleanShutdown: Bool = false) throws -> PartitionLog {
        try PartitionLog.open(
            directory: "/data/full-0", topicPartition: topicPartition, config: smallSegments(8_192), fileSystem: fileSystem,
            cleanShutdown: cleanShutdown, nowMs: 0).0
    }

    func append(_ log: PartitionLog, _ key: String) throws(LogAppendError) -> Int64 {
        // swiftlint:disable:next force_try
        try log.append(try! producedBatch(keys: [key], valueSizeBytes: 500), nowMs: 0).firstOffset
    }

    @Test func aWriteCutShortFailsOnlyThatAppend() throws {
        let log = try open()
        for index in 0..<3 { #expect(try append(log, "before-\(index)") == Int64(index)) }
        fileSystem.failWrites(after: 100)  // the next batch gets 100 bytes in, then ENOSPC
        #expect { _ = try append(log, "cut") } throws: { ($0 as? LogAppendError)?.kafkaErrorCode == .kafkaStorageError }
        #expect { _ = try append(log, "still full") } throws: { ($0 as? LogAppendError)?.kafkaErrorCode == .kafkaStorageError }
        #expect(log.offlineReason == nil, "a full disk is not a broken partition")

        fileSystem.clearFaults()
        _ = try log.flush()
        let logicalSize = log.sizeBytes
        try log.close()

        // A clean restart trusts the files as they are: the cut-short write left nothing behind.
        let reopened = try open(cleanShutdown: true)
        #expect(reopened.sizeBytes == logicalSize)
        #expect(try allBatches(of: reopened).map(\.baseOffset) == [0, 1, 2])
        #expect(try append(reopened, "after") == 3, "the failed appends took no offsets")
        _ = try reopened.flush()
        #expect(try allBatches(of: reopened).map(\.baseOffset) == [0, 1, 2, 3])
    }

    /// The appended batches are in the file; only the index entries (caches) find no room. The
    /// flush still makes the batches durable, so acks=all answers match the log: a flush that
    /// failed here had the producer told KAFKA_STORAGE_ERROR for records that stayed in the log
    /// and were served after the next flush (found by test_faults.py's full-disk test).
    @Test func indexEntriesWithoutRoomDoNotFailTheFlush() throws {
        let log = try open()
        for index in 0..<4 { #expect(try append(log, "before-\(index)") == Int64(index)) }
        fileSystem.failWrites(after: 0)  // the batches are written; nothing more fits
        #expect(try log.flush() == 4, "the data is durable although its index entries are not written")
        #expect(log.offlineReason == nil)
        fileSystem.clearFaults()
        #expect(try append(log, "after") == 4)
        _ = try log.flush()
        try log.close()
        let reopened = try open(cleanShutdown: true)
        #expect(try allBatches(of: reopened).map(\.baseOffset) == [0, 1, 2, 3, 4])
        let read = try reopened.read(from: 3, maxBytes: 1 << 20)
        #expect(!read.slices.isEmpty, "an offset between the index entries is still found")
    }

    /// A roll leaves a producer snapshot for the next flush to write (and an abort a `.txnindex`
    /// entry); on a full disk they wait or are skipped, and the flush still succeeds: found by
    /// the CI run of test_faults.py's full-disk test, where the broker's shutdown failed.
    @Test func producerSnapshotsAndTxnindexEntriesWithoutRoomDoNotFailTheFlush() throws {
        let log = try open()
        var builder = RecordBatchBuilder(producerId: 9, producerEpoch: 0, baseSequence: 0, isTransactional: true)
        builder.append(timestampMs: 0, key: nil, value: ByteBuffer(string: "aborted"))
        var abortBatch = try builder.build()
        _ = try log.append(try RecordBatch.read(from: &abortBatch), nowMs: 0)
        var marker = try RecordBatchBuilder.endTransactionMarker(.abort, producerId: 9, producerEpoch: 0, coordinatorEpoch: 0, timestampMs: 0).build()
        _ = try log.append(try RecordBatch.read(from: &marker), nowMs: 0)
        try log.roll(nowMs: 0)
        fileSystem.failOpens(under: "/data/full-0/", kind: .noSpace)
        #expect(try log.flush() == 2, "durable although the snapshot and the .txnindex found no room")
        #expect(log.offlineReason == nil)
        fileSystem.clearFaults()
        _ = try log.flush()
        #expect(try TransactionIndexFile(directory: "/data/full-0", baseOffset: 0, fileSystem: fileSystem).read().map(\.producerId) == [9],
                "the entry was written by the next flush")
        try log.close()
        #expect(try open(cleanShutdown: true).abortedTransactions(from: 0, to: 2).map(\.producerId) == [9])
    }

    @Test func noRoomForANewSegmentFailsTheAppendAndKeepsTheLog() throws {
        let log = try open()
        var offset: Int64 = 0
        // Fill the first 8 KiB segment.
        while log.segmentBaseOffsets.count == 1, offset < 100 {
            fileSystem.failOpens(under: "/data/full-0/", kind: .noSpace)
            do {
                offset = try append(log, "fill-\(offset)") + 1
            } catch {
                #expect(error.kafkaErrorCode == .kafkaStorageError)
                break
            }
        }
        #expect(log.offlineReason == nil && log.segmentBaseOffsets.count == 1)
        fileSystem.clearFaults()
        #expect(try append(log, "rolled") == offset)
        #expect(log.segmentBaseOffsets.count == 2)
    }
}
