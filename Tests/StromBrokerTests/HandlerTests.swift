import KafkaProtocol
import NIOCore
import StromCluster
import StromStorage
import StromTestSupport
import Synchronization
import Testing
@testable import StromBroker

/// A directory of partition logs on the simulated disk, for handlers without a network.
final class TestPartitions: PartitionDirectory {
    let logs: [TopicPartition: PartitionLog]
    let ids: [String: KafkaUUID]

    init(
        topics: [String: Int32], waiters: HighWatermarkWaiters, fileSystem: any StorageFileSystem = SimulatedFileSystem(),
        root: String = "/data", config: LogConfig = .defaults
    ) throws {
        var logs: [TopicPartition: PartitionLog] = [:]
        var ids: [String: KafkaUUID] = [:]
        for (index, (topic, count)) in topics.sorted(by: { $0.key < $1.key }).enumerated() {
            ids[topic] = KafkaUUID(high: 1, low: UInt64(index + 1))
            for partition in 0..<count {
                let topicPartition = TopicPartition(topic: topic, partition: partition)
                let (log, _) = try PartitionLog.open(
                    directory: "\(root)/\(topicPartition.directoryName)", topicPartition: topicPartition, config: config,
                    fileSystem: fileSystem, cleanShutdown: false, nowMs: 0)
                log.setHighWatermarkListener { topicPartition, _ in waiters.notify(topicPartition) }
                logs[topicPartition] = log
            }
        }
        self.logs = logs
        self.ids = ids
    }

    func log(topic: String, partition: Int32) -> PartitionLog? { logs[TopicPartition(topic: topic, partition: partition)] }
    func topicName(id: KafkaUUID) -> String? { ids.first { $0.value == id }?.key }
    func topicId(name: String) -> KafkaUUID? { ids[name] }
}

@Suite struct HandlerTests {
    let waiters = HighWatermarkWaiters()
    let groupCommit = GroupCommit()
    let partitions: TestPartitions

    init() throws {
        partitions = try TestPartitions(topics: ["orders": 2], waiters: waiters)
    }

    var produce: ProduceHandler { produce(validation: .strict) }

    func produce(validation: ProduceValidation) -> ProduceHandler {
        ProduceHandler(partitions: partitions, groupCommit: groupCommit, decompressedSizeBytesMax: 64 << 20, validation: validation)
    }

    /// Flips one byte of the records section and recomputes the CRC, so that only reading the
    /// records finds the damage.
    static func damagingRecords(of batch: ByteBuffer, at recordsOffset: Int) -> ByteBuffer {
        var damaged = batch
        let index = damaged.readerIndex + RecordBatchHeader.sizeBytes + recordsOffset
        damaged.setInteger(damaged.getInteger(at: index, as: UInt8.self)! ^ 0xFF, at: index)
        return withRecomputedCRC(damaged)
    }

    static func withRecomputedCRC(_ batch: ByteBuffer) -> ByteBuffer {
        var batch = batch
        // The CRC (bytes 17-20) covers attributes (byte 21) to the end.
        let crc = CRC32C.checksum(batch.getSlice(at: batch.readerIndex + 21, length: batch.readableBytes - 21)!)
        batch.setInteger(crc, at: batch.readerIndex + 17)
        return batch
    }

    var fetch: FetchHandler { FetchHandler(partitions: partitions, waiters: waiters) }

    static func batch(_ values: [String], codec: CompressionCodec = .none, timestampMs: Int64 = 1_000) throws -> ByteBuffer {
        var builder = RecordBatchBuilder(compressionCodec: codec)
        for value in values { builder.append(timestampMs: timestampMs, key: nil, value: ByteBuffer(string: value)) }
        return try builder.build()
    }

    func produceRequest(acks: Int16, partition: Int32 = 0, records: ByteBuffer?) -> ProduceRequest {
        ProduceRequest(acks: acks, timeoutMs: 5_000, topicData: [.init(name: "orders", partitionData: [.init(index: partition, records: records)])])
    }

    func fetchRequest(offset: Int64, maxWaitMs: Int32 = 0, minBytes: Int32 = 1) -> FetchRequest {
        FetchRequest(maxWaitMs: maxWaitMs, minBytes: minBytes, topics: [
            .init(topic: "orders", partitions: [.init(partition: 0, fetchOffset: offset, partitionMaxBytes: 1 << 20)]),
        ])
    }

