import KafkaProtocol

/// A transactional id as its coordinator lists it.
public struct TransactionListing: Sendable, Hashable {
    public var transactionalId: String
    public var producerId: Int64
    public var state: String
    /// The broker coordinating it.
    public var coordinatorId: Int32
}

/// A transactional id's state at its coordinator (DescribeTransactions).
public struct TransactionDescription: Sendable, Hashable {
    public var transactionalId: String
    public var state: String
    public var producerId: Int64
    public var producerEpoch: Int16
    public var timeoutMs: Int32
    /// When the open transaction started (epoch milliseconds), -1 when none is open.
    public var startTimeMs: Int64
    /// The partitions of the open transaction, by topic.
    public var partitions: [String: [Int32]]
}

/// A producer a partition's leader knows (DescribeProducers).
public struct ProducerDescription: Sendable, Hashable {
    public var producerId: Int64
    public var producerEpoch: Int32
    public var lastSequence: Int32
    public var lastTimestampMs: Int64
    public var coordinatorEpoch: Int32
    /// The first offset of its open transaction in the partition, -1 when none.
    public var transactionStartOffset: Int64
}

extension KafkaClient {
    /// Every transactional id the brokers coordinate (ListTransactions to each broker), optionally
    /// only those in `states` (Kafka's names, e.g. "Ongoing").
    public func listTransactions(states: [String] = []) async throws(StromClientError) -> [TransactionListing] {
        let cluster = try await metadata(topics: [])
        var listings: [TransactionListing] = []
        for broker in cluster.brokers {
            let connection = try await connection(toNode: broker.nodeId)
            let version = try connection.apiVersions.version(for: ListTransactionsRequest.self)
            let response = try await connection.send(ListTransactionsRequest(stateFilters: states), version: version)
            if let error = StromClientError.check(response.errorCode, resource: "broker \(broker.nodeId)") { throw error }
            listings += response.transactionStates.map {
                TransactionListing(transactionalId: $0.transactionalId, producerId: $0.producerId, state: $0.transactionState, coordinatorId: broker.nodeId)
            }
        }
        return listings.sorted { $0.transactionalId < $1.transactionalId }
    }

    public func describeTransaction(_ transactionalId: String) async throws(StromClientError) -> TransactionDescription {
        let resource = "transactional id \"\(transactionalId)\""
        let connection = try await coordinator(key: transactionalId, keyType: 1, resource: resource)
        let version = try connection.apiVersions.version(for: DescribeTransactionsRequest.self)
        let response = try await connection.send(DescribeTransactionsRequest(transactionalIds: [transactionalId]), version: version)
        guard let state = response.transactionStates.first else {
            throw .malformedResponse(.describeTransactions, reason: "no answer for \(resource)")
        }
        if let error = StromClientError.check(state.errorCode, resource: resource) { throw error }
        return TransactionDescription(
            transactionalId: transactionalId, state: state.transactionState, producerId: state.producerId, producerEpoch: state.producerEpoch,
            timeoutMs: state.transactionTimeoutMs, startTimeMs: state.transactionStartTimeMs,
            partitions: Dictionary(state.topics.map { ($0.topic, $0.partitions.sorted()) }, uniquingKeysWith: +))
    }

    /// The producers each partition's leader knows, by partition.
    public func describeProducers(topic name: String) async throws(StromClientError) -> [Int32: [ProducerDescription]] {
        let topic = try await topicDescription(name)
        var producers: [Int32: [ProducerDescription]] = [:]
        for partition in topic.partitions.map(\.partition).sorted() {
            let connection = try await leaderConnection(topic: topic, partition: partition)
            let version = try connection.apiVersions.version(for: DescribeProducersRequest.self)
            let response = try await connection.send(DescribeProducersRequest(topics: [.init(name: name, partitionIndexes: [partition])]), version: version)
            guard let answer = response.topics.first?.partitions.first else {
                throw .malformedResponse(.describeProducers, reason: "no answer for topic \"\(name)\" partition \(partition)")
            }
            let resource = "topic \"\(name)\" partition \(partition)"
            if let error = StromClientError.check(answer.errorCode, resource: resource, message: answer.errorMessage) { throw error }
            producers[partition] = answer.activeProducers.map {
                ProducerDescription(
                    producerId: $0.producerId, producerEpoch: $0.producerEpoch, lastSequence: $0.lastSequence, lastTimestampMs: $0.lastTimestamp,
                    coordinatorEpoch: $0.coordinatorEpoch, transactionStartOffset: $0.currentTxnStartOffset)
            }
        }
        return producers
    }

    /// Writes an ABORT marker for a producer's open transaction in one partition, as
    /// `kafka-transactions.sh abort` does for a hanging transaction (WriteTxnMarkers to the leader).
    public func abortTransaction(
        topic name: String, partition: Int32, producerId: Int64, producerEpoch: Int16, coordinatorEpoch: Int32
    ) async throws(StromClientError) {
        let topic = try await topicDescription(name)
        let connection = try await leaderConnection(topic: topic, partition: partition)
        let version = try connection.apiVersions.version(for: WriteTxnMarkersRequest.self)
        let response = try await connection.send(WriteTxnMarkersRequest(markers: [.init(
            producerId: producerId, producerEpoch: producerEpoch, transactionResult: false,
            topics: [.init(name: name, partitionIndexes: [partition])], coordinatorEpoch: coordinatorEpoch)]), version: version)
        guard let answer = response.markers.first?.topics.first?.partitions.first else {
            throw .malformedResponse(.writeTxnMarkers, reason: "no answer for topic \"\(name)\" partition \(partition)")
        }
        if let error = StromClientError.check(answer.errorCode, resource: "topic \"\(name)\" partition \(partition)") { throw error }
    }
}
