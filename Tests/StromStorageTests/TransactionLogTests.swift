import KafkaProtocol
import NIOCore
import Testing
@testable import StromStorage

/// Transactions in a partition's log: the last stable offset, the aborted-transaction index that
/// read_committed fetches return, markers fencing old epochs, and the producer state (open
/// transactions, sequences) kept across restarts, rolls and truncation by snapshots.
@Suite struct TransactionLogTests {
    let fileSystem = SimulatedFileSystem()
    let directory = "/data/txn-0"

    func open(config: LogConfig = .defaults, cleanShutdown: Bool = false) throws -> PartitionLog {
        var config = config
        config.flushPolicy = .writeCaching
        return try PartitionLog.open(
            directory: directory, topicPartition: TopicPartition(topic: "txn", partition: 0), config: config,
            fileSystem: fileSystem, cleanShutdown: cleanShutdown, nowMs: 0).0
    }

    func data(producerId: Int64, epoch: Int16 = 0, sequence: Int32, count: Int = 2, transactional: Bool = true) throws -> RecordBatch {
        var builder = RecordBatchBuilder(producerId: producerId, producerEpoch: epoch, baseSequence: sequence, isTransactional: transactional)
        for index in 0..<count { builder.append(timestampMs: 1_000, key: nil, value: ByteBuffer(string: "p\(producerId)-\(sequence)-\(index)")) }
        var bytes = try builder.build()
        return try RecordBatch.read(from: &bytes)
    }

    func marker(_ type: ControlRecordType, producerId: Int64, epoch: Int16 = 0) throws -> RecordBatch {
        var bytes = try RecordBatchBuilder.endTransactionMarker(type, producerId: producerId, producerEpoch: epoch, coordinatorEpoch: 0, timestampMs: 2_000).build()
        return try RecordBatch.read(from: &bytes)
    }

    /// The offsets of the batches a read returns.
    func batchOffsets(_ info: PartitionLog.ReadInfo) throws -> [Int64] {
        var offsets: [Int64] = []
        for slice in info.slices {
            var bytes = try slice.read()
            while bytes.readableBytes > 0 { offsets.append(try RecordBatch.read(from: &bytes).header.baseOffset) }
        }
        return offsets
    }

    @Test func anOpenTransactionHoldsTheLastStableOffsetUntilItsMarker() throws {
        let log = try open()
        _ = try log.append(try data(producerId: 1, sequence: 0, transactional: false), nowMs: 0)  // 0-1
        _ = try log.append(try data(producerId: 7, sequence: 0), nowMs: 0)  // 2-3, opens the transaction
        _ = try log.append(try data(producerId: 8, sequence: 0, transactional: false), nowMs: 0)  // 4-5
        #expect(log.offsets.highWatermark == 6)
        #expect(log.offsets.lastStableOffset == 2)
        var committed = try log.read(from: 0, maxBytes: 1 << 20, committedOnly: true)
        #expect(try batchOffsets(committed) == [0], "read_committed stops at the open transaction")
        #expect(try batchOffsets(try log.read(from: 0, maxBytes: 1 << 20)) == [0, 2, 4], "read_uncommitted reads on")
        _ = try log.append(try data(producerId: 7, sequence: 2), nowMs: 0)  // 6-7
        #expect(log.offsets.lastStableOffset == 2)
        _ = try log.append(try marker(.commit, producerId: 7), nowMs: 0)  // 8
        #expect(log.offsets.lastStableOffset == 9)
        committed = try log.read(from: 0, maxBytes: 1 << 20, committedOnly: true)
        #expect(try batchOffsets(committed) == [0, 2, 4, 6, 8])
        #expect(committed.abortedTransactions == [], "a commit aborts nothing")
    }

