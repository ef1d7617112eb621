import KafkaProtocol

/// OffsetCommit: the group's coordinator stores the offsets in `__consumer_offsets` and answers
/// once they are durable. Partitions of unknown topics are refused.
struct OffsetCommitHandler: Sendable {
    let broker: Broker

    func handle(_ request: OffsetCommitRequest) async -> OffsetCommitResponse {
        let image = broker.partitions.current
        let partitionCounts = Dictionary(uniqueKeysWithValues: request.topics.compactMap { topic in
            image.topic(named: topic.name).map { (topic.name, $0.partitionCount) }
        })
        return await broker.groupCoordinator.commitOffsets(request) { topic, partition in
            partition >= 0 && partition < (partitionCounts[topic] ?? 0)
        }
    }
}