    static func values(in response: FetchResponse) throws -> [String] {
        var values: [String] = []
        guard var records = response.responses.first?.partitions.first?.records else { return values }
        guard records.readableBytes > 0 else { return values }
        while records.readableBytes > 0 {
            let batch = try RecordBatch.read(from: &records)
            var iterator = try batch.records(decompressedSizeBytesMax: 1 << 20)
            while let record = try iterator.next() { values.append(String(buffer: record.value ?? ByteBuffer())) }
        }
        return values
    }

    @Test func producedRecordsAreFetchedBack() async throws {
        for codec in CompressionCodec.allCases {
            let response = try #require(await produce.handle(produceRequest(acks: -1, records: try Self.batch(["a-\(codec)", "b-\(codec)"], codec: codec)), nowMs: 0))
            #expect(response.responses[0].partitionResponses[0].errorCode == 0)
        }
        let fetched = await fetch.handle(fetchRequest(offset: 0), version: 12)
        let partition = fetched.responses[0].partitions[0]
        #expect(partition.errorCode == 0 && partition.highWatermark == 10)
        #expect(try Self.values(in: fetched) == CompressionCodec.allCases.flatMap { ["a-\($0)", "b-\($0)"] })
        // v13+ names the topic by id.
        var byId = fetchRequest(offset: 4)
        byId.topics[0].topicId = partitions.ids["orders"]!
        let fetchedById = await fetch.handle(byId, version: 13)
        #expect(try Self.values(in: fetchedById).first == "a-\(CompressionCodec.snappy)")
    }

    @Test func acksModesAndPerPartitionErrors() async throws {
        #expect(await produce.handle(produceRequest(acks: 0, records: try Self.batch(["x"])), nowMs: 0) == nil)
        let one = try #require(await produce.handle(produceRequest(acks: 1, records: try Self.batch(["y"])), nowMs: 0))
        #expect(one.responses[0].partitionResponses[0].baseOffset == 1)
        let bad = try #require(await produce.handle(produceRequest(acks: 2, records: try Self.batch(["z"])), nowMs: 0))
        #expect(bad.responses[0].partitionResponses[0].errorCode == KafkaErrorCode.invalidRequiredAcks.rawValue)
        let unknown = try #require(await produce.handle(produceRequest(acks: 1, partition: 9, records: try Self.batch(["z"])), nowMs: 0))
        #expect(unknown.responses[0].partitionResponses[0].errorCode == KafkaErrorCode.unknownTopicOrPartition.rawValue)
        var corrupt = try Self.batch(["c"])
        corrupt.setInteger(UInt8(0xFF), at: corrupt.writerIndex - 1)
        let corrupted = try #require(await produce.handle(produceRequest(acks: 1, records: corrupt), nowMs: 0))
        #expect(corrupted.responses[0].partitionResponses[0].errorCode == KafkaErrorCode.corruptMessage.rawValue)
        let large = try Self.batch([String(repeating: "L", count: 2 << 20)])
        let tooLarge = try #require(await produce.handle(produceRequest(acks: 1, records: large), nowMs: 0))
        #expect(tooLarge.responses[0].partitionResponses[0].errorCode == KafkaErrorCode.messageTooLarge.rawValue)
    }

    @Test func relaxedValidationChecksCompressedBatchesByCRCAndHeaderOnly() async throws {
        let damagedZstd = Self.damagingRecords(of: try Self.batch(["one", "two"], codec: .zstd), at: 6)
        let strict = try #require(await produce.handle(produceRequest(acks: 1, records: damagedZstd), nowMs: 0))
        #expect(strict.responses[0].partitionResponses[0].errorCode == KafkaErrorCode.corruptMessage.rawValue)
        // Relaxed trusts the producer's compressed bytes: the CRC and header hold, so it is stored.
        let relaxed = produce(validation: .relaxed)
        let stored = try #require(await relaxed.handle(produceRequest(acks: 1, records: damagedZstd), nowMs: 0))
        #expect(stored.responses[0].partitionResponses[0].errorCode == 0)
        #expect(stored.responses[0].partitionResponses[0].baseOffset == 0)
        // Still refused in relaxed mode: a wrong CRC, a header whose counts disagree, and a damaged
        // uncompressed batch (its records are read either way: it costs no decompression).
        var badCRC = try Self.batch(["c"], codec: .zstd)
        badCRC.setInteger(UInt8(0xFF), at: badCRC.writerIndex - 1)
        let refusedCRC = try #require(await relaxed.handle(produceRequest(acks: 1, records: badCRC), nowMs: 0))
        #expect(refusedCRC.responses[0].partitionResponses[0].errorCode == KafkaErrorCode.corruptMessage.rawValue)
        let damagedPlain = Self.damagingRecords(of: try Self.batch(["one", "two"]), at: 0)
        let refusedPlain = try #require(await relaxed.handle(produceRequest(acks: 1, records: damagedPlain), nowMs: 0))
        #expect(refusedPlain.responses[0].partitionResponses[0].errorCode == KafkaErrorCode.invalidRecord.rawValue)
        var wrongCount = try Self.batch(["a", "b"], codec: .lz4)
        wrongCount.setInteger(Int32(5), at: wrongCount.readerIndex + 23)  // lastOffsetDelta
        let refusedCount = try #require(await relaxed.handle(produceRequest(acks: 1, records: Self.withRecomputedCRC(wrongCount)), nowMs: 0))
        #expect(refusedCount.responses[0].partitionResponses[0].errorCode == KafkaErrorCode.invalidRecord.rawValue)
    }

