import KafkaProtocol
import NIOCore
import StromStorage

/// ShareFetch (KIP-932) on a partition leader: moves the member's share session on (epoch 0
/// opens it, -1 closes it), applies the acknowledgements riding on the request, then acquires
/// records from every partition of the session — not only those the request names — and
/// long-polls until some are acquired, woken by appends and by records released again.
struct ShareFetchHandler: Sendable {
    let broker: Broker
    let connectionId: UInt64
    /// Upper bound on `maxWaitMs` a client may ask for.
    static let maxWaitMsMax: Int32 = 30_000
    /// `max.poll.records`'s default, for a request that names no limit.
    static let recordsMaxDefault = 500

    func handle(_ request: ShareFetchRequest, version: Int16) async -> ShareFetchResponse {
        let lockDurationMs = broker.shareSettings(group: request.groupId ?? "").partition.lockDurationMs
        var response = ShareFetchResponse(acquisitionLockTimeoutMs: Int32(clamping: lockDurationMs), responses: [])
        guard let groupId = request.groupId, !groupId.isEmpty, let memberId = request.memberId, !memberId.isEmpty else {
            response.errorCode = KafkaErrorCode.invalidRequest.rawValue
            response.errorMessage = "GroupId and MemberId must be set"
            return response
        }
        let manager = broker.shareManager
        let sessionKey = ShareSessions.Key(groupId: groupId, memberId: memberId)
        let named = request.topics.flatMap { topic in topic.partitions.map { ShareTopicPartition(topicId: topic.topicId, partition: $0.partitionIndex) } }
        let acknowledgements = Dictionary(
            request.topics.flatMap { topic in topic.partitions.compactMap { partition in
                partition.acknowledgementBatches.isEmpty ? nil : (
                    ShareTopicPartition(topicId: topic.topicId, partition: partition.partitionIndex),
                    partition.acknowledgementBatches.map { (firstOffset: $0.firstOffset, lastOffset: $0.lastOffset, types: $0.acknowledgeTypes) })
            } },
            uniquingKeysWith: { $0 + $1 })
        let forgotten = Set(request.forgottenTopicsData.flatMap { topic in topic.partitions.map { ShareTopicPartition(topicId: topic.topicId, partition: $0) } })
        var results = ShareFetchResults()

        let sessionPartitions: [ShareTopicPartition]
        switch request.shareSessionEpoch {
        case ShareSessions.openEpoch:
            // A new session carries no acknowledgements: nothing was acquired in it yet.
            guard acknowledgements.isEmpty else { return failed(response, .invalidRequest, "a new share session carries no acknowledgements") }
            let code = await manager.openSession(sessionKey, partitions: named, connectionId: connectionId)
            guard code == .none else { return failed(response, code, nil) }
            sessionPartitions = named.filter { !forgotten.contains($0) }
        case ShareSessions.closeEpoch:
            guard forgotten.isEmpty else { return failed(response, .invalidRequest, "a closing share session adds or forgets nothing") }
            guard await manager.hasSession(sessionKey) else { return failed(response, .shareSessionNotFound, nil) }
            let written = await acknowledge(acknowledgements, memberId: memberId, groupId: groupId, renewAllowed: request.isRenewAck)
            await record(written, into: &results)
            _ = await manager.closeSession(sessionKey)
            response.responses = results.topics(order: Array(acknowledgements.keys).sorted())
            return response
        default:
            switch await manager.advanceSession(sessionKey, epoch: request.shareSessionEpoch, added: named, forgotten: forgotten) {
            case .failure(let code): return failed(response, code, nil)
            case .success(let session): sessionPartitions = session.partitions
            }
        }
        // Acknowledgements are applied first (their records make room), written while records are
        // acquired, and answered once written.
        let written = await acknowledge(acknowledgements, memberId: memberId, groupId: groupId, renewAllowed: request.isRenewAck)
        if !request.isRenewAck {
            await acquire(request, groupId: groupId, memberId: memberId, partitions: sessionPartitions, into: &results)
        }
        await record(written, into: &results)
        response.responses = results.topics(order: sessionPartitions + acknowledgements.keys.sorted())
        if broker.cluster != nil { response.nodeEndpoints = results.leaderEndpoints }
        return response
    }

    private func failed(_ response: ShareFetchResponse, _ code: KafkaErrorCode, _ message: String?) -> ShareFetchResponse {
        var response = response
        response.errorCode = code.rawValue
        response.errorMessage = message
        return response
    }

    /// Applies each partition's acknowledgements; the tasks end once each partition's state is written.
    private func acknowledge(
        _ acknowledgements: [ShareTopicPartition: [(firstOffset: Int64, lastOffset: Int64, types: [Int8])]], memberId: String, groupId: String,
        renewAllowed: Bool
    ) async -> [(ShareTopicPartition, Task<KafkaErrorCode, Never>)] {
        var written: [(ShareTopicPartition, Task<KafkaErrorCode, Never>)] = []
        for (partition, batches) in acknowledgements.sorted(by: { $0.key < $1.key }) {
            if let error = ShareLeadership(broker: broker).error(partition) {
                written.append((partition, Task { error }))
            } else {
                written.append((partition, await broker.shareManager.applyAcknowledgements(
                    ShareStateKey(groupId: groupId, topicId: partition.topicId, partition: partition.partition),
                    memberId: memberId, batches: batches, renewAllowed: renewAllowed)))
            }
        }
        return written
    }

    private func record(_ written: [(ShareTopicPartition, Task<KafkaErrorCode, Never>)], into results: inout ShareFetchResults) async {
        for (partition, write) in written {
            let code = await write.value
            results.update(partition) { $0.acknowledgeErrorCode = code.rawValue }
        }
    }

