import KafkaProtocol
import StromCluster

/// Metadata: brokers, the cluster id, and the requested topics with their partitions, leaders
/// and topic ids; creates missing topics when the client allows it and `auto.create.topics.enable` is set.
struct MetadataHandler: Sendable {
    let broker: Broker

    func handle(_ request: MetadataRequest, version: Int16) async -> MetadataResponse {
        var image = broker.partitions.current
        var response = MetadataResponse(
            brokers: image.brokers.map { .init(nodeId: $0.nodeId, host: $0.host, port: $0.port, rack: $0.rack) },
            clusterId: image.clusterId, controllerId: image.controllerId, topics: [])
        let requested: [(name: String?, id: KafkaUUID)]
        // v0 has no null topics: an empty list asks for every topic (v1 and later send null).
        let namesTopics = request.topics.map { !$0.isEmpty || version > 0 } ?? false
        if namesTopics, let topics = request.topics {
            requested = topics.map { ($0.name, $0.topicId) }
        } else {
            requested = image.topics.sorted { $0.name < $1.name }.map { ($0.name, $0.id) }
        }
        // Kafka always allowed auto-creation below v4, where the flag did not exist yet.
        let mayCreate = broker.configuration.autoCreateTopicsEnable && (version < 4 || request.allowAutoTopicCreation) && namesTopics
        for (name, id) in requested {
            var topic = name.flatMap { image.topic(named: $0) } ?? (id != .zero ? image.topic(id: id) : nil)
            var errorCode = KafkaErrorCode.none
            if topic == nil, let name, mayCreate {
                switch await broker.createTopic(name: name, partitionCount: nil, replicationFactor: nil, configs: [:], validateOnly: false) {
                case .success(let created):
                    topic = created
                    image = broker.partitions.current
                case .failure(let error):
                    errorCode = error.kafkaErrorCode
                }
            } else if topic == nil {
                errorCode = name == nil ? .unknownTopicId : .unknownTopicOrPartition
            }
            guard let topic else {
                response.topics.append(.init(errorCode: errorCode.rawValue, name: name, topicId: id, isInternal: false, partitions: []))
                continue
            }
            let nodeId = broker.configuration.nodeId
            response.topics.append(.init(
                errorCode: 0, name: topic.name, topicId: topic.id, isInternal: topic.isInternal,
                partitions: topic.partitions.map { partition in
                    // A replica on a broker that is not registered (dead) is offline, and so is this
                    // broker's when its log was taken offline (the scrubber found it damaged). A
                    // partition without a live leader answers LEADER_NOT_AVAILABLE with leader -1,
                    // as Kafka does, so clients stop sending to it.
                    let offlineHere = broker.partitions.log(topic: topic.name, partition: partition.partition)?.offlineReason != nil
                    let offline = partition.replicas.filter { image.brokersById[$0] == nil || ($0 == nodeId && offlineHere) }
                    let leaderLive = image.brokersById[partition.leader] != nil && !(partition.leader == nodeId && offlineHere)
                    return .init(
                        errorCode: leaderLive ? 0 : KafkaErrorCode.leaderNotAvailable.rawValue, partitionIndex: partition.partition,
                        leaderId: leaderLive ? partition.leader : -1, leaderEpoch: partition.leaderEpoch, replicaNodes: partition.replicas,
                        isrNodes: partition.inSyncReplicas, offlineReplicas: offline)
                },
                topicAuthorizedOperations: version >= 8 && request.includeTopicAuthorizedOperations ? AuthorizedOperations.topic : Int32.min))
        }
        // Metadata v8-10 carried the cluster's operations; DescribeCluster does since (KIP-700).
        if (8...10).contains(version), request.includeClusterAuthorizedOperations {
            response.clusterAuthorizedOperations = AuthorizedOperations.cluster
        }
        return response
    }
}
