import KafkaProtocol
import StromStorage

/// OffsetForLeaderEpoch (KIP-101, KIP-279, KIP-320): for each partition, the largest leader epoch
/// at or below the one asked that this leader knows, and the offset where the next epoch began (the
/// log end offset for the current epoch). A follower truncates to it before fetching; a consumer
/// compares it with its position to detect a log truncated under it. Only the leader answers, at
/// the caller's `currentLeaderEpoch`.
struct OffsetForLeaderEpochHandler: Sendable {
    let partitions: any PartitionDirectory
    /// In a cluster: who leads what. Nil alone (this broker leads everything).
    var replicas: ReplicaManager?

    func handle(_ request: OffsetForLeaderEpochRequest) -> OffsetForLeaderEpochResponse {
        OffsetForLeaderEpochResponse(topics: request.topics.map { topic in
            .init(topic: topic.topic, partitions: topic.partitions.map { partition in
                var result = OffsetForLeaderEpochResponse.EpochEndOffset(partition: partition.partition, leaderEpoch: -1, endOffset: -1)
                guard let log = partitions.log(topic: topic.topic, partition: partition.partition) else {
                    result.errorCode = KafkaErrorCode.unknownTopicOrPartition.rawValue
                    return result
                }
                if let replicas, let error = replicas.leaderError(log.topicPartition, currentLeaderEpoch: partition.currentLeaderEpoch) {
                    result.errorCode = error.rawValue
                    return result
                }
                if replicas == nil, partition.currentLeaderEpoch >= 0, partition.currentLeaderEpoch != log.leaderEpoch {
                    result.errorCode = (partition.currentLeaderEpoch < log.leaderEpoch ? KafkaErrorCode.fencedLeaderEpoch : .unknownLeaderEpoch).rawValue
                    return result
                }
                let (epoch, endOffset) = LeaderEpochLookup.endOffset(
                    forEpoch: partition.leaderEpoch, entries: log.epochEntries, logEndOffset: log.offsets.logEndOffset)
                result.leaderEpoch = epoch
                result.endOffset = endOffset
                return result
            })
        })
    }
}
