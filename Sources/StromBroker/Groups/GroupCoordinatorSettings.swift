/// The group coordinator's settings, under Kafka's broker config names, with Kafka's defaults.
public struct GroupCoordinatorSettings: Sendable, Hashable {
    /// `offsets.topic.num.partitions`: partitions of `__consumer_offsets`, fixed once it exists.
    public var offsetsTopicPartitionCount: Int32 = 50
    /// `offsets.topic.segment.bytes`.
    public var offsetsTopicSegmentBytes: Int64 = 104_857_600
    /// `offsets.retention.minutes`: how long an empty group's offsets are kept (7 days).
    public var offsetsRetentionMs: Int64 = 7 * 24 * 60 * 60 * 1000
    /// `offsets.retention.check.interval.ms`.
    public var offsetsRetentionCheckIntervalMs: Int64 = 600_000
    /// `offsets.topic.replication.factor` (Kafka's 3): replicas of each `__consumer_offsets`
    /// partition in a cluster, at most the number of brokers when the topic is created.
    public var offsetsTopicReplicationFactor: Int16 = 3
    /// `offset.metadata.max.bytes`.
    public var offsetMetadataMaxBytes: Int = 4096
    /// `group.initial.rebalance.delay.ms`: how long the first rebalance of an empty group waits
    /// for more members.
    public var initialRebalanceDelayMs: Int64 = 3000
    /// `group.min.session.timeout.ms` / `group.max.session.timeout.ms`.
    public var minSessionTimeoutMs: Int32 = 6000
    public var maxSessionTimeoutMs: Int32 = 1_800_000
    /// `group.consumer.session.timeout.ms` / `group.consumer.heartbeat.interval.ms`: KIP-848
    /// members' sessions are set by the broker.
    public var consumerSessionTimeoutMs: Int32 = 45_000
    public var consumerHeartbeatIntervalMs: Int32 = 5_000
    /// `group.share.session.timeout.ms` / `group.share.heartbeat.interval.ms` (Kafka's
    /// `share.session.timeout.ms` / `share.heartbeat.interval.ms` group configs default to them).
    public var shareSessionTimeoutMs: Int32 = 45_000
    public var shareHeartbeatIntervalMs: Int32 = 5_000
    /// `group.share.min/max.session.timeout.ms` and `group.share.min/max.heartbeat.interval.ms`:
    /// the bounds of a share group's own values.
    public var shareMinSessionTimeoutMs: Int32 = 45_000
    public var shareMaxSessionTimeoutMs: Int32 = 60_000
    public var shareMinHeartbeatIntervalMs: Int32 = 5_000
    public var shareMaxHeartbeatIntervalMs: Int32 = 15_000
    /// `group.share.max.size`: members of one share group.
    public var shareGroupMaxSize: Int = 200
    /// `group.max.size`.
    public var maxGroupSize: Int = Int(Int32.max)

    public init() {}

    static let offsetsTopic = "__consumer_offsets"
}