    @Test func anAbortedTransactionIsReturnedWithTheRecordsItOverlaps() throws {
        let log = try open()
        _ = try log.append(try data(producerId: 7, sequence: 0), nowMs: 0)  // 0-1
        _ = try log.append(try data(producerId: 9, sequence: 0), nowMs: 0)  // 2-3
        _ = try log.append(try marker(.abort, producerId: 7), nowMs: 0)  // 4
        #expect(log.offsets.lastStableOffset == 2, "producer 9's transaction is still open")
        _ = try log.append(try marker(.commit, producerId: 9), nowMs: 0)  // 5
        _ = try log.append(try data(producerId: 1, sequence: 0, transactional: false), nowMs: 0)  // 6-7
        #expect(log.offsets.lastStableOffset == 8)
        let aborted = AbortedTransaction(producerId: 7, firstOffset: 0, lastOffset: 4, lastStableOffset: 2)
        #expect(try log.read(from: 0, maxBytes: 1 << 20, committedOnly: true).abortedTransactions == [aborted])
        #expect(try log.read(from: 4, maxBytes: 1 << 20, committedOnly: true).abortedTransactions == [aborted], "its marker is still ahead")
        #expect(try log.read(from: 5, maxBytes: 1 << 20, committedOnly: true).abortedTransactions == [], "wholly behind the fetch")
        #expect(try log.read(from: 0, maxBytes: 1 << 20).abortedTransactions == nil, "read_uncommitted gets none")
    }

