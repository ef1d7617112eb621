/// The share coordinator's settings, under Kafka's broker config names, with Kafka's defaults.
public struct ShareCoordinatorSettings: Sendable, Hashable {
    /// `share.coordinator.state.topic.num.partitions`.
    public var stateTopicPartitionCount: Int32 = 50
    /// `share.coordinator.state.topic.replication.factor` (at most the brokers there are).
    public var stateTopicReplicationFactor: Int16 = 3
    /// `share.coordinator.state.topic.segment.bytes`.
    public var stateTopicSegmentBytes: Int64 = 104_857_600
    /// `share.coordinator.snapshot.update.records.per.snapshot`: after this many updates of one
    /// share-partition the next write is a whole snapshot, so loading reads a bounded tail.
    public var updateRecordsPerSnapshot: Int = 500

    public init() {}

    static let stateTopic = "__share_group_state"
}

/// The broker's share-group settings (Kafka's `group.share.*`), with Kafka's defaults.
public struct ShareGroupSettings: Sendable, Hashable {
    /// `group.share.record.lock.duration.ms`, bounded by the min and max below (a group's
    /// `share.record.lock.duration.ms` must lie between them).
    public var recordLockDurationMs: Int32 = 30_000
    public var minRecordLockDurationMs: Int32 = 15_000
    public var maxRecordLockDurationMs: Int32 = 60_000
    /// `group.share.delivery.count.limit` (2-10).
    public var deliveryCountLimit: Int16 = 5
    /// `group.share.partition.max.record.locks`: records in flight per share-partition.
    public var partitionMaxRecordLocks: Int = 2_000
    /// `group.share.max.share.sessions`: share sessions this broker keeps.
    public var maxShareSessions: Int = 2_000

    public init() {}
}