    /// The limits a hostile producer or consumer cannot pass: records per batch
    /// (`produce.batch.max.records`), decompressed size (`produce.batch.max.decompressed.bytes`)
    /// and the bytes of one Fetch response (`fetch.max.bytes`).
    @Test func batchAndFetchResponseLimits() async throws {
        for validation in ProduceValidation.allCases {
            var limited = produce(validation: validation)
            limited.recordsPerBatchMax = 3
            let four = try #require(await limited.handle(produceRequest(acks: 1, records: try Self.batch(["1", "2", "3", "4"], codec: .lz4)), nowMs: 0))
            #expect(four.responses[0].partitionResponses[0].errorCode == KafkaErrorCode.invalidRecord.rawValue)
            #expect(four.responses[0].partitionResponses[0].errorMessage?.contains("produce.batch.max.records (3)") == true)
            let three = try #require(await limited.handle(produceRequest(acks: 1, records: try Self.batch(["1", "2", "3"], codec: .lz4)), nowMs: 0))
            #expect(three.responses[0].partitionResponses[0].errorCode == 0)
        }
        let inflating = ProduceHandler(partitions: partitions, groupCommit: groupCommit, decompressedSizeBytesMax: 10_000, validation: .strict)
        let bomb = try Self.batch((0..<100).map { _ in String(repeating: "z", count: 1_000) }, codec: .gzip)
        #expect(bomb.readableBytes < 10_000)
        let refused = try #require(await inflating.handle(produceRequest(acks: 1, records: bomb), nowMs: 0))
        #expect(refused.responses[0].partitionResponses[0].errorCode == KafkaErrorCode.messageTooLarge.rawValue)

        let before = partitions.log(topic: "orders", partition: 0)!.offsets.logEndOffset
        for index in 0..<10 {
            _ = await produce.handle(produceRequest(acks: -1, records: try Self.batch(["\(index)" + String(repeating: "f", count: 550)])), nowMs: 0)
        }
        var capped = fetch
        capped.responseBytesMax = 1_024
        let oneBatch = await capped.handle(fetchRequest(offset: before), version: 12)
        #expect(try Self.values(in: oneBatch).map { $0.prefix(1) } == ["0"])
        capped.responseBytesMax = 4_096
        let several = await capped.handle(fetchRequest(offset: before), version: 12)
        #expect(try Self.values(in: several).count == 6)
        #expect(try Self.values(in: await fetch.handle(fetchRequest(offset: before), version: 12)).count == 10)
    }

    @Test func outOfRangeFetchSaysSo() async throws {
        _ = await produce.handle(produceRequest(acks: -1, records: try Self.batch(["only"])), nowMs: 0)
        let response = await fetch.handle(fetchRequest(offset: 5), version: 12)
        #expect(response.responses[0].partitions[0].errorCode == KafkaErrorCode.offsetOutOfRange.rawValue)
        #expect(response.responses[0].partitions[0].highWatermark == 1)
    }

    @Test func longPollReturnsWhenDataArrives() async throws {
        // The longest wait a client may ask for (30 s); the waiters say whether the append woke
        // the fetch or its timeout did, so the test does not time anything.
        async let fetched = fetch.handle(fetchRequest(offset: 0, maxWaitMs: 30_000), version: 12)
        // Produce once the fetch is parked (a bounded wait for that event, not a fixed sleep).
        for _ in 0..<20_000 where waiters.waitingCount == 0 { try await Task.sleep(for: .milliseconds(1)) }
        #expect(waiters.waitingCount == 1, "the fetch never parked")
        _ = await produce.handle(produceRequest(acks: 1, records: try Self.batch(["late"])), nowMs: 0)
        let response = await fetched
        #expect(try Self.values(in: response) == ["late"])
        #expect(waiters.outcomeCounts.woken == 1, "the long poll was not woken by the append")
        #expect(waiters.outcomeCounts.expired == 0)
    }

