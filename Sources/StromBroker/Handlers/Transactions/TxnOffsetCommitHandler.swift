import KafkaProtocol

/// TxnOffsetCommit: a transactional producer commits a consumer group's offsets as part of its
/// transaction (`send_offsets_to_transaction`); the group's coordinator keeps them pending until
/// the transaction's marker. Partitions of unknown topics are refused.
struct TxnOffsetCommitHandler: Sendable {
    let broker: Broker

    func handle(_ request: TxnOffsetCommitRequest) async -> TxnOffsetCommitResponse {
        let image = broker.partitions.current
        let partitionCounts = Dictionary(uniqueKeysWithValues: request.topics.compactMap { topic in
            image.topic(named: topic.name).map { (topic.name, $0.partitionCount) }
        })
        return await broker.groupCoordinator.commitTransactionalOffsets(request) { topic, partition in
            partition >= 0 && partition < (partitionCounts[topic] ?? 0)
        }
    }
}
