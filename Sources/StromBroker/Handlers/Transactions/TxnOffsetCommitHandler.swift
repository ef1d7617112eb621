import KafkaProtocol

/// TxnOffsetCommit: a transactional producer commits a consumer group's offsets as part of its
/// transaction (`send_offsets_to_transaction`); the group's coordinator keeps them pending until
/// the transaction's marker. Partitions of unknown topics are refused.
struct TxnOffsetCommitHandler: Sendable {
    let broker: Broker

    func handle(_ request: TxnOffsetCommitRequest) async -> TxnOffsetCommitResponse {
        await broker.groupCoordinator.commitTransactionalOffsets(
            request, partitionExists: OffsetCommitHandler.partitionExists(request.topics.map(\.name), in: broker))
    }
}