    @Test func longPollTimesOutEmpty() async throws {
        let response = await fetch.handle(fetchRequest(offset: 0, maxWaitMs: 50), version: 12)
        #expect(waiters.outcomeCounts.expired == 1 && waiters.outcomeCounts.woken == 0)
        #expect(response.responses[0].partitions[0].records == ByteBuffer(), "an empty record set, never null")
        #expect(response.responses[0].partitions[0].errorCode == 0)
    }

    @Test func listOffsetsEarliestLatestAndByTime() async throws {
        for (index, value) in ["a", "b", "c"].enumerated() {
            _ = await produce.handle(produceRequest(acks: -1, records: try Self.batch([value], timestampMs: 1_000 * Int64(index + 1))), nowMs: 0)
        }
        let handler = ListOffsetsHandler(partitions: partitions)
        func offset(_ timestamp: Int64) -> Int64 {
            handler.handle(ListOffsetsRequest(replicaId: -1, topics: [.init(name: "orders", partitions: [.init(partitionIndex: 0, timestamp: timestamp)])]), version: 7)
                .topics[0].partitions[0].offset
        }
        #expect(offset(ListOffsetsHandler.earliest) == 0)
        #expect(offset(ListOffsetsHandler.latest) == 3)
        #expect(offset(2_000) == 1 && offset(2_500) == 2 && offset(9_000) == -1)
        #expect(offset(ListOffsetsHandler.maxTimestamp) == 2)
    }

    @Test func listOffsetsMaxTimestampAnswersTheRecordThatHoldsIt() async throws {
        // One compressed batch whose second record carries the largest timestamp, tied by the
        // fourth: Kafka (KIP-734, KAFKA-16310) answers the first record holding it, not the
        // batch's last offset.
        var builder = RecordBatchBuilder(compressionCodec: .lz4)
        for timestamp: Int64 in [1_000, 9_000, 2_000, 9_000, 3_000] {
            builder.append(timestampMs: timestamp, key: nil, value: ByteBuffer(string: "t\(timestamp)"))
        }
        _ = await produce.handle(produceRequest(acks: -1, records: try Self.batch(["first"], timestampMs: 500)), nowMs: 0)
        _ = await produce.handle(produceRequest(acks: -1, records: try builder.build()), nowMs: 0)
        let request = ListOffsetsRequest(
            replicaId: -1, topics: [.init(name: "orders", partitions: [.init(partitionIndex: 0, timestamp: ListOffsetsHandler.maxTimestamp)])])
        let answer = ListOffsetsHandler(partitions: partitions).handle(request, version: 7).topics[0].partitions[0]
        #expect(answer.errorCode == 0)
        #expect(answer.offset == 2, "offset 0 is 'first', the batch holds 1...5 and 9,000 first at offset 2")
        #expect(answer.timestamp == 9_000)
    }

    /// Found by the cluster fault harness: during a leader change a client's pipelined batches can
    /// straddle it (the first refused as not yet leader, the next taken as leader); the gap that
    /// follows is answered retriably for a while, so librdkafka resends both in order instead of
    /// bumping its epoch (which duplicates other partitions' unanswered batches).
    @Test func aNewLeaderAnswersASequenceGapAsNotLeaderForAWhile() async throws {
        let nowMs = Mutex<Int64>(1_000)
        let replicas = ReplicaManager(nodeId: 1, replicaLagTimeMaxMs: 30_000, clock: { nowMs.withLock { $0 } })
        let topicPartition = TopicPartition(topic: "orders", partition: 0)
        let log = try #require(partitions.log(topic: "orders", partition: 0))
        replicas.lead(topicPartition, topic: "orders", assignment: PartitionAssignment(
            partition: 0, replicas: [1], leader: 1, leaderEpoch: 3, inSyncReplicas: [1], partitionEpoch: 3), log: log)
        var handler = produce
        handler.replication = ProduceReplication(replicas: replicas, waiters: waiters)
        func idempotent(sequence: Int32) throws -> ByteBuffer {
            var builder = RecordBatchBuilder(producerId: 42, producerEpoch: 0, baseSequence: sequence)
            builder.append(timestampMs: 1_000, key: nil, value: ByteBuffer(string: "s\(sequence)"))
            return try builder.build()
        }
        func code(sequence: Int32) async throws -> Int16 {
            let response = try #require(await handler.handle(produceRequest(acks: 1, records: try idempotent(sequence: sequence)), nowMs: 0))
            return response.responses[0].partitionResponses[0].errorCode
        }
        #expect(try await code(sequence: 0) == 0)
        #expect(try await code(sequence: 2) == KafkaErrorCode.notLeaderOrFollower.rawValue, "a gap right after the leader change")
        nowMs.withLock { $0 += ReplicaManager.newLeaderGapGraceMs }
        #expect(try await code(sequence: 2) == KafkaErrorCode.outOfOrderSequenceNumber.rawValue, "a gap is a gap after the grace")
        #expect(try await code(sequence: 1) == 0)
    }

