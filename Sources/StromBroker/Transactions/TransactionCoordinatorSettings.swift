/// The transaction coordinator's settings, under Kafka's broker config names, with Kafka's defaults.
public struct TransactionCoordinatorSettings: Sendable, Hashable {
    /// `transaction.state.log.num.partitions`.
    public var stateTopicPartitionCount: Int32 = 50
    /// `transaction.state.log.replication.factor` (at most the brokers there are).
    public var stateTopicReplicationFactor: Int16 = 3
    /// `transaction.state.log.min.isr`.
    public var stateTopicMinInSyncReplicas: Int16 = 2
    /// `transaction.state.log.segment.bytes`.
    public var stateTopicSegmentBytes: Int64 = 104_857_600
    /// `transaction.max.timeout.ms`: the longest `transaction.timeout.ms` a producer may ask for.
    public var maxTimeoutMs: Int32 = 900_000
    /// `transaction.abort.timed.out.transaction.cleanup.interval.ms`: how often transactions past
    /// their timeout are looked for (Strom also wakes at the earliest deadline it knows).
    public var abortTimedOutIntervalMs: Int64 = 10_000
    /// `transaction.remove.expired.transaction.cleanup.interval.ms`.
    public var removeExpiredIntervalMs: Int64 = 3_600_000
    /// `transactional.id.expiration.ms`: an idle transactional id (no transaction open) is
    /// forgotten after this long.
    public var transactionalIdExpirationMs: Int64 = 604_800_000

    public init() {}

    static let stateTopic = "__transaction_state"
}
