public import StromStorage

/// What `strom serve` configures: where to listen and keep data, and the broker-wide defaults
/// Kafka names in `server.properties`. A `Sendable` value with documented defaults.
public struct BrokerConfiguration: Sendable {
    /// `node.id`.
    public var nodeId: Int32 = 0
    /// The address to bind; tests use 127.0.0.1 and port 0 (an ephemeral port).
    public var listenHost: String = "127.0.0.1"
    public var listenPort: Int = 9092
    /// What clients are told to connect to (Metadata); the bound address when nil.
    public var advertisedHost: String?
    public var advertisedPort: Int?
    /// `log.dirs` (one directory).
    public var dataDirectory: String = "./strom-data"
    /// `num.partitions`: partitions of a topic created without a count.
    public var defaultPartitionCount: Int32 = 1
    /// `default.replication.factor`.
    public var defaultReplicationFactor: Int16 = 1
    /// `auto.create.topics.enable`.
    public var autoCreateTopicsEnable = true
    /// `socket.request.max.bytes`: the largest request frame.
    public var requestSizeBytesMax = 104_857_600
    /// `max.connections` (Strom's default is finite: each connection costs a descriptor and
    /// buffers), `max.connections.per.ip` (Kafka's default: unlimited), `connections.max.idle.ms`.
    public var connectionsMax = 10_000
    public var connectionsPerAddressMax = Int(Int32.max)
    public var connectionIdleTimeMaxMs: Int64 = 600_000
    /// `log.files.open.max` (Strom's; RocksDB's `max_open_files`): how many segment and index
    /// files stay open at once; the least recently used are closed and reopened on use. Nil: half
    /// the process's descriptor limit.
    public var logFilesOpenMax: Int?
    /// `produce.batch.max.decompressed.bytes` (Strom's; Kafka bounds each record by
    /// `message.max.bytes`, Strom the whole batch): the most a compressed batch may inflate to
    /// while it is validated; a batch past it is refused with MESSAGE_TOO_LARGE.
    public var decompressedBatchSizeBytesMax = 64 << 20
    /// `produce.batch.max.records` (Strom's): the most records one produced batch may hold;
    /// more is refused with INVALID_RECORD. Clients batch at most 1,000,000 (librdkafka's bound).
    public var batchRecordsMax = 1_000_000
    /// `request.max.partitions` (Strom's): the most topics, partitions, groups or config entries
    /// one request may name; a request naming more closes its connection with a log line.
    public var requestPartitionsMax = 100_000
    /// `fetch.max.bytes` (Kafka's broker key, same default, 55 MiB): the most record bytes one
    /// Fetch response carries, whatever the client asks (the first batch still goes whole).
    public var fetchResponseBytesMax = 57_671_680
    /// `produce.batch.validation` (Strom's; Redpanda has the same choice): how much of a produced
    /// batch is checked before it is stored.
    public var produceValidation: ProduceValidation = .strict
    /// The group coordinator (`offsets.*`, `group.*`).
    public var groups = GroupCoordinatorSettings()
    /// Topic-level defaults (`log.retention.ms` → `retention.ms`, ...).
    public var logDefaults: LogConfig = .defaults
    /// The broker keys set explicitly (config file or flags), with their values: DescribeConfigs
    /// reports them as STATIC_BROKER_CONFIG and the rest as DEFAULT_CONFIG.
    public var staticProperties: [String: String] = [:]

    public init() {}
}

/// How much of a produced batch the broker checks before storing it.
public enum ProduceValidation: String, Sendable, CaseIterable {
    /// Kafka's checks: the CRC, the header's counts and every record's framing, decompressing
    /// compressed batches (within `decompressedBatchSizeBytesMax`) to read them.
    case strict
    /// The same for uncompressed batches and for compacted topics; a compressed batch for any other
    /// topic is checked by its CRC and header only, and not decompressed — for trusted producers,
    /// where decompressing costs most of the broker's CPU (zstd: ~60 % of a produce).
    case relaxed
}
