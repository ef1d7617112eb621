/// Where ``KafkaClient/planOffsetReset(group:topic:partitions:to:)`` moves a group's offsets, as
/// `kafka-consumer-groups.sh --reset-offsets` names them.
public enum OffsetResetTarget: Sendable, Hashable {
    /// The log start offset.
    case earliest
    /// The log end offset (the high watermark).
    case latest
    /// The first record at or after this time (ms since the epoch); the end where none is.
    case timestamp(Int64)
    /// By this many records from the committed offset (negative: back).
    case shift(Int64)
    /// To this offset.
    case offset(Int64)
}

/// One partition's planned move.
public struct PlannedOffset: Sendable, Hashable {
    public var partition: Int32
    /// The committed offset now; nil when the group committed none.
    public var current: Int64?
    /// Where the plan moves it: the target, clamped to the log's start and end.
    public var planned: Int64
}

extension KafkaClient {
    /// Plans new committed offsets for `group` on `topic` without changing anything (a dry run):
    /// each partition's target clamped to its log start and end offsets, as Kafka's tool does.
    /// ``commitOffsets(group:topic:offsets:)`` carries a plan out.
    ///
    /// - Parameter partitions: only these; every partition of the topic when nil.
    /// - Throws: `.invalidArgument` when a shift meets a partition without a committed offset.
    public func planOffsetReset(
        group: String, topic: String, partitions: [Int32]? = nil, to target: OffsetResetTarget
    ) async throws(StromClientError) -> [PlannedOffset] {
        let earliest = try await listOffsets(topic: topic, partitions: partitions, spec: .earliest)
        let latest = try await listOffsets(topic: topic, partitions: partitions, spec: .latest)
        let committed = try await committedOffsets(group: group)[topic] ?? [:]
        var byTime: [Int32: Result<ListedOffset, StromClientError>] = [:]
        if case .timestamp(let timestampMs) = target {
            byTime = try await listOffsets(topic: topic, partitions: partitions, spec: .timestamp(timestampMs))
        }
        var plan: [PlannedOffset] = []
        for partition in latest.keys.sorted() {
            guard let low = try earliest[partition]?.get().offset, let high = try latest[partition]?.get().offset else { continue }
            let offset: Int64
            switch target {
            case .earliest: offset = low
            case .latest: offset = high
            case .timestamp: offset = (try byTime[partition]?.get().offset) ?? high
            case .offset(let wanted): offset = wanted
            case .shift(let delta):
                guard let current = committed[partition] else {
                    throw .invalidArgument("partition \(partition) has no committed offset to shift from")
                }
                offset = current + delta
            }
            plan.append(PlannedOffset(partition: partition, current: committed[partition], planned: min(max(offset, low), high)))
        }
        return plan
    }
}
