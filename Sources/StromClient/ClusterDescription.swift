public import KafkaProtocol

/// A broker as Metadata lists it.
public struct BrokerDescription: Sendable, Hashable {
    public var nodeId: Int32
    public var host: String
    public var port: Int
    public var rack: String?

    public init(nodeId: Int32, host: String, port: Int, rack: String?) {
        self.nodeId = nodeId
        self.host = host
        self.port = port
        self.rack = rack
    }
}

/// One partition of a topic as Metadata describes it.
public struct PartitionDescription: Sendable, Hashable {
    public var partition: Int32
    /// -1 while the partition has no leader.
    public var leaderId: Int32
    public var leaderEpoch: Int32
    public var replicas: [Int32]
    public var inSyncReplicas: [Int32]
    public var offlineReplicas: [Int32]
    /// NONE, or why the broker could not describe the partition (LEADER_NOT_AVAILABLE, ...).
    public var errorCode: KafkaErrorCode
}

/// A topic as Metadata describes it; `partitions` is sorted by partition index.
public struct TopicDescription: Sendable, Hashable {
    public var name: String
    /// ``KafkaUUID/zero`` when the broker's Metadata version predates topic ids (v10).
    public var topicId: KafkaUUID
    public var isInternal: Bool
    public var partitions: [PartitionDescription]
    /// NONE, or why the broker could not describe the topic (UNKNOWN_TOPIC_OR_PARTITION, ...).
    public var errorCode: KafkaErrorCode

    public func partition(_ index: Int32) -> PartitionDescription? {
        partitions.first { $0.partition == index }
    }

    /// The replication factor, read off the first partition's replica list.
    public var replicationFactor: Int { partitions.first?.replicas.count ?? 0 }
}

/// The answer to one Metadata request.
public struct ClusterDescription: Sendable, Hashable {
    public var clusterId: String?
    /// -1 when the broker did not name a controller.
    public var controllerId: Int32
    public var brokers: [BrokerDescription]
    /// Sorted by name.
    public var topics: [TopicDescription]

    init(_ response: MetadataResponse) {
        clusterId = response.clusterId
        controllerId = response.controllerId
        brokers = response.brokers
            .map { BrokerDescription(nodeId: $0.nodeId, host: $0.host, port: Int($0.port), rack: $0.rack) }
            .sorted { $0.nodeId < $1.nodeId }
        topics = response.topics.map { topic in
            TopicDescription(
                name: topic.name ?? "", topicId: topic.topicId, isInternal: topic.isInternal,
                partitions: topic.partitions.map { partition in
                    PartitionDescription(
                        partition: partition.partitionIndex, leaderId: partition.leaderId, leaderEpoch: partition.leaderEpoch,
                        replicas: partition.replicaNodes, inSyncReplicas: partition.isrNodes,
                        offlineReplicas: partition.offlineReplicas, errorCode: KafkaErrorCode(rawValue: partition.errorCode))
                }.sorted { $0.partition < $1.partition },
                errorCode: KafkaErrorCode(rawValue: topic.errorCode))
        }.sorted { $0.name < $1.name }
    }
}
