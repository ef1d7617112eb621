import KafkaProtocol
import NIOCore
import Testing
@testable import StromStorage

/// The log as a replica uses it: the leader's numbering kept, truncation to a divergence point, and
/// the high watermark set by replication.
@Suite struct ReplicationLogTests {
    let fileSystem = SimulatedFileSystem()

    func open(_ name: String, config: LogConfig = smallSegments(1_024)) throws -> PartitionLog {
        try PartitionLog.open(
            directory: "/data/\(name)-0", topicPartition: TopicPartition(topic: name, partition: 0), config: config,
            fileSystem: fileSystem, cleanShutdown: false, nowMs: 0).0
    }

    /// A leader log with `epochs` leader epochs, each appending `batchesPerEpoch` batches of 3 records.
    func leaderLog(epochs: [Int32], batchesPerEpoch: Int) throws -> PartitionLog {
        let leader = try open("leader")
        leader.setReplicated(true)
        for epoch in epochs {
            leader.setLeaderEpoch(epoch)
            for _ in 0..<batchesPerEpoch { _ = try leader.append(try producedBatch(keys: ["a", "b", "c"]), nowMs: 0) }
        }
        return leader
    }

    /// Every stored batch of `log` from offset 0 to its end, as stored bytes.
    func storedBatches(_ log: PartitionLog) throws -> [RecordBatch] {
        var batches: [RecordBatch] = []
        var next: Int64 = 0
        while next < log.offsets.logEndOffset {
            let info = try log.read(from: next, maxBytes: 1 << 20, upToLogEnd: true)
            guard !info.slices.isEmpty else { break }
            for slice in info.slices {
                var bytes = try slice.read()
                while bytes.readableBytes > 0 {
                    let batch = try RecordBatch.read(from: &bytes)
                    batches.append(batch)
                    next = batch.header.lastOffset + 1
                }
            }
        }
        return batches
    }

    @Test func aFollowerCopyKeepsTheLeadersOffsetsEpochsAndBytes() throws {
        let leader = try leaderLog(epochs: [0, 3], batchesPerEpoch: 4)
        #expect(leader.offsets.highWatermark == 0, "a replicated log's high watermark waits for replication")
        _ = try leader.flush()
        #expect(leader.offsets.highWatermark == 0, "not even a flush moves it")
        let follower = try open("follower")
        follower.setReplicated(true)
        for batch in try storedBatches(leader) { try follower.appendAsFollower(batch, nowMs: 0) }
        #expect(follower.offsets.logEndOffset == 24)
        #expect(follower.epochEntries == [EpochEntry(epoch: 0, startOffset: 0), EpochEntry(epoch: 3, startOffset: 12)])
        let copied = try storedBatches(follower)
        #expect(copied.map(\.bytes) == (try storedBatches(leader)).map(\.bytes), "byte for byte")
        #expect(follower.segmentBaseOffsets.count > 1, "the copy rolls segments as the leader did")
        // Re-sending what the follower has is skipped; a batch starting inside the log is refused.
        try follower.appendAsFollower(try storedBatches(leader)[0], nowMs: 0)
        #expect(follower.offsets.logEndOffset == 24)
        follower.updateHighWatermark(30)
        #expect(follower.offsets.highWatermark == 24, "never past the log end")
        follower.updateHighWatermark(10)
        #expect(follower.offsets.highWatermark == 24, "never back")
    }

    @Test func truncationCutsWholeBatchesEpochsAndProducerState() throws {
        let leader = try leaderLog(epochs: [0, 2, 5], batchesPerEpoch: 3)
        let follower = try open("follower")
        follower.setReplicated(true)
        for batch in try storedBatches(leader) { try follower.appendAsFollower(batch, nowMs: 0) }
        follower.updateHighWatermark(27)
        #expect(follower.offsets.logEndOffset == 27)
        // Offset 10 lies inside the batch 9...11: the whole batch goes.
        let end = try follower.truncate(to: 10, nowMs: 0)
        #expect(end == 9 && follower.offsets.logEndOffset == 9)
        #expect(follower.offsets.highWatermark == 9 && follower.recoveryPoint <= 9)
        #expect(follower.epochEntries == [EpochEntry(epoch: 0, startOffset: 0)], "epoch 2 began at 9, which is gone")
        #expect(try storedBatches(follower).map(\.header.baseOffset) == [0, 3, 6])
        // The truncated log takes the leader's later batches again.
        for batch in try storedBatches(leader) where batch.header.baseOffset >= 9 { try follower.appendAsFollower(batch, nowMs: 0) }
        #expect(try storedBatches(follower).map(\.bytes) == (try storedBatches(leader)).map(\.bytes))
        #expect(follower.epochEntries == leader.epochEntries)
    }

    /// Found by the cluster fault harness: truncation rebuilt the producer state from the newest
    /// segment alone, so a follower that became leader took a retry of a batch in an older segment
    /// as new and stored it twice.
    @Test func truncationKeepsWhatProducersWroteBeforeTheCutInEverySegment() throws {
        func idempotent(_ producerId: Int64, sequence: Int32) throws -> RecordBatch {
            var builder = RecordBatchBuilder(producerId: producerId, producerEpoch: 0, baseSequence: sequence)
            for index in 0..<3 { builder.append(timestampMs: 0, key: nil, value: ByteBuffer(string: "p\(producerId)-\(sequence)-\(index)")) }
            var bytes = try builder.build()
            return try RecordBatch.read(from: &bytes)
        }
        let follower = try open("follower", config: smallSegments(64))
        follower.setReplicated(true)
        let leader = try open("leader", config: smallSegments(64))
        leader.setReplicated(true)
        leader.setLeaderEpoch(1)
        _ = try leader.append(try idempotent(7, sequence: 0), nowMs: 0)
        for sequence in stride(from: Int32(0), to: 12, by: 3) { _ = try leader.append(try idempotent(8, sequence: sequence), nowMs: 0) }
        for batch in try storedBatches(leader) { try follower.appendAsFollower(batch, nowMs: 0) }
        #expect(follower.segmentBaseOffsets.count > 2)
        // The follower cuts its last batch (producer 8's) and then leads.
        try follower.truncate(to: 12, nowMs: 0)
        follower.setLeaderEpoch(2)
        #expect(try follower.append(try idempotent(7, sequence: 0), nowMs: 0).firstOffset == 0, "producer 7's retry is recognised")
        #expect(try follower.append(try idempotent(8, sequence: 9), nowMs: 0).firstOffset == 12, "the batch cut off is taken again")
        #expect(try follower.append(try idempotent(8, sequence: 6), nowMs: 0).firstOffset == 9, "the batch before the cut is known")
        #expect(follower.offsets.logEndOffset == 15)
    }

    @Test func truncatedLogReopensAsItWasCut() throws {
        let leader = try leaderLog(epochs: [1, 4], batchesPerEpoch: 5)
        var follower = try open("follower")
        follower.setReplicated(true)
        for batch in try storedBatches(leader) { try follower.appendAsFollower(batch, nowMs: 0) }
        _ = try follower.flush()
        try follower.truncate(to: 16, nowMs: 0)
        _ = try follower.flush()
        let entries = follower.epochEntries
        try follower.close()
        follower = try open("follower")
        #expect(follower.offsets.logEndOffset == 15)
        #expect(entries == [EpochEntry(epoch: 1, startOffset: 0)], "epoch 4 began at 15, which is gone")
        #expect(follower.epochEntries == entries)
    }
}
