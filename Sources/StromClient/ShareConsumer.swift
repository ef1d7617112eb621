import KafkaProtocol
import Foundation

/// A member of a share group (KIP-932) reading one topic: it joins with ShareGroupHeartbeat, fetches
/// with ShareFetch from the leaders of the partitions it is assigned (one share session per
/// leader), and acknowledges each record it received — accepted, released for redelivery, or
/// rejected. Acknowledgements ride on the next ShareFetch to that leader, or go alone with
/// ``commit()``; ``close()`` sends what is left and leaves the group.
///
/// ```swift
/// let consumer = ShareConsumer(client: client, group: "orders-workers", topic: "orders")
/// for record in try await consumer.poll() {
///     handle(record.record)
///     await consumer.acknowledge(record, .accept)
/// }
/// try await consumer.close()
/// ```
public actor ShareConsumer {
    /// A record and how many times it has been delivered (1 the first time).
    public struct Delivery: Sendable {
        public var record: ConsumerRecord
        public var deliveryCount: Int16
    }

    /// Kafka's AcknowledgeType values a consumer may send.
    public enum Acknowledgement: Int8, Sendable {
        case accept = 1
        case release = 2
        case reject = 3
    }

    /// One share session with one leader.
    private struct Session {
        var connection: KafkaClientConnection
        /// The epoch of the next request (0 opens the session).
        var nextEpoch: Int32 = 0
        /// The partitions the session fetches from, as the broker knows them.
        var partitions: Set<Int32> = []
    }

    public let groupId: String
    public let topic: String
    /// Generated here, as KIP-932 members do: 22 characters of base64.
    public let memberId: String
    private let client: KafkaClient
    private var memberEpoch: Int32 = 0
    private var heartbeatIntervalMs: Int64 = 0
    private var nextHeartbeat = ContinuousClock.now
    private var assigned: Set<Int32> = []
    private var topicId: KafkaUUID?
    private var sessions: [Int32: Session] = [:]
    /// Acknowledgements not sent yet, by partition: (offset, type) in the order given.
    private var pending: [Int32: [(offset: Int64, type: Int8)]] = [:]

    public init(client: KafkaClient, group: String, topic: String) {
        self.client = client
        self.groupId = group
        self.topic = topic
        var uuid = UUID().uuid
        let bytes = withUnsafeBytes(of: &uuid) { Data($0) }
        self.memberId = String(bytes.base64EncodedString().prefix(22))
    }

    /// Heartbeats when due, then fetches from every assigned partition's leader (sending the
    /// acknowledgements made since), waiting up to `maxWaitMs` for records.
    public func poll(maxWaitMs: Int32 = 500, maxRecords: Int32 = 500) async throws(StromClientError) -> [Delivery] {
        if ContinuousClock.now >= nextHeartbeat { try await heartbeat() }
        guard let topicId, !assigned.isEmpty else {
            // Nothing to fetch yet: wait a little for the assignment rather than spin.
            try? await Task.sleep(for: .milliseconds(Int64(min(maxWaitMs, 200))))
            return []
        }
        let description = try await client.topicDescription(topic)
        var byLeader: [Int32: [Int32]] = [:]
        for partition in assigned.sorted() {
            guard let leader = description.partition(partition)?.leaderId, leader >= 0 else { continue }
            byLeader[leader, default: []].append(partition)
        }
        var deliveries: [Delivery] = []
        for (leader, partitions) in byLeader.sorted(by: { $0.key < $1.key }) {
            deliveries += try await fetch(from: leader, partitions: partitions, topicId: topicId, maxWaitMs: maxWaitMs / Int32(byLeader.count),
                                          maxRecords: maxRecords)
        }
        return deliveries
    }

    /// Records how `delivery` was handled; sent with the next fetch or ``commit()``.
    public func acknowledge(_ delivery: Delivery, _ type: Acknowledgement) {
        pending[delivery.record.partition, default: []].append((delivery.record.offset, type.rawValue))
    }

    /// Sends the acknowledgements made so far (ShareAcknowledge to each leader) and waits until
    /// they are stored; throws the first partition's error.
    public func commit() async throws(StromClientError) {
        try await acknowledgeAlone(closing: false)
    }

    /// Sends what is left to acknowledge, ends the share sessions and leaves the group.
    public func close() async throws(StromClientError) {
        defer { sessions.removeAll() }
        try await acknowledgeAlone(closing: true)
        let connection = try await client.coordinator(ofGroup: groupId)
        _ = try await connection.send(ShareGroupHeartbeatRequest(groupId: groupId, memberId: memberId, memberEpoch: -1))
    }

    // MARK: Membership

    private func heartbeat() async throws(StromClientError) {
        let connection = try await client.coordinator(ofGroup: groupId)
        let joining = memberEpoch == 0
        let response = try await connection.send(ShareGroupHeartbeatRequest(
            groupId: groupId, memberId: memberId, memberEpoch: memberEpoch, subscribedTopicNames: joining ? [topic] : nil))
        switch KafkaErrorCode(rawValue: response.errorCode) {
        case .none:
            break
        case .fencedMemberEpoch, .unknownMemberId:
            // Out of the group (a lost answer, an expired session): join again at once.
            memberEpoch = 0
            assigned = []
            nextHeartbeat = .now
            return
        default:
            throw .kafka(KafkaErrorCode(rawValue: response.errorCode), resource: "share group \"\(groupId)\"", message: response.errorMessage)
        }
        memberEpoch = response.memberEpoch
        heartbeatIntervalMs = Int64(max(response.heartbeatIntervalMs, 100))
        nextHeartbeat = .now + .milliseconds(heartbeatIntervalMs)
        if let assignment = response.assignment {
            let description = try await client.describeTopic(topic)
            topicId = description.topicId
            assigned = Set(assignment.topicPartitions.filter { $0.topicId == description.topicId }.flatMap(\.partitions))
        }
    }

    // MARK: Fetching

    private func fetch(
        from leader: Int32, partitions: [Int32], topicId: KafkaUUID, maxWaitMs: Int32, maxRecords: Int32
    ) async throws(StromClientError) -> [Delivery] {
        var session = try await session(with: leader)
        let wanted = Set(partitions)
        var request = ShareFetchRequest(
            groupId: groupId, memberId: memberId, shareSessionEpoch: session.nextEpoch, maxWaitMs: maxWaitMs, minBytes: 1,
            maxBytes: 52_428_800, maxRecords: maxRecords, batchSize: maxRecords)
        // A new session names every partition; later requests only what changed or carries acks.
        var named = session.nextEpoch == 0 ? wanted : wanted.subtracting(session.partitions)
        if session.nextEpoch != 0 { named.formUnion(pending.keys.filter { session.partitions.contains($0) }) }
        var sentAcks: [Int32: [(offset: Int64, type: Int8)]] = [:]
        request.topics = named.isEmpty ? [] : [.init(topicId: topicId, partitions: named.sorted().map { partition in
            var entry = ShareFetchRequest.FetchPartition(partitionIndex: partition)
            if session.nextEpoch != 0, let acks = pending[partition] {
                entry.acknowledgementBatches = Self.batches(acks)
                sentAcks[partition] = acks
            }
            return entry
        })]
        let forgotten = session.partitions.subtracting(wanted)
        if session.nextEpoch != 0, !forgotten.isEmpty { request.forgottenTopicsData = [.init(topicId: topicId, partitions: forgotten.sorted())] }
        for partition in sentAcks.keys { pending[partition] = nil }
        let response = try await session.connection.send(request, timeout: .milliseconds(Int64(maxWaitMs) + 30_000))
        switch KafkaErrorCode(rawValue: response.errorCode) {
        case .none:
            session.nextEpoch = Self.epoch(after: session.nextEpoch)
            session.partitions = wanted
            sessions[leader] = session
        case .shareSessionNotFound, .invalidShareSessionEpoch:
            // The broker lost the session: start a new one next time (the acks sent are lost: their
            // records come back when their locks expire).
            sessions[leader]?.nextEpoch = 0
            return []
        default:
            throw .kafka(KafkaErrorCode(rawValue: response.errorCode), resource: "share group \"\(groupId)\"", message: response.errorMessage)
        }
        var deliveries: [Delivery] = []
        for topic in response.responses where topic.topicId == topicId {
            for partition in topic.partitions {
                if partition.errorCode != 0 {
                    let code = KafkaErrorCode(rawValue: partition.errorCode)
                    if code == .notLeaderOrFollower || code == .unknownTopicOrPartition { await client.forgetTopics([self.topic]) }
                    continue
                }
                let (records, decodedEnd) = try FetchedBatchDecoder.decode(
                    partition.records, topic: self.topic, partition: partition.partitionIndex, fetchOffset: 0)
                let present = Set(records.map(\.offset))
                for range in partition.acquiredRecords {
                    for record in records where record.offset >= range.firstOffset && record.offset <= range.lastOffset {
                        deliveries.append(Delivery(record: record, deliveryCount: range.deliveryCount))
                    }
                    for offset in range.firstOffset...range.lastOffset where !present.contains(offset) {
                        // Inside the batches received an offset without a record (compacted, a
                        // marker) is a gap; past them it was not sent whole: offered again.
                        let type: Int8 = offset < decodedEnd ? 0 : Acknowledgement.release.rawValue
                        pending[partition.partitionIndex, default: []].append((offset, type))
                    }
                }
            }
        }
        return deliveries.sorted { ($0.record.partition, $0.record.offset) < ($1.record.partition, $1.record.offset) }
    }

    private func session(with leader: Int32) async throws(StromClientError) -> Session {
        let connection = try await client.connection(toNode: leader)
        if let existing = sessions[leader], existing.connection === connection { return existing }
        // A new connection: the broker ended the old session with the old connection.
        return Session(connection: connection)
    }

    private func acknowledgeAlone(closing: Bool) async throws(StromClientError) {
        guard let topicId else { return }
        let description = try await client.topicDescription(topic)
        var firstError: StromClientError?
        for (leader, var session) in sessions.sorted(by: { $0.key < $1.key }) where session.nextEpoch != 0 {
            let partitions = pending.keys.filter { session.partitions.contains($0) && description.partition($0)?.leaderId == leader }
            guard !partitions.isEmpty || closing else { continue }
            let request = ShareAcknowledgeRequest(
                groupId: groupId, memberId: memberId, shareSessionEpoch: closing ? -1 : session.nextEpoch,
                topics: partitions.isEmpty ? [] : [.init(topicId: topicId, partitions: partitions.sorted().map {
                    .init(partitionIndex: $0, acknowledgementBatches: Self.batches(pending[$0] ?? []))
                })])
            for partition in partitions { pending[partition] = nil }
            let response = try await session.connection.send(request)
            if let error = StromClientError.check(response.errorCode, resource: "share group \"\(groupId)\"", message: response.errorMessage) {
                firstError = firstError ?? error
                continue
            }
            session.nextEpoch = closing ? 0 : Self.epoch(after: session.nextEpoch)
            sessions[leader] = session
            for partition in response.responses.flatMap(\.partitions) {
                let resource = "share group \"\(groupId)\" topic \"\(topic)\" partition \(partition.partitionIndex)"
                if let error = StromClientError.check(partition.errorCode, resource: resource, message: partition.errorMessage) {
                    firstError = firstError ?? error
                }
            }
        }
        if let firstError { throw firstError }
    }

    /// Acknowledgements as Kafka's batches: runs of consecutive offsets of one type.
    static func batches(_ acks: [(offset: Int64, type: Int8)]) -> [ShareFetchRequest.AcknowledgementBatch] {
        var batches: [ShareFetchRequest.AcknowledgementBatch] = []
        for ack in acks.sorted(by: { $0.offset < $1.offset }) {
            if var last = batches.last, last.lastOffset == ack.offset - 1, last.acknowledgeTypes == [ack.type] {
                last.lastOffset = ack.offset
                batches[batches.count - 1] = last
            } else if batches.last?.lastOffset != ack.offset {
                batches.append(.init(firstOffset: ack.offset, lastOffset: ack.offset, acknowledgeTypes: [ack.type]))
            }
        }
        return batches
    }

    static func batches(_ acks: [(offset: Int64, type: Int8)]) -> [ShareAcknowledgeRequest.AcknowledgementBatch] {
        let fetchBatches: [ShareFetchRequest.AcknowledgementBatch] = batches(acks)
        return fetchBatches.map { .init(firstOffset: $0.firstOffset, lastOffset: $0.lastOffset, acknowledgeTypes: $0.acknowledgeTypes) }
    }

    static func epoch(after epoch: Int32) -> Int32 { epoch == Int32.max ? 1 : epoch + 1 }
}
