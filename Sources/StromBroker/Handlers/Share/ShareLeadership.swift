import KafkaProtocol
import StromStorage

/// Which share-partitions this broker can serve: only a partition's leader keeps its
/// share-partitions (KIP-932 has no fetching from followers).
struct ShareLeadership: Sendable {
    let broker: Broker

    struct Led {
        var topicPartition: TopicPartition
        var log: PartitionLog
        var leaderEpoch: Int32
    }

    func resolve(_ partition: ShareTopicPartition) -> Result<Led, KafkaErrorCode> {
        guard let name = broker.partitions.topicName(id: partition.topicId) else { return .failure(.unknownTopicId) }
        let topicPartition = TopicPartition(topic: name, partition: partition.partition)
        guard let log = broker.partitions.log(topic: name, partition: partition.partition) else {
            let exists = broker.partitions.partitionExists(topic: name, partition: partition.partition)
            return .failure(exists && broker.replicas != nil ? .notLeaderOrFollower : .unknownTopicOrPartition)
        }
        guard let replicas = broker.replicas else { return .success(Led(topicPartition: topicPartition, log: log, leaderEpoch: 0)) }
        if let error = replicas.leaderError(topicPartition, currentLeaderEpoch: -1) { return .failure(error) }
        guard case .leader(let epoch) = replicas.role(of: topicPartition) else { return .failure(.notLeaderOrFollower) }
        return .success(Led(topicPartition: topicPartition, log: log, leaderEpoch: epoch))
    }

    func error(_ partition: ShareTopicPartition) -> KafkaErrorCode? {
        if case .failure(let code) = resolve(partition) { return code }
        return nil
    }

    /// Where a client should go instead (KIP-951 hints), when a leader is known.
    func currentLeader(_ partition: ShareTopicPartition) -> LeaderEndpoint? {
        guard broker.cluster != nil, let name = broker.partitions.topicName(id: partition.topicId) else { return nil }
        return broker.partitions.currentLeader(topic: name, partition: partition.partition)
    }
}
