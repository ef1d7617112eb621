import KafkaProtocol

/// The requests a transactional producer sends its transaction coordinator during a transaction:
/// AddPartitionsToTxn (v0-3 for one transaction; v4+ batched, also KIP-890's verify-only checks
/// from partition leaders), AddOffsetsToTxn (the group's `__consumer_offsets` partition joins the
/// transaction) and EndTxn.
struct TransactionCoordinatorHandlers: Sendable {
    let coordinator: TransactionCoordinator
    /// The `__consumer_offsets` partition of a group (nil: it cannot be known now).
    let offsetsPartition: @Sendable (String) async -> Int32?

    func addPartitions(_ request: AddPartitionsToTxnRequest, version: Int16) async -> AddPartitionsToTxnResponse {
        if version <= 3 {
            let results = await add(
                transactionalId: request.v3AndBelowTransactionalId, producerId: request.v3AndBelowProducerId,
                epoch: request.v3AndBelowProducerEpoch, verifyOnly: false, topics: request.v3AndBelowTopics)
            return AddPartitionsToTxnResponse(resultsByTopicV3AndBelow: results)
        }
        var response = AddPartitionsToTxnResponse()
        for transaction in request.transactions {
            let results = await add(
                transactionalId: transaction.transactionalId, producerId: transaction.producerId, epoch: transaction.producerEpoch,
                verifyOnly: transaction.verifyOnly, topics: transaction.topics)
            response.resultsByTransaction.append(.init(transactionalId: transaction.transactionalId, topicResults: results))
        }
        return response
    }

    private func add(
        transactionalId: String, producerId: Int64, epoch: Int16, verifyOnly: Bool, topics: [AddPartitionsToTxnRequest.AddPartitionsToTxnTopic]
    ) async -> [AddPartitionsToTxnResponse.AddPartitionsToTxnTopicResult] {
        let partitions = topics.flatMap { topic in topic.partitions.map { TransactionMetadata.TopicPartitionName(topic: topic.name, partition: $0) } }
        let codes: [TransactionMetadata.TopicPartitionName: KafkaErrorCode]
        if verifyOnly {
            codes = await coordinator.verify(transactionalId: transactionalId, producerId: producerId, epoch: epoch, partitions: partitions)
        } else {
            let code = await coordinator.addPartitions(transactionalId: transactionalId, producerId: producerId, epoch: epoch, partitions: partitions)
            codes = Dictionary(partitions.map { ($0, code) }, uniquingKeysWith: { first, _ in first })
        }
        return topics.map { topic in
            .init(name: topic.name, resultsByPartition: topic.partitions.map { partition in
                .init(partitionIndex: partition, partitionErrorCode: (codes[.init(topic: topic.name, partition: partition)] ?? .none).rawValue)
            })
        }
    }

    func addOffsets(_ request: AddOffsetsToTxnRequest) async -> AddOffsetsToTxnResponse {
        guard let partition = await offsetsPartition(request.groupId) else {
            return AddOffsetsToTxnResponse(errorCode: KafkaErrorCode.coordinatorNotAvailable.rawValue)
        }
        let code = await coordinator.addPartitions(
            transactionalId: request.transactionalId, producerId: request.producerId, epoch: request.producerEpoch,
            partitions: [.init(topic: GroupCoordinatorSettings.offsetsTopic, partition: partition)])
        return AddOffsetsToTxnResponse(errorCode: code.rawValue)
    }

    func endTransaction(_ request: EndTxnRequest) async -> EndTxnResponse {
        let code = await coordinator.endTransaction(
            transactionalId: request.transactionalId, producerId: request.producerId, epoch: request.producerEpoch, commit: request.committed)
        return EndTxnResponse(errorCode: code.rawValue, producerId: -1, producerEpoch: -1)
    }
}
