import KafkaProtocol
import NIOCore
import StromCluster
import StromStorage
import Testing
@testable import StromBroker

/// `write.caching`: acks=all is answered once the records are written, the fsync follows in the
/// background. A stopped group commit (no sync will ever finish) tells the two policies apart.
@Suite struct WriteCachingTests {
    let waiters = HighWatermarkWaiters()

    func partitions(writeCaching: Bool) throws -> TestPartitions {
        var config = LogConfig.defaults
        config.writeCaching = writeCaching
        return try TestPartitions(topics: ["orders": 1], waiters: waiters, config: config)
    }

    func stoppedGroupCommit() -> GroupCommit {
        let groupCommit = GroupCommit()
        groupCommit.shutdown()
        return groupCommit
    }

    func produceAll(_ handler: ProduceHandler) async throws -> Int16 {
        var builder = RecordBatchBuilder()
        builder.append(timestampMs: 1_000, key: nil, value: ByteBuffer(string: "cached"))
        let request = ProduceRequest(acks: -1, timeoutMs: 2_000, topicData: [
            .init(name: "orders", partitionData: [.init(index: 0, records: try builder.build())]),
        ])
        return try #require(await handler.handle(request, nowMs: 0)).responses[0].partitionResponses[0].errorCode
    }

    @Test(arguments: [true, false])
    func aSingleBrokerAnswersAcksAllBeforeTheSyncOnlyWithWriteCaching(writeCaching: Bool) async throws {
        let partitions = try partitions(writeCaching: writeCaching)
        let handler = ProduceHandler(partitions: partitions, groupCommit: stoppedGroupCommit(), decompressedSizeBytesMax: 1 << 20, validation: .strict)
        let code = try await produceAll(handler)
        let log = try #require(partitions.log(topic: "orders", partition: 0))
        if writeCaching {
            #expect(code == 0)
            #expect(log.offsets.highWatermark == 1, "readable at once")
            #expect(log.recoveryPoint == 0, "not synced")
        } else {
            #expect(code == KafkaErrorCode.kafkaStorageError.rawValue, "acks=all waits for a sync that never comes")
            #expect(log.offsets.highWatermark == 0)
        }
    }

    @Test(arguments: [true, false])
    func aLeaderCountsItsWrittenEndOnlyWithWriteCaching(writeCaching: Bool) async throws {
        let partitions = try partitions(writeCaching: writeCaching)
        let replicas = ReplicaManager(nodeId: 1, replicaLagTimeMaxMs: 30_000, clock: { 1_000 })
        let topicPartition = TopicPartition(topic: "orders", partition: 0)
        let log = try #require(partitions.log(topic: "orders", partition: 0))
        log.setReplicated(true)
        replicas.lead(topicPartition, topic: "orders", assignment: PartitionAssignment(
            partition: 0, replicas: [1], leader: 1, leaderEpoch: 0, inSyncReplicas: [1], partitionEpoch: 0), log: log)
        var handler = ProduceHandler(partitions: partitions, groupCommit: stoppedGroupCommit(), decompressedSizeBytesMax: 1 << 20, validation: .strict)
        handler.replication = ProduceReplication(replicas: replicas, waiters: waiters)
        let code = try await produceAll(handler)
        if writeCaching {
            #expect(code == 0)
            #expect(log.offsets.highWatermark == 1)
        } else {
            #expect(code == KafkaErrorCode.kafkaStorageError.rawValue)
            #expect(log.offsets.highWatermark == 0)
        }
    }
}
