import KafkaProtocol
import NIOCore
import StromCluster
import StromStorage

/// Fetch from a follower (a replica id in the request, `ReplicaState` from v15): the leader's side
/// of Kafka's replication protocol.
///
/// For each partition this broker must lead it at the follower's `currentLeaderEpoch`; a follower
/// whose last fetched epoch diverges from the leader's history gets `divergingEpoch` (v12+) and
/// no records, and truncates; otherwise the fetch offset is recorded as the follower's durable end
/// (the high watermark may move, the follower may rejoin the ISR) and the records from there are
/// sent up to the log end, not the high watermark. A fetch with nothing new waits for an append.
struct ReplicaFetchHandler: Sendable {
    let partitions: any PartitionDirectory
    let replicas: ReplicaManager
    let waiters: HighWatermarkWaiters
    /// Called with an ISR expansion to commit (outside the request: the follower does not wait).
    let proposeInSyncReplicaChange: @Sendable (TopicPartition, PartitionStateChange) -> Void
    let maxWaitMsMax: Int32 = 30_000
    /// The longest a follower's fetch waits while a partition it replicates, led here since moments
    /// ago, is missing from it.
    static let newPartitionWait: Duration = .milliseconds(10)

    /// What ``HighWatermarkWaiters`` is notified with when this broker begins leading a partition
    /// `follower` replicates (an empty topic name: no real partition has one).
    static func newLeadershipKey(follower: Int32) -> TopicPartition { TopicPartition(topic: "", partition: follower) }
    var responseBytesMax = 57_671_680

    func fetch(_ request: FetchRequest, version: Int16) async -> FetchResult {
        let replica = version >= 15 ? request.replicaState.replicaId : request.replicaId
        let usesTopicIds = version >= 13
        var targets: [(topicIndex: Int, partitionIndex: Int, topicPartition: TopicPartition, log: PartitionLog)] = []
        var response = FetchResponse(errorCode: 0, sessionId: 0, responses: [])
        for (topicIndex, topic) in request.topics.enumerated() {
            let name = usesTopicIds ? partitions.topicName(id: topic.topicId) : topic.topic
            response.responses.append(.init(
                topic: usesTopicIds ? "" : topic.topic, topicId: usesTopicIds ? topic.topicId : .zero,
                partitions: topic.partitions.map {
                    .init(partitionIndex: $0.partition, highWatermark: -1, lastStableOffset: -1, logStartOffset: -1, records: ByteBuffer())
                }))
            for (partitionIndex, partition) in topic.partitions.enumerated() {
                guard let name, let log = partitions.log(topic: name, partition: partition.partition) else {
                    let code: KafkaErrorCode = usesTopicIds && name == nil ? .unknownTopicId : .unknownTopicOrPartition
                    response.responses[topicIndex].partitions[partitionIndex].errorCode = code.rawValue
                    continue
                }
                let topicPartition = TopicPartition(topic: name, partition: partition.partition)
                if let error = replicas.leaderError(topicPartition, currentLeaderEpoch: partition.currentLeaderEpoch) {
                    response.responses[topicIndex].partitions[partitionIndex].errorCode = error.rawValue
                    continue
                }
                targets.append((topicIndex, partitionIndex, topicPartition, log))
            }
        }
        // Record every follower position first: the high watermark moves on the fetch itself.
        var diverged: Set<TopicPartition> = []
        for target in targets {
            let partition = request.topics[target.topicIndex].partitions[target.partitionIndex]
            if version >= 12, let diverging = EpochDivergence.divergingEpoch(
                fetchOffset: partition.fetchOffset, lastFetchedEpoch: partition.lastFetchedEpoch,
                entries: target.log.epochEntries, logEndOffset: target.log.offsets.logEndOffset) {
                response.responses[target.topicIndex].partitions[target.partitionIndex].divergingEpoch =
                    .init(epoch: diverging.epoch, endOffset: diverging.endOffset)
                diverged.insert(target.topicPartition)
                continue
            }
            if let change = replicas.recordFollowerFetch(target.topicPartition, replica: replica, fetchOffset: partition.fetchOffset) {
                proposeInSyncReplicaChange(target.topicPartition, change)
            }
        }
        let clock = ContinuousClock()
        var deadline = clock.now + .milliseconds(Int64(min(max(request.maxWaitMs, 0), maxWaitMsMax)))
        // A partition refused (not led here yet, an older epoch) ends the wait, as in Kafka: the
        // follower retries once the metadata settles. A partition led here since moments ago
        // that the follower does not ask for yet shortens it: its next fetch will.
        let refused = targets.count < request.topics.reduce(0) { $0 + $1.partitions.count }
        if refused { deadline = clock.now }
        while true {
            var records: [FetchResult.PartitionRecords] = []
            var remaining = min(Int(request.maxBytes), responseBytesMax)
            for target in targets where !diverged.contains(target.topicPartition) {
                let partition = request.topics[target.topicIndex].partitions[target.partitionIndex]
                var result = response.responses[target.topicIndex].partitions[target.partitionIndex]
                let offsets = target.log.offsets
                result.highWatermark = offsets.highWatermark
                result.lastStableOffset = offsets.lastStableOffset
                result.logStartOffset = offsets.logStartOffset
                result.records = ByteBuffer()
                if partition.fetchOffset < offsets.logEndOffset && remaining > 0 {
                    do throws(LogReadError) {
                        let info = try target.log.read(
                            from: partition.fetchOffset, maxBytes: min(Int(partition.partitionMaxBytes), remaining),
                            minOneBatch: records.isEmpty, upToLogEnd: true)
                        if !info.slices.isEmpty {
                            remaining -= info.sizeBytes
                            records.append(.init(topicIndex: target.topicIndex, partitionIndex: target.partitionIndex, slices: info.slices))
                        }
                    } catch {
                        result.errorCode = error.kafkaErrorCode.rawValue
                    }
                } else if partition.fetchOffset > offsets.logEndOffset {
                    result.errorCode = KafkaErrorCode.offsetOutOfRange.rawValue
                }
                response.responses[target.topicIndex].partitions[target.partitionIndex] = result
            }
            let bytes = records.reduce(0) { $0 + $1.sizeBytes }
            if bytes >= max(Int(request.minBytes), 1) || !diverged.isEmpty || clock.now >= deadline || targets.isEmpty {
                return FetchResult(response: response, records: records)
            }
            if replicas.awaitsNewPartition(follower: replica, fetched: { targets.map(\.topicPartition) }) {
                deadline = min(deadline, clock.now + Self.newPartitionWait)
            }
            let watched = targets.map { ($0.topicPartition, $0.log, request.topics[$0.topicIndex].partitions[$0.partitionIndex].fetchOffset) }
            let replicas = self.replicas
            // Also woken when this broker begins leading a partition the follower replicates.
            await waiters.wait(for: Set(watched.map(\.0)).union([Self.newLeadershipKey(follower: replica)]), timeout: deadline - clock.now) {
                watched.contains { $0.1.offsets.logEndOffset > $0.2 || replicas.leaderError($0.0, currentLeaderEpoch: -1) != nil }
            }
            if Task.isCancelled { return FetchResult(response: response, records: []) }
        }
    }
}