    private func acquire(
        _ request: ShareFetchRequest, groupId: String, memberId: String, partitions: [ShareTopicPartition], into results: inout ShareFetchResults
    ) async {
        let manager = broker.shareManager
        let leadership = ShareLeadership(broker: broker)
        var targets: [(partition: ShareTopicPartition, key: ShareStateKey, topicPartition: TopicPartition, log: PartitionLog, leaderEpoch: Int32)] = []
        for partition in partitions {
            switch leadership.resolve(partition) {
            case .failure(let code):
                results.update(partition) { $0.errorCode = code.rawValue }
                if let leader = leadership.currentLeader(partition) { results.hint(partition, leader) }
            case .success(let led):
                targets.append((partition, ShareStateKey(groupId: groupId, topicId: partition.topicId, partition: partition.partition),
                                led.topicPartition, led.log, led.leaderEpoch))
            }
        }
        guard !targets.isEmpty else { return }
        // Each fetch starts at another partition, so that one with a backlog does not starve the rest.
        let first = Int(UInt32(bitPattern: request.shareSessionEpoch)) % targets.count
        targets = Array(targets[first...] + targets[..<first])
        let clock = ContinuousClock()
        let deadline = clock.now + .milliseconds(Int64(min(max(request.maxWaitMs, 0), Self.maxWaitMsMax)))
        var recordsLeft = request.maxRecords > 0 ? Int(request.maxRecords) : Self.recordsMaxDefault
        // max_bytes 0 asks for no records (Kafka answers so; librdkafka's 0180), unlike a Fetch's.
        let bytesMax = min(Int(max(request.maxBytes, 0)), broker.configuration.fetchResponseBytesMax)
        var bytesLeft = bytesMax
        while true {
            let releasesSeen = manager.releases.value
            let highWatermarks = targets.map { $0.log.offsets.highWatermark }
            var acquiredAny = false
            for target in targets where recordsLeft > 0 && bytesLeft > 0 {
                switch await manager.acquire(
                    target.key, topicPartition: target.topicPartition, log: target.log, leaderEpoch: target.leaderEpoch,
                    memberId: memberId, recordsMax: recordsLeft, bytesMax: bytesLeft, firstBatchMayExceed: bytesLeft == bytesMax) {
                case .failure(let code):
                    results.update(target.partition) { $0.errorCode = code.rawValue }
                case .success(let acquired) where !acquired.ranges.isEmpty:
                    acquiredAny = true
                    recordsLeft -= acquired.ranges.reduce(0) { $0 + Int($1.lastOffset - $1.firstOffset + 1) }
                    bytesLeft -= acquired.records.readableBytes
                    results.update(target.partition) { data in
                        var records = data.records ?? ByteBuffer()
                        records.append(acquired.records)
                        data.records = records
                        data.acquiredRecords += acquired.ranges.map { .init(firstOffset: $0.firstOffset, lastOffset: $0.lastOffset, deliveryCount: $0.deliveryCount) }
                    }
                case .success:
                    break
                }
            }
            if acquiredAny || results.hasErrors || clock.now >= deadline || Task.isCancelled { return }
            let logs = targets.map(\.log)
            await broker.waiters.wait(for: Set(targets.map(\.topicPartition)), timeout: deadline - clock.now) {
                manager.releases.value != releasesSeen || zip(logs, highWatermarks).contains { $0.offsets.highWatermark > $1 }
            }
        }
    }
}

/// A ShareFetch response being assembled, by share-partition.
struct ShareFetchResults {
    private var partitions: [ShareTopicPartition: ShareFetchResponse.PartitionData] = [:]
    private var endpoints: [Int32: LeaderEndpoint] = [:]

    var hasErrors: Bool { partitions.values.contains { $0.errorCode != 0 } }

    mutating func update(_ partition: ShareTopicPartition, _ body: (inout ShareFetchResponse.PartitionData) -> Void) {
        // An empty record set, never a null one: librdkafka stops reading the whole response at a null one.
        var data = partitions[partition] ?? .init(
            partitionIndex: partition.partition, currentLeader: .init(leaderId: -1, leaderEpoch: -1), records: ByteBuffer(), acquiredRecords: [])
        body(&data)
        partitions[partition] = data
    }

    mutating func hint(_ partition: ShareTopicPartition, _ leader: LeaderEndpoint) {
        update(partition) { $0.currentLeader = .init(leaderId: leader.nodeId, leaderEpoch: leader.leaderEpoch) }
        endpoints[leader.nodeId] = leader
    }

    var leaderEndpoints: [ShareFetchResponse.NodeEndpoint] {
        endpoints.values.sorted { $0.nodeId < $1.nodeId }.map { .init(nodeId: $0.nodeId, host: $0.host, port: $0.port, rack: $0.rack) }
    }

    /// The partitions with something to say, grouped by topic in the order given.
    func topics(order: [ShareTopicPartition]) -> [ShareFetchResponse.ShareFetchableTopicResponse] {
        var topics: [ShareFetchResponse.ShareFetchableTopicResponse] = []
        var seen: Set<ShareTopicPartition> = []
        for partition in order where !seen.contains(partition) {
            seen.insert(partition)
            guard let data = partitions[partition] else { continue }
            if let index = topics.firstIndex(where: { $0.topicId == partition.topicId }) {
                topics[index].partitions.append(data)
            } else {
                topics.append(.init(topicId: partition.topicId, partitions: [data]))
            }
        }
        return topics
    }
}
