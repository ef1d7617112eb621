import KafkaProtocol
import NIOCore
import Testing
@testable import StromStorage

/// Idempotent producers: a retried batch is not appended twice, a sequence gap and a fenced epoch
/// are refused with Kafka's errors, and the state survives a restart for the active segment.
@Suite struct IdempotentProducerTests {
    let fileSystem = SimulatedFileSystem()

    func open(cleanShutdown: Bool = false) throws -> PartitionLog {
        var config = LogConfig.defaults
        config.flushPolicy = .writeCaching
        return try PartitionLog.open(
            directory: "/data/t-0", topicPartition: TopicPartition(topic: "t", partition: 0), config: config,
            fileSystem: fileSystem, cleanShutdown: cleanShutdown, nowMs: 0).0
    }

    func batch(producerId: Int64, epoch: Int16 = 0, sequence: Int32, count: Int = 3) throws -> RecordBatch {
        var builder = RecordBatchBuilder(producerId: producerId, producerEpoch: epoch, baseSequence: sequence)
        for index in 0..<count { builder.append(timestampMs: 1_000, key: nil, value: ByteBuffer(string: "p\(producerId)-s\(sequence)-\(index)")) }
        var bytes = try builder.build()
        let batch = try RecordBatch.read(from: &bytes)
        try batch.validate(mode: .produced, decompressedSizeBytesMax: 1 << 20)
        return batch
    }

    @Test func aRetriedBatchIsAnsweredWithItsFirstOffsets() throws {
        let log = try open()
        let first = try log.append(try batch(producerId: 7, sequence: 0), nowMs: 0)
        let second = try log.append(try batch(producerId: 7, sequence: 3), nowMs: 0)
        _ = try log.append(try batch(producerId: 8, sequence: 0), nowMs: 0)
        let retry = try log.append(try batch(producerId: 7, sequence: 0), nowMs: 0)
        #expect(retry.firstOffset == first.firstOffset && retry.lastOffset == first.lastOffset)
        #expect(try log.append(try batch(producerId: 7, sequence: 3), nowMs: 0).firstOffset == second.firstOffset)
        #expect(log.offsets.logEndOffset == 9, "nothing appended twice")
        #expect(try allBatches(of: log).count == 3)
    }

    @Test func gapsAndFencedEpochsAreRefused() throws {
        let log = try open()
        _ = try log.append(try batch(producerId: 7, epoch: 1, sequence: 0), nowMs: 0)
        #expect(throws: LogAppendError.outOfOrderSequence(producerId: 7, expected: 3, received: 6)) {
            try log.append(try batch(producerId: 7, epoch: 1, sequence: 6), nowMs: 0)
        }
        #expect(throws: LogAppendError.invalidProducerEpoch(producerId: 7, epoch: 0, currentEpoch: 1)) {
            try log.append(try batch(producerId: 7, epoch: 0, sequence: 3), nowMs: 0)
        }
        #expect(throws: LogAppendError.outOfOrderSequence(producerId: 7, expected: 0, received: 3)) {
            try log.append(try batch(producerId: 7, epoch: 2, sequence: 3), nowMs: 0)
        }
        #expect(try log.append(try batch(producerId: 7, epoch: 2, sequence: 0), nowMs: 0).firstOffset == 3, "a new epoch starts at 0")
        #expect(try log.append(try batch(producerId: 9, sequence: 42), nowMs: 0).firstOffset == 6, "an unknown producer starts anywhere")
        #expect(LogAppendError.outOfOrderSequence(producerId: 1, expected: 0, received: 1).kafkaErrorCode == .outOfOrderSequenceNumber)
        #expect(LogAppendError.invalidProducerEpoch(producerId: 1, epoch: 0, currentEpoch: 1).kafkaErrorCode == .invalidProducerEpoch)
    }

    @Test func sequencesWrapAtInt32Max() throws {
        let log = try open()
        _ = try log.append(try batch(producerId: 5, sequence: Int32.max - 1, count: 2), nowMs: 0)
        #expect(try log.append(try batch(producerId: 5, sequence: 0), nowMs: 0).firstOffset == 2)
    }

    @Test(arguments: [true, false])
    func theActiveSegmentsProducersSurviveARestart(clean: Bool) throws {
        var log = try open()
        let first = try log.append(try batch(producerId: 7, sequence: 0), nowMs: 0)
        try log.flush()
        if clean {
            try log.close()
        } else {
            fileSystem.crash(seed: 3)
        }
        log = try open(cleanShutdown: clean)
        #expect(try log.append(try batch(producerId: 7, sequence: 0), nowMs: 0).firstOffset == first.firstOffset, "the retry is recognised")
        #expect(throws: LogAppendError.outOfOrderSequence(producerId: 7, expected: 3, received: 9)) {
            try log.append(try batch(producerId: 7, sequence: 9), nowMs: 0)
        }
        #expect(log.offsets.logEndOffset == 3)
    }

    /// Found by the cluster fault harness: a segment rolled just before the broker stopped, and a
    /// producer's retry of its batch in the segment before the active one was appended again.
    @Test func aRetryOfABatchInThePreviousSegmentIsRecognisedAfterARestart() throws {
        func open() throws -> PartitionLog {
            try PartitionLog.open(
                directory: "/data/rolled-0", topicPartition: TopicPartition(topic: "rolled", partition: 0), config: smallSegments(64),
                fileSystem: fileSystem, cleanShutdown: false, nowMs: 0).0
        }
        var log = try open()
        let first = try log.append(try batch(producerId: 7, sequence: 0), nowMs: 0)
        _ = try log.append(try batch(producerId: 8, sequence: 0), nowMs: 0)
        #expect(log.segmentBaseOffsets.count == 2, "the second batch rolled a new segment")
        try log.flush()
        try log.close()
        log = try open()
        #expect(try log.append(try batch(producerId: 7, sequence: 0), nowMs: 0).firstOffset == first.firstOffset, "the retry is recognised")
        #expect(log.offsets.logEndOffset == 6)
    }
}
