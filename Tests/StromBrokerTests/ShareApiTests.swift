import KafkaProtocol
import NIOCore
import StromStorage
import Testing
@testable import StromBroker

/// ShareFetch, ShareAcknowledge and the share-group offset APIs frame-in/frame-out on one broker:
/// share session epochs and their errors, acknowledgements and INVALID_RECORD_STATE, empty record
/// sets, the session limit, and offsets described, reset and deleted.
@Suite struct ShareApiTests {
    let admin = AdminApiTests()
    let client = BrokerTests()

    func topicId(_ broker: Broker, _ name: String) throws -> KafkaUUID {
        try #require(broker.partitions.topicId(name: name))
    }

    func fetch(
        _ broker: Broker, member: String = "m1", epoch: Int32, topicId: KafkaUUID, partitions: [Int32] = [0],
        acks: [Int32: [(Int64, Int64, Int8)]] = [:], maxWaitMs: Int32 = 0, maxBytes: Int32 = 1 << 20
    ) async throws -> ShareFetchResponse {
        try #require(try await client.call(broker, ShareFetchRequest(
            groupId: "queue", memberId: member, shareSessionEpoch: epoch, maxWaitMs: maxWaitMs, minBytes: 1, maxBytes: maxBytes,
            maxRecords: 100, batchSize: 100,
            topics: partitions.isEmpty ? [] : [.init(topicId: topicId, partitions: partitions.map { partition in
                .init(partitionIndex: partition, acknowledgementBatches: (acks[partition] ?? []).map {
                    .init(firstOffset: $0.0, lastOffset: $0.1, acknowledgeTypes: [$0.2])
                })
            })]), version: 1))
    }

    func acknowledge(_ broker: Broker, member: String = "m1", epoch: Int32, topicId: KafkaUUID, _ acks: [(Int64, Int64, Int8)]) async throws
        -> ShareAcknowledgeResponse
    {
        try #require(try await client.call(broker, ShareAcknowledgeRequest(
            groupId: "queue", memberId: member, shareSessionEpoch: epoch,
            topics: [.init(topicId: topicId, partitions: [.init(partitionIndex: 0, acknowledgementBatches: acks.map {
                .init(firstOffset: $0.0, lastOffset: $0.1, acknowledgeTypes: [$0.2])
            })])]), version: 1))
    }

    @Test func sessionEpochsAcknowledgementsAndTheirErrors() async throws {
        let broker = try await admin.startBroker()
        try await admin.createTopic(broker, "orders")
        #expect(try await admin.incrementalAlter(broker, type: 32, "queue", [("share.auto.offset.reset", .set, "earliest")]) == 0)
        #expect(try await admin.produce(broker, "orders", count: 5) == 0)
        let id = try topicId(broker, "orders")

        #expect(try await fetch(broker, epoch: 1, topicId: id).errorCode == KafkaErrorCode.shareSessionNotFound.rawValue)
        #expect(try await fetch(broker, epoch: 0, topicId: id, acks: [0: [(0, 0, 1)]]).errorCode == KafkaErrorCode.invalidRequest.rawValue)
        let opened = try await fetch(broker, epoch: 0, topicId: id)
        #expect(opened.errorCode == 0 && opened.acquisitionLockTimeoutMs == 30_000)
        let data = try #require(opened.responses.first?.partitions.first)
        #expect(data.acquiredRecords.map { [$0.firstOffset, $0.lastOffset, Int64($0.deliveryCount)] } == [[0, 4, 1]])
        #expect((data.records?.readableBytes ?? 0) > 0)
        #expect(try await fetch(broker, epoch: 2, topicId: id).errorCode == KafkaErrorCode.invalidShareSessionEpoch.rawValue)
        #expect(try await acknowledge(broker, epoch: 0, topicId: id, []).errorCode == KafkaErrorCode.invalidShareSessionEpoch.rawValue)

        // Accept 0-1, release 2 (it comes back with count 2), reject 3-4; the next fetch carries them.
        let next = try await fetch(broker, epoch: 1, topicId: id, partitions: [0], acks: [0: [(0, 1, 1), (2, 2, 2), (3, 4, 3)]])
        let acked = try #require(next.responses.first?.partitions.first)
        #expect(acked.acknowledgeErrorCode == 0)
        #expect(acked.acquiredRecords.map { [$0.firstOffset, $0.lastOffset, Int64($0.deliveryCount)] } == [[2, 2, 2]])
        // Accepted records are not this member's any more.
        let again = try await acknowledge(broker, epoch: 2, topicId: id, [(0, 0, 1)])
        #expect(again.responses.first?.partitions.first?.errorCode == KafkaErrorCode.invalidRecordState.rawValue)
        let accepted = try await acknowledge(broker, epoch: 3, topicId: id, [(2, 2, 1)])
        #expect(accepted.errorCode == 0 && accepted.responses.first?.partitions.first?.errorCode == 0)

        // Nothing left: an empty (not null) record set would be answered, here nothing at all.
        let empty = try await fetch(broker, epoch: 4, topicId: id, partitions: [])
        #expect(empty.errorCode == 0 && empty.responses.allSatisfy { $0.partitions.allSatisfy { $0.records != nil } })
        // Closing, then the session is gone.
        #expect(try await acknowledge(broker, epoch: -1, topicId: id, []).errorCode == 0)
        #expect(try await fetch(broker, epoch: 5, topicId: id).errorCode == KafkaErrorCode.shareSessionNotFound.rawValue)
        try await broker.shutdown()
    }

    /// ShareFetch's `max_bytes` bounds the whole batches it carries, the first excepted (librdkafka's
    /// 0171 `fetch_max_bytes_small`): 1,000-byte records one to a batch with a 1,500-byte limit
    /// come one a fetch; a limit smaller than one batch still gets that batch; a limit of 0, none.
    @Test func maxBytesTakesWholeBatchesAndAlwaysTheFirst() async throws {
        let broker = try await admin.startBroker()
        try await admin.createTopic(broker, "orders")
        #expect(try await admin.incrementalAlter(broker, type: 32, "queue", [("share.auto.offset.reset", .set, "earliest")]) == 0)
        for index in 0..<3 {
            var builder = RecordBatchBuilder()
            builder.append(timestampMs: 1_000, key: nil, value: ByteBuffer(repeating: UInt8(index), count: 1_000))
            let produced = try #require(try await client.call(broker, ProduceRequest(acks: -1, timeoutMs: 1_000, topicData: [
                .init(name: "orders", partitionData: [.init(index: 0, records: try builder.build())]),
            ]), version: 9))
            #expect(produced.responses[0].partitionResponses[0].errorCode == 0)
        }
        let id = try topicId(broker, "orders")
        func acquired(_ response: ShareFetchResponse) -> [[Int64]] {
            (response.responses.first?.partitions.first?.acquiredRecords ?? []).map { [$0.firstOffset, $0.lastOffset] }
        }
        let first = try await fetch(broker, epoch: 0, topicId: id, maxBytes: 1_500)
        #expect(acquired(first) == [[0, 0]])
        #expect((first.responses.first?.partitions.first?.records?.readableBytes ?? 0) < 1_500)
        #expect(acquired(try await fetch(broker, epoch: 1, topicId: id, maxBytes: 100)) == [[1, 1]])
        // max_bytes 0 asks for none (librdkafka's 0180 `fetch.max.bytes=0`).
        #expect(acquired(try await fetch(broker, epoch: 2, topicId: id, maxBytes: 0)) == [])
        #expect(acquired(try await fetch(broker, epoch: 3, topicId: id, maxBytes: 1 << 20)) == [[2, 2]])
        try await broker.shutdown()
    }

    /// Lock durations are per group: a group's short locks end on time although another group's
    /// longer lock was set first (the timer was kept for the earlier lock, 30 s here). Another
    /// member's long poll is answered with the released records.
    @Test func aShorterLockOfAnotherGroupEndsOnTime() async throws {
        let broker = try await admin.startBroker(properties: ["group.share.min.record.lock.duration.ms": "1000"])
        try await admin.createTopic(broker, "orders")
        for group in ["slow", "queue"] {
            #expect(try await admin.incrementalAlter(broker, type: 32, group, [("share.auto.offset.reset", .set, "earliest")]) == 0)
        }
        #expect(try await admin.incrementalAlter(broker, type: 32, "queue", [("share.record.lock.duration.ms", .set, "1000")]) == 0)
        #expect(try await admin.produce(broker, "orders", count: 3) == 0)
        let id = try topicId(broker, "orders")
        func fetch(group: String, member: String, maxWaitMs: Int32 = 0) async throws -> [[Int64]] {
            let response = try #require(try await client.call(broker, ShareFetchRequest(
                groupId: group, memberId: member, shareSessionEpoch: 0, maxWaitMs: maxWaitMs, minBytes: 1, maxBytes: 1 << 20,
                maxRecords: 100, batchSize: 100, topics: [.init(topicId: id, partitions: [.init(partitionIndex: 0)])]), version: 1))
            return (response.responses.first?.partitions.first?.acquiredRecords ?? []).map { [$0.firstOffset, $0.lastOffset, Int64($0.deliveryCount)] }
        }
        #expect(try await fetch(group: "slow", member: "s1") == [[0, 2, 1]])
        #expect(try await fetch(group: "queue", member: "q1") == [[0, 2, 1]])
        // The long poll (20 s, before the slow group's 30 s lock ends) is answered by the release.
        #expect(try await fetch(group: "queue", member: "q2", maxWaitMs: 20_000) == [[0, 2, 2]])
        try await broker.shutdown()
    }

    @Test func theSessionLimitIsKept() async throws {
        let broker = try await admin.startBroker(properties: ["group.share.max.share.sessions": "1"])
        try await admin.createTopic(broker, "orders")
        let id = try topicId(broker, "orders")
        #expect(try await fetch(broker, member: "m1", epoch: 0, topicId: id).errorCode == 0)
        #expect(try await fetch(broker, member: "m2", epoch: 0, topicId: id).errorCode == KafkaErrorCode.shareSessionLimitReached.rawValue)
        #expect(try await fetch(broker, member: "m1", epoch: 0, topicId: id).errorCode == 0, "reopening one's own session is no new session")
        try await broker.shutdown()
    }

    @Test func offsetsAreDescribedResetAndDeletedAndSurviveARestart() async throws {
        let broker = try await admin.startBroker()
        try await admin.createTopic(broker, "orders")
        #expect(try await admin.incrementalAlter(broker, type: 32, "queue", [("share.auto.offset.reset", .set, "earliest")]) == 0)
        #expect(try await admin.incrementalAlter(broker, type: 32, "queue", [("share.record.lock.duration.ms", .set, "10")])
            == KafkaErrorCode.invalidConfig.rawValue)
        #expect(try await admin.produce(broker, "orders", count: 10) == 0)
        let id = try topicId(broker, "orders")
        let joined = try #require(try await client.call(broker, ShareGroupHeartbeatRequest(
            groupId: "queue", memberId: "m1", memberEpoch: 0, subscribedTopicNames: ["orders"]), version: 1))
        #expect(joined.errorCode == 0 && joined.assignment?.topicPartitions.first?.partitions == [0])
        _ = try await fetch(broker, epoch: 0, topicId: id)
        _ = try await acknowledge(broker, epoch: 1, topicId: id, [(0, 5, 1)])
        let busy = try #require(try await client.call(broker, AlterShareGroupOffsetsRequest(groupId: "queue", topics: [
            .init(topicName: "orders", partitions: [.init(partitionIndex: 0, startOffset: 0)]),
        ]), version: 0))
        #expect(busy.errorCode == KafkaErrorCode.nonEmptyGroup.rawValue, "not while the group has members")
        _ = try await client.call(broker, ShareGroupHeartbeatRequest(groupId: "queue", memberId: "m1", memberEpoch: -1), version: 1)

        func describe(_ broker: Broker) async throws -> DescribeShareGroupOffsetsResponse.DescribeShareGroupOffsetsResponsePartition? {
            let response = try await client.call(broker, DescribeShareGroupOffsetsRequest(groups: [
                .init(groupId: "queue", topics: [.init(topicName: "orders", partitions: [0])]),
            ]), version: 1)
            return response?.groups.first?.topics.first?.partitions.first
        }
        var described = try #require(try await describe(broker))
        #expect(described.startOffset == 6 && described.lag == 4)
        try await broker.shutdown()

        let restarted = try await admin.startBroker()
        described = try #require(try await describe(restarted))
        #expect(described.startOffset == 6 && described.lag == 4, "the acknowledgements were stored")
        let reset = try #require(try await client.call(restarted, AlterShareGroupOffsetsRequest(groupId: "queue", topics: [
            .init(topicName: "orders", partitions: [.init(partitionIndex: 0, startOffset: 2)]),
        ]), version: 0))
        #expect(reset.errorCode == 0 && reset.responses.first?.partitions.first?.errorCode == 0)
        described = try #require(try await describe(restarted))
        #expect(described.startOffset == 2 && described.lag == 8)
        let opened = try await fetch(restarted, member: "m2", epoch: 0, topicId: id)
        #expect(opened.responses.first?.partitions.first?.acquiredRecords.first?.firstOffset == 2, "fetching starts at the reset offset")
        let deleted = try #require(try await client.call(restarted, DeleteShareGroupOffsetsRequest(groupId: "queue", topics: [
            .init(topicName: "orders"),
        ]), version: 0))
        #expect(deleted.errorCode == 0 && deleted.responses.first?.errorCode == 0)
        #expect(try await describe(restarted)?.startOffset == -1, "no state any more")
        try await restarted.shutdown()
    }
}
