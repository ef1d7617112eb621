public import KafkaProtocol
public import NIOCore

/// A record read by ``KafkaClient/fetch(topic:offsets:maxWaitMs:minBytes:maxBytes:partitionMaxBytes:)``.
/// Key, value and header values are slices of the fetched (decompressed) batch.
public struct ConsumerRecord: Sendable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    public var timestampMs: Int64
    public var timestampType: TimestampType
    public var key: ByteBuffer?
    public var value: ByteBuffer?
    public var headers: [RecordBatchBuilder.Header]

    public init(
        topic: String, partition: Int32, offset: Int64, timestampMs: Int64, timestampType: TimestampType, key: ByteBuffer?,
        value: ByteBuffer?, headers: [RecordBatchBuilder.Header]
    ) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.timestampMs = timestampMs
        self.timestampType = timestampType
        self.key = key
        self.value = value
        self.headers = headers
    }
}

/// One partition's share of a fetch.
public struct FetchedRecords: Sendable {
    /// The records at or after the fetch offset, in offset order; control records are left out.
    public var records: [ConsumerRecord]
    /// Where the next fetch starts: one past the last batch returned, control batches included,
    /// or the fetch offset when nothing came back.
    public var nextOffset: Int64
    public var highWatermark: Int64
    public var logStartOffset: Int64
}

/// One partition's fetch outcome; a failure carries the broker's per-partition error code
/// (OFFSET_OUT_OF_RANGE, NOT_LEADER_OR_FOLLOWER, ...).
public struct FetchedPartition: Sendable {
    public var partition: Int32
    public var result: Result<FetchedRecords, StromClientError>
}
