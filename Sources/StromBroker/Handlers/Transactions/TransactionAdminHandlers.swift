import KafkaProtocol
import StromStorage

/// What `kafka-transactions.sh` (and `strom transactions`, `strom producers`) ask:
/// DescribeProducers (a partition leader's producers and their open transactions),
/// DescribeTransactions and ListTransactions (a transaction coordinator's transactional ids;
/// the admin client asks every broker for the list).
struct TransactionAdminHandlers: Sendable {
    let broker: Broker

    func describeProducers(_ request: DescribeProducersRequest) -> DescribeProducersResponse {
        DescribeProducersResponse(topics: request.topics.map { topic in
            .init(name: topic.name, partitions: topic.partitionIndexes.map { index in
                var result = DescribeProducersResponse.PartitionResponse(partitionIndex: index)
                guard let log = broker.partitions.log(topic: topic.name, partition: index) else {
                    let elsewhere = broker.partitions.partitionExists(topic: topic.name, partition: index)
                    result.errorCode = (elsewhere ? KafkaErrorCode.notLeaderOrFollower : .unknownTopicOrPartition).rawValue
                    return result
                }
                if let replicas = broker.replicas, let error = replicas.leaderError(TopicPartition(topic: topic.name, partition: index), currentLeaderEpoch: -1) {
                    result.errorCode = error.rawValue
                    return result
                }
                result.activeProducers = log.producerSummaries.map {
                    .init(
                        producerId: $0.producerId, producerEpoch: Int32($0.epoch), lastSequence: $0.lastSequence, lastTimestamp: $0.lastTimestampMs,
                        coordinatorEpoch: $0.coordinatorEpoch, currentTxnStartOffset: $0.transactionFirstOffset)
                }
                return result
            })
        })
    }

    func describeTransactions(_ request: DescribeTransactionsRequest) async -> DescribeTransactionsResponse {
        var response = DescribeTransactionsResponse()
        for transactionalId in request.transactionalIds {
            var state = DescribeTransactionsResponse.TransactionState(transactionalId: transactionalId)
            guard !transactionalId.isEmpty else {
                state.errorCode = KafkaErrorCode.invalidRequest.rawValue
                response.transactionStates.append(state)
                continue
            }
            switch await broker.transactionCoordinator.describe(transactionalId) {
            case .failure(let code):
                state.errorCode = code.rawValue
            case .success(let metadata) where metadata.state == .dead:
                state.errorCode = KafkaErrorCode.transactionalIdNotFound.rawValue
            case .success(let metadata):
                state.transactionState = metadata.state.name
                state.transactionTimeoutMs = metadata.transactionTimeoutMs
                state.transactionStartTimeMs = metadata.transactionStartMs
                state.producerId = metadata.producerId
                state.producerEpoch = metadata.producerEpoch
                let byTopic = Dictionary(grouping: metadata.partitions, by: \.topic)
                state.topics = byTopic.keys.sorted().map { .init(topic: $0, partitions: byTopic[$0]!.map(\.partition).sorted()) }
            }
            response.transactionStates.append(state)
        }
        return response
    }

    func listTransactions(_ request: ListTransactionsRequest) async -> ListTransactionsResponse {
        let known = Set(TransactionMetadata.State.allCases.map(\.name))
        let states = Set(request.stateFilters)
        let producerIds = Set(request.producerIdFilters)
        let nowMs = Broker.nowMs()
        let listed = await broker.transactionCoordinator.list().filter { metadata in
            metadata.state != .dead
                && (states.isEmpty || states.contains(metadata.state.name))
                && (producerIds.isEmpty || producerIds.contains(metadata.producerId))
                // v1: only transactions that started longer ago than the filter (Kafka's test).
                && (request.durationFilter < 0 || nowMs - metadata.transactionStartMs > request.durationFilter)
        }
        return ListTransactionsResponse(
            unknownStateFilters: request.stateFilters.filter { !known.contains($0) },
            transactionStates: listed.map { .init(transactionalId: $0.transactionalId, producerId: $0.producerId, transactionState: $0.state.name) })
    }
}
