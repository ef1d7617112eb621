public import StromStorage

/// The broker settings a ``MetadataStore`` applies to topics created without explicit values.
public struct MetadataConfiguration: Sendable {
    /// `num.partitions`: the partition count of a topic created with partition count -1. Kafka's default: 1.
    public var defaultPartitionCount: Int32
    /// `default.replication.factor`: the replication factor of a topic created with replication factor -1.
    /// Kafka's default: 1.
    public var defaultReplicationFactor: Int16
    /// The broker's topic config defaults (its `log.*` settings). Topic overrides are validated merged onto
    /// these, as Kafka does, because some checks involve two keys (`min.compaction.lag.ms` must not exceed
    /// `max.compaction.lag.ms`).
    public var logConfigDefaults: LogConfig

    /// - Precondition: `defaultPartitionCount` and `defaultReplicationFactor` are positive; the broker's
    ///   configuration parsing refuses other values before they get here.
    public init(
        defaultPartitionCount: Int32 = 1, defaultReplicationFactor: Int16 = 1,
        logConfigDefaults: LogConfig = .defaults
    ) {
        precondition(defaultPartitionCount > 0, "num.partitions must be positive, not \(defaultPartitionCount)")
        precondition(
            defaultReplicationFactor > 0, "default.replication.factor must be positive, not \(defaultReplicationFactor)")
        self.defaultPartitionCount = defaultPartitionCount
        self.defaultReplicationFactor = defaultReplicationFactor
        self.logConfigDefaults = logConfigDefaults
    }
}
