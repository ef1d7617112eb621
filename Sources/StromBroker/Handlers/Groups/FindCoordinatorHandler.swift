import KafkaProtocol
import StromCluster

/// FindCoordinator: a group's coordinator (key type 0, consumer and share groups alike) is the
/// leader of its `__consumer_offsets` partition (Kafka's placement), a share-partition's share
/// coordinator (key type 2, `group:topicId:partition`) the leader of its `__share_group_state`
/// partition, a transactional id's transaction coordinator (key type 1) the leader of its
/// `__transaction_state` partition — on one broker, this broker — once the topic exists (created
/// here on first use, as Kafka does).
struct FindCoordinatorHandler: Sendable {
    let broker: Broker

    /// Kafka's key types.
    private static let groupKeyType: Int8 = 0
    private static let transactionKeyType: Int8 = 1
    private static let shareKeyType: Int8 = 2

    func handle(_ request: FindCoordinatorRequest, version: Int16) async -> FindCoordinatorResponse {
        // v4+ batch keys; v0-3 name one key at the top level.
        let keys = version >= 4 ? request.coordinatorKeys : [request.key]
        var coordinators: [FindCoordinatorResponse.Coordinator] = []
        for key in keys {
            coordinators.append(await locate(key: key, keyType: request.keyType))
        }
        guard version < 4, let only = coordinators.first else { return FindCoordinatorResponse(coordinators: coordinators) }
        return FindCoordinatorResponse(
            errorCode: only.errorCode, errorMessage: only.errorMessage, nodeId: only.nodeId, host: only.host, port: only.port)
    }

    private func locate(key: String, keyType: Int8) async -> FindCoordinatorResponse.Coordinator {
        let topicName: String
        switch keyType {
        case Self.groupKeyType:
            guard await broker.groupCoordinator.isAvailable() else {
                return .init(key: key, nodeId: -1, host: "", port: -1, errorCode: KafkaErrorCode.coordinatorNotAvailable.rawValue)
            }
            topicName = GroupCoordinatorSettings.offsetsTopic
        case Self.transactionKeyType:
            guard !key.isEmpty else {
                return .init(key: key, nodeId: -1, host: "", port: -1, errorCode: KafkaErrorCode.invalidRequest.rawValue,
                             errorMessage: "an empty transactional id has no coordinator")
            }
            guard await broker.transactionCoordinator.partition(of: key) != nil else {
                return .init(key: key, nodeId: -1, host: "", port: -1, errorCode: KafkaErrorCode.coordinatorNotAvailable.rawValue)
            }
            topicName = TransactionCoordinatorSettings.stateTopic
        case Self.shareKeyType:
            let parts = key.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count >= 3, Int32(parts[parts.count - 1]) != nil, KafkaUUID(kafkaText: String(parts[parts.count - 2])) != nil else {
                return .init(key: key, nodeId: -1, host: "", port: -1, errorCode: KafkaErrorCode.invalidRequest.rawValue,
                             errorMessage: "a share coordinator key is group:topicId:partition")
            }
            guard await broker.shareCoordinator.ensureTopic() != nil else {
                return .init(key: key, nodeId: -1, host: "", port: -1, errorCode: KafkaErrorCode.coordinatorNotAvailable.rawValue)
            }
            topicName = ShareCoordinatorSettings.stateTopic
        default:
            return .init(key: key, nodeId: -1, host: "", port: -1, errorCode: KafkaErrorCode.coordinatorNotAvailable.rawValue,
                         errorMessage: "no coordinator for key type \(keyType): groups (0), transactions (1) and share-partitions (2) are served")
        }
        let image = broker.partitions.current
        var coordinatorId = broker.configuration.nodeId
        if broker.cluster != nil, let topic = image.topic(named: topicName) {
            // The share key is placed by the same hash of its whole text.
            let partition = GroupCoordinator.partition(for: key, partitionCount: topic.partitionCount)
            coordinatorId = topic.partitions[Int(partition)].leader
        }
        guard let node = image.brokersById[coordinatorId] else {
            // No live leader yet (an election is under way): the client asks again.
            return .init(key: key, nodeId: -1, host: "", port: -1, errorCode: KafkaErrorCode.coordinatorNotAvailable.rawValue)
        }
        return .init(key: key, nodeId: node.nodeId, host: node.host, port: node.port, errorCode: 0)
    }
}
