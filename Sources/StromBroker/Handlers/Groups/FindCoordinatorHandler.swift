import KafkaProtocol
import StromCluster

/// FindCoordinator: a group's coordinator is the leader of its `__consumer_offsets` partition
/// (Kafka's placement) — on one broker, this broker — once the topic exists (created here on first
/// use, as Kafka does). Transactions and share groups have no coordinator yet.
struct FindCoordinatorHandler: Sendable {
    let broker: Broker

    /// Kafka's key types.
    private static let groupKeyType: Int8 = 0

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
        guard keyType == Self.groupKeyType else {
            return .init(key: key, nodeId: -1, host: "", port: -1, errorCode: KafkaErrorCode.coordinatorNotAvailable.rawValue,
                         errorMessage: "no coordinator for key type \(keyType): only consumer groups are served")
        }
        guard await broker.groupCoordinator.isAvailable() else {
            return .init(key: key, nodeId: -1, host: "", port: -1, errorCode: KafkaErrorCode.coordinatorNotAvailable.rawValue)
        }
        let image = broker.partitions.current
        var coordinatorId = broker.configuration.nodeId
        if broker.cluster != nil, let topic = image.topic(named: GroupCoordinatorSettings.offsetsTopic) {
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
