public import KafkaProtocol

/// A topic to create.
public struct NewTopic: Sendable, Hashable {
    public var name: String
    /// nil takes the broker's `num.partitions` (CreateTopics v4+).
    public var partitionCount: Int32?
    /// nil takes the broker's `default.replication.factor` (CreateTopics v4+).
    public var replicationFactor: Int16?
    /// Topic configs by Kafka's names (`retention.ms`, `cleanup.policy`, ...).
    public var configs: [String: String]

    public init(name: String, partitionCount: Int32? = nil, replicationFactor: Int16? = nil, configs: [String: String] = [:]) {
        self.name = name
        self.partitionCount = partitionCount
        self.replicationFactor = replicationFactor
        self.configs = configs
    }
}

/// What CreateTopics reports about a created topic. Fields an older broker version does not
/// return are -1 or ``KafkaUUID/zero``.
public struct CreatedTopic: Sendable, Hashable {
    public var name: String
    public var topicId: KafkaUUID
    public var partitionCount: Int32
    public var replicationFactor: Int16
}
