public import KafkaProtocol

/// One topic as the cluster knows it: its name, its id, where its partitions live, and the configs set on
/// it.
public struct TopicMetadata: Sendable, Hashable {
    /// The topic's name, valid by ``TopicNames``' rules.
    public var name: String
    /// The topic id, random and never ``KafkaUUID/zero``. A topic deleted and created again under the same
    /// name gets a new id, which is how clients and logs tell the two apart.
    public var id: KafkaUUID
    /// One assignment per partition, ordered by partition number: `partitions[i].partition == i`.
    public var partitions: [PartitionAssignment]
    /// Only the topic-level overrides (Kafka's topic config keys, such as `retention.ms`), with the values as
    /// they were set. Keys not here take the broker's defaults.
    public var configs: [String: String]
    /// Whether this is one of Kafka's internal topics (see ``TopicNames/isInternal(_:)``).
    public var isInternal: Bool

    public init(
        name: String, id: KafkaUUID, partitions: [PartitionAssignment], configs: [String: String], isInternal: Bool
    ) {
        self.name = name
        self.id = id
        self.partitions = partitions
        self.configs = configs
        self.isInternal = isInternal
    }

    /// How many partitions the topic has.
    public var partitionCount: Int32 { Int32(partitions.count) }
}

/// Where one partition lives and who leads it: the replica set, the leader, its epoch and the in-sync
/// replicas, as in Kafka's `PartitionRegistration`.
///
/// On one broker every partition is `replicas: [node]`, `leader: node`, `leaderEpoch: 0`,
/// `inSyncReplicas: [node]`; the fields exist so that replication changes only their values.
public struct PartitionAssignment: Sendable, Hashable {
    /// The partition number, from 0.
    public var partition: Int32
    /// The node ids holding a replica, the preferred leader first.
    public var replicas: [Int32]
    /// The node id of the leader; -1 when there is none.
    public var leader: Int32
    /// Raised by one with every leader change; fences requests from clients and followers that know an older
    /// leader.
    public var leaderEpoch: Int32
    /// The replicas caught up with the leader, which an `acks=all` produce waits for.
    public var inSyncReplicas: [Int32]
    /// Raised by one with every change of this partition's state (leader or in-sync replicas):
    /// a change is committed only by whoever read the current epoch (Kafka's AlterPartition rule).
    public var partitionEpoch: Int32

    public init(
        partition: Int32, replicas: [Int32], leader: Int32, leaderEpoch: Int32, inSyncReplicas: [Int32],
        partitionEpoch: Int32 = 0
    ) {
        self.partition = partition
        self.replicas = replicas
        self.leader = leader
        self.leaderEpoch = leaderEpoch
        self.inSyncReplicas = inSyncReplicas
        self.partitionEpoch = partitionEpoch
    }
}

/// A broker's registration: how clients reach it (Metadata and FindCoordinator responses).
public struct BrokerRegistration: Sendable, Hashable {
    /// The broker's `node.id`.
    public var nodeId: Int32
    /// The host name clients connect to (the advertised listener's).
    public var host: String
    /// The port clients connect to.
    public var port: Int32
    /// The broker's `broker.rack`, if set.
    public var rack: String?

    public init(nodeId: Int32, host: String, port: Int32, rack: String? = nil) {
        self.nodeId = nodeId
        self.host = host
        self.port = port
        self.rack = rack
    }
}