    @Test func markersFenceOlderEpochsAndPlainBatchesCannotJoinATransaction() throws {
        let log = try open()
        _ = try log.append(try data(producerId: 7, sequence: 0), nowMs: 0)
        #expect(throws: LogAppendError.invalidTransactionState(producerId: 7)) {
            try log.append(try data(producerId: 7, sequence: 2, transactional: false), nowMs: 0)
        }
        #expect(LogAppendError.invalidTransactionState(producerId: 7).kafkaErrorCode == .invalidTxnState)
        // The coordinator fenced the producer: its transaction is aborted under epoch 1.
        _ = try log.append(try marker(.abort, producerId: 7, epoch: 1), nowMs: 0)
        #expect(throws: LogAppendError.invalidProducerEpoch(producerId: 7, epoch: 0, currentEpoch: 1)) {
            try log.append(try data(producerId: 7, sequence: 2), nowMs: 0)
        }
        #expect(throws: LogAppendError.invalidProducerEpoch(producerId: 7, epoch: 0, currentEpoch: 1)) {
            try log.append(try marker(.commit, producerId: 7, epoch: 0), nowMs: 0)
        }
        #expect(try log.append(try data(producerId: 7, epoch: 1, sequence: 0), nowMs: 0).firstOffset == 3, "the new epoch starts at sequence 0")
        #expect(log.hasOpenTransaction(producerId: 7, epoch: 1))
        #expect(!log.hasOpenTransaction(producerId: 7, epoch: 0))
    }

    /// The group coordinator writes a transaction's offsets without a sequence: a fenced producer's
    /// (its transaction aborted under a newer epoch) must be refused too, or its offsets would wait
    /// for a marker that never comes (found by the exactly-once fault run: a consumer's committed
    /// offsets stayed UNSTABLE_OFFSET_COMMIT for good).
    @Test func batchesWithoutASequenceAreFencedByANewerEpochToo() throws {
        let log = try open()
        _ = try log.append(try data(producerId: 7, sequence: -1), nowMs: 0)
        _ = try log.append(try marker(.abort, producerId: 7, epoch: 1), nowMs: 0)
        #expect(throws: LogAppendError.invalidProducerEpoch(producerId: 7, epoch: 0, currentEpoch: 1)) {
            try log.append(try data(producerId: 7, sequence: -1), nowMs: 0)
        }
        #expect(try log.append(try data(producerId: 7, epoch: 1, sequence: -1), nowMs: 0).firstOffset == 3)
    }

    @Test(arguments: [true, false])
    func openTransactionsAndTheAbortedIndexSurviveARestart(clean: Bool) throws {
        var log = try open()
        _ = try log.append(try data(producerId: 7, sequence: 0), nowMs: 0)  // 0-1
        _ = try log.append(try marker(.abort, producerId: 7), nowMs: 0)  // 2
        _ = try log.append(try data(producerId: 8, sequence: 0), nowMs: 0)  // 3-4, left open
        try log.flush()
        if clean {
            try log.close()
        } else {
            fileSystem.crash(seed: 5)
        }
        log = try open(cleanShutdown: clean)
        #expect(log.offsets.lastStableOffset == 3, "producer 8's transaction is open again")
        #expect(try log.read(from: 0, maxBytes: 1 << 20, committedOnly: true).abortedTransactions
            == [AbortedTransaction(producerId: 7, firstOffset: 0, lastOffset: 2, lastStableOffset: 3)])
        _ = try log.append(try marker(.commit, producerId: 8), nowMs: 0)
        #expect(log.offsets.lastStableOffset == 6)
    }

    /// The acceptance point for snapshots: a retry of a batch several segments back is still
    /// recognised after a restart (before snapshots, only the last two segments were read).
    @Test(arguments: [true, false])
    func aRetryOfABatchManySegmentsBackIsRecognisedAfterARestart(clean: Bool) throws {
        var log = try open(config: smallSegments(120))
        let first = try log.append(try data(producerId: 7, sequence: 0, transactional: false), nowMs: 0)
        for producer in Int64(20)..<Int64(26) { _ = try log.append(try data(producerId: producer, sequence: 0, transactional: false), nowMs: 0) }
        #expect(log.segmentBaseOffsets.count >= 5)
        try log.flush()
        if clean {
            try log.close()
        } else {
            fileSystem.crash(seed: 9)
        }
        // Opening starts from a snapshot past the batch: only the snapshot can remember it.
        #expect(try ProducerStateSnapshot.offsets(directory: directory, fileSystem: fileSystem).last ?? 0 > first.lastOffset)
        log = try open(config: smallSegments(120), cleanShutdown: clean)
        let end = log.offsets.logEndOffset
        #expect(try log.append(try data(producerId: 7, sequence: 0, transactional: false), nowMs: 0).firstOffset == first.firstOffset)
        #expect(log.offsets.logEndOffset == end, "nothing appended twice")
    }

    @Test func snapshotsOfCleanStopsDoNotAccumulate() throws {
        var log = try open()
        for round in 0..<3 {
            _ = try log.append(try data(producerId: 7, sequence: Int32(round * 2), transactional: false), nowMs: 0)
            try log.close()
            log = try open(cleanShutdown: true)
        }
        #expect(try ProducerStateSnapshot.offsets(directory: directory, fileSystem: fileSystem) == [6], "only the last stop's")
        #expect(try log.append(try data(producerId: 7, sequence: 4, transactional: false), nowMs: 0).firstOffset == 4, "the retry is recognised")
    }

    @Test func anAbortInAnOlderSegmentIsFoundThroughItsTxnindexAfterARestart() throws {
        var log = try open(config: smallSegments(200))
        _ = try log.append(try data(producerId: 7, sequence: 0), nowMs: 0)
        _ = try log.append(try marker(.abort, producerId: 7), nowMs: 0)
        for producer in Int64(20)..<Int64(26) { _ = try log.append(try data(producerId: producer, sequence: 0, transactional: false), nowMs: 0) }
        try log.flush()
        #expect(log.segmentBaseOffsets.count >= 3)
        #expect(try TransactionIndexFile(directory: directory, baseOffset: 0, fileSystem: fileSystem).read().count == 1)
        fileSystem.crash(seed: 1)
        log = try open(config: smallSegments(200))
        #expect(try log.read(from: 0, maxBytes: 1 << 20, committedOnly: true).abortedTransactions?.map(\.producerId) == [7])
    }

    @Test func aReplicatedLogsLastStableOffsetWaitsForTheMarkerToBeBelowTheHighWatermark() throws {
        let log = try open()
        log.setReplicated(true)
        _ = try log.append(try data(producerId: 7, sequence: 0), nowMs: 0)  // 0-1
        _ = try log.append(try marker(.commit, producerId: 7), nowMs: 0)  // 2
        log.updateHighWatermark(2)
        #expect(log.offsets.lastStableOffset == 0, "the marker may not be on the replica that takes over")
        log.updateHighWatermark(3)
        #expect(log.offsets.lastStableOffset == 3)
    }

    @Test func truncatingAMarkerAwayOpensItsTransactionAgain() throws {
        let log = try open()
        log.setReplicated(true)
        _ = try log.appendAsFollower(try numbered(try data(producerId: 7, sequence: 0), at: 0), nowMs: 0)  // 0-1
        _ = try log.appendAsFollower(try numbered(try marker(.abort, producerId: 7), at: 2), nowMs: 0)  // 2
        log.updateHighWatermark(3)
        #expect(log.offsets.lastStableOffset == 3)
        #expect(log.abortedTransactions(from: 0, to: 3).count == 1)
        try log.truncate(to: 2, nowMs: 0)
        #expect(log.abortedTransactions(from: 0, to: 3).isEmpty, "the abort was cut")
        #expect(log.hasOpenTransaction(producerId: 7, epoch: 0))
        #expect(log.offsets.lastStableOffset == 0)
    }

    @Test func retentionDropsTheAbortedTransactionsOfRemovedSegments() throws {
        var config = smallSegments(150)
        config.retentionSizeBytes = 0
        let log = try open(config: config)
        _ = try log.append(try data(producerId: 7, sequence: 0), nowMs: 0)
        _ = try log.append(try marker(.abort, producerId: 7), nowMs: 0)
        for producer in Int64(20)..<Int64(24) { _ = try log.append(try data(producerId: producer, sequence: 0, transactional: false), nowMs: 0) }
        try log.flush()
        #expect(try log.applyRetention(nowMs: 0) > 0)
        #expect(log.abortedTransactions(from: 0, to: .max).isEmpty)
        #expect(!fileSystem.exists("\(directory)/00000000000000000000.txnindex"))
    }

    @Test func compactionDropsAbortedRecordsKeepsMarkersAndNeverLetsAnAbortedValueWin() throws {
        let log = try open(config: try LogConfig(properties: [
            "cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0", "delete.retention.ms": "86400000",
        ]))
        func keyed(_ key: String, _ value: String, producerId: Int64 = -1, transactional: Bool = false) throws -> RecordBatch {
            var builder = RecordBatchBuilder(producerId: producerId, producerEpoch: 0, baseSequence: producerId >= 0 ? 0 : -1, isTransactional: transactional)
            builder.append(timestampMs: 1_000, key: ByteBuffer(string: key), value: ByteBuffer(string: value))
            var bytes = try builder.build()
            return try RecordBatch.read(from: &bytes)
        }
        _ = try log.append(try keyed("a", "committed-first"), nowMs: 0)  // 0
        _ = try log.append(try keyed("a", "aborted", producerId: 7, transactional: true), nowMs: 0)  // 1
        _ = try log.append(try marker(.abort, producerId: 7), nowMs: 0)  // 2
        _ = try log.append(try keyed("b", "committed-in-a-transaction", producerId: 8, transactional: true), nowMs: 0)  // 3
        _ = try log.append(try marker(.commit, producerId: 8), nowMs: 0)  // 4
        try log.roll(nowMs: 0)
        _ = try log.append(try keyed("c", "active"), nowMs: 0)
        try log.flush(nowMs: 0)
        #expect(try log.compact(nowMs: 10_000).outcome == .completed)
        var survivors: [Int64: String] = [:]
        var markers: [Int64] = []
        for slice in try log.read(from: 0, maxBytes: 1 << 20).slices {
            var bytes = try slice.read()
            while bytes.readableBytes > 0 {
                let batch = try RecordBatch.read(from: &bytes)
                if batch.header.attributes.isControl {
                    markers.append(batch.header.baseOffset)
                    continue
                }
                var records = try batch.records(decompressedSizeBytesMax: 1 << 20)
                while let record = try records.next() {
                    survivors[batch.header.baseOffset + Int64(record.offsetDelta)] = record.value.map { String(buffer: $0) }
                }
            }
        }
        #expect(survivors == [0: "committed-first", 3: "committed-in-a-transaction", 5: "active"], "\(survivors)")
        #expect(markers == [2, 4], "markers are kept")
    }

    /// A batch as a leader numbered it (for follower appends).
    func numbered(_ batch: RecordBatch, at baseOffset: Int64) throws -> RecordBatch {
        var bytes = batch.bytes
        bytes.setRecordBatchBaseOffset(baseOffset, batchAt: bytes.readerIndex)
        return try RecordBatch.read(from: &bytes)
    }
}
