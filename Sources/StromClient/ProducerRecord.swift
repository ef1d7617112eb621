public import KafkaProtocol
public import NIOCore

/// A record to produce.
public struct ProducerRecord: Sendable {
    public var key: ByteBuffer?
    public var value: ByteBuffer?
    public var headers: [RecordBatchBuilder.Header]
    /// nil lets the client choose: murmur2 of the key (Kafka's default partitioner, so keys land
    /// where the Java client puts them), or one partition per call for records without a key.
    public var partition: Int32?
    /// nil stamps the record with the time it is batched.
    public var timestampMs: Int64?

    public init(
        key: ByteBuffer? = nil, value: ByteBuffer?, headers: [RecordBatchBuilder.Header] = [], partition: Int32? = nil,
        timestampMs: Int64? = nil
    ) {
        self.key = key
        self.value = value
        self.headers = headers
        self.partition = partition
        self.timestampMs = timestampMs
    }
}

/// What Produce's `acks` asks the leader to wait for.
public enum ProduceAcks: Int16, Sendable, CaseIterable {
    /// No response at all (acks=0): the call returns once the request is written. See
    /// ``KafkaClient/awaitRequestsProcessed()`` before closing.
    case unacknowledged = 0
    /// The leader's append.
    case leader = 1
    /// The in-sync replicas (and, on Strom, the fsync of group commit).
    case all = -1
}

/// The outcome of one partition's batch.
public struct ProducedPartition: Sendable {
    public var partition: Int32
    public var recordCount: Int
    /// The offset the broker gave the batch's first record; -1 with ``ProduceAcks/unacknowledged``, as
    /// Kafka's clients report it. A failure carries the broker's per-partition error code.
    public var baseOffset: Result<Int64, StromClientError>
}
