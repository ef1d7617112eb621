/// Which offset ListOffsets looks up.
public enum OffsetSpec: Sendable, Hashable {
    /// The log start offset.
    case earliest
    /// The high watermark: where the next record will go.
    case latest
    /// The record with the largest timestamp (ListOffsets v7+).
    case maxTimestamp
    /// The first record whose timestamp is at or after this one.
    case timestamp(Int64)

    /// Kafka's sentinel values in `ListOffsetsPartition.timestamp`.
    var requestTimestamp: Int64 {
        switch self {
        case .earliest: -2
        case .latest: -1
        case .maxTimestamp: -3
        case .timestamp(let timestampMs): timestampMs
        }
    }
}

/// One partition's ListOffsets answer.
public struct ListedOffset: Sendable, Hashable {
    /// nil when no record matches (a timestamp after the last record's).
    public var offset: Int64?
    /// The matching record's timestamp for timestamp look-ups, -1 otherwise.
    public var timestampMs: Int64

    public init(offset: Int64?, timestampMs: Int64) {
        self.offset = offset
        self.timestampMs = timestampMs
    }
}
