import KafkaProtocol

/// OffsetCommit: the group's coordinator stores the offsets in `__consumer_offsets` and answers
/// once they are durable. Partitions of unknown topics are refused.
struct OffsetCommitHandler: Sendable {
    let broker: Broker

    func handle(_ request: OffsetCommitRequest) async -> OffsetCommitResponse {
        await broker.groupCoordinator.commitOffsets(request, partitionExists: Self.partitionExists(request.topics.map(\.name), in: broker))
    }

    /// Whether a partition of one of `topics` exists now (what OffsetCommit and TxnOffsetCommit
    /// may store offsets for).
    static func partitionExists(_ topics: [String], in broker: Broker) -> @Sendable (String, Int32) -> Bool {
        let image = broker.partitions.current
        let partitionCounts = Dictionary(topics.compactMap { name in image.topic(named: name).map { (name, $0.partitionCount) } },
                                         uniquingKeysWith: { first, _ in first })
        return { topic, partition in partition >= 0 && partition < (partitionCounts[topic] ?? 0) }
    }
}