    /// A follower's long poll is not kept waiting while a partition led here moments ago, which it
    /// replicates, is missing from it (it takes the partition up from the same metadata change,
    /// maybe a moment later; acks=all produce to a new topic would otherwise stall for the poll).
    @Test func aFollowersFetchEndsSoonWhileItLacksANewlyLedPartition() async throws {
        let nowMs = Mutex<Int64>(1_000)
        let replicas = ReplicaManager(nodeId: 1, replicaLagTimeMaxMs: 30_000, clock: { nowMs.withLock { $0 } })
        let (old, new) = (TopicPartition(topic: "orders", partition: 0), TopicPartition(topic: "orders", partition: 1))
        for topicPartition in [old, new] {
            let log = try #require(partitions.log(topic: "orders", partition: topicPartition.partition))
            replicas.lead(topicPartition, topic: "orders", assignment: PartitionAssignment(
                partition: topicPartition.partition, replicas: [1, 2], leader: 1, leaderEpoch: 0, inSyncReplicas: [1, 2],
                partitionEpoch: 0), log: log)
        }
        #expect(!replicas.awaitsNewPartition(follower: 3, fetched: { [old] }))

        let handler = ReplicaFetchHandler(partitions: partitions, replicas: replicas, waiters: waiters, proposeInSyncReplicaChange: { _, _ in })
        var request = FetchRequest(maxWaitMs: 30_000, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, topics: [
            .init(topic: "orders", topicId: partitions.topicId(name: "orders")!, partitions: [
                .init(partition: 0, currentLeaderEpoch: 0, fetchOffset: 0, lastFetchedEpoch: -1, logStartOffset: 0, partitionMaxBytes: 1 << 20),
            ]),
        ])
        request.replicaState = .init(replicaId: 2, replicaEpoch: -1)
        // Nothing to fetch on the partition asked for: without the rule the fetch would wait 30 s.
        let fetch = request
        let answered = try await Self.within(.seconds(20)) { await handler.fetch(fetch, version: 16) }
        #expect(answered?.response.responses[0].partitions[0].errorCode == 0)
        #expect(replicas.awaitsNewPartition(follower: 2, fetched: { [old] }), "still missing")
        nowMs.withLock { $0 += ReplicaManager.newLeaderGapGraceMs }
        #expect(!replicas.awaitsNewPartition(follower: 2, fetched: { [old] }), "moments ago no more")
    }

    /// Once a follower has fetched a new partition it is no longer waited for.
    @Test func aNewlyLedPartitionOnceFetchedIsForgotten() throws {
        let replicas = ReplicaManager(nodeId: 1, replicaLagTimeMaxMs: 30_000, clock: { 1_000 })
        let topicPartition = TopicPartition(topic: "orders", partition: 0)
        replicas.lead(topicPartition, topic: "orders", assignment: PartitionAssignment(
            partition: 0, replicas: [1, 2], leader: 1, leaderEpoch: 0, inSyncReplicas: [1, 2], partitionEpoch: 0),
            log: try #require(partitions.log(topic: "orders", partition: 0)))
        #expect(replicas.awaitsNewPartition(follower: 2, fetched: { [] }))
        #expect(!replicas.awaitsNewPartition(follower: 2, fetched: { [topicPartition] }))
        #expect(!replicas.awaitsNewPartition(follower: 2, fetched: { [] }), "forgotten once fetched")
    }

    /// `body`'s result, or nil if `limit` passes first (a bound that no passing run comes near).
    static func within<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async -> T) async throws -> T? {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { await body() }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            let first = try await group.next()!
            group.cancelAll()
            return first
        }
    }
}
