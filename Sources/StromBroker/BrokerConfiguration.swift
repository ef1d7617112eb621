public import StromStorage

/// What `strom serve` configures: where to listen and keep data, and the broker-wide defaults
/// Kafka names in `server.properties`. A `Sendable` value with documented defaults.
public struct BrokerConfiguration: Sendable {
    /// `node.id`.
    public var nodeId: Int32 = 0
    /// The address to bind; tests use 127.0.0.1 and port 0 (an ephemeral port).
    public var listenHost: String = "127.0.0.1"
    public var listenPort: Int = 9092
    /// `admin.listen`: the admin listener's address (metrics, health); nil turns it off.
    public var adminListen: (host: String, port: Int)? = ("127.0.0.1", 9644)
    /// `alerts.file`: the alert rules (JSON), evaluated by the admin listener's side.
    public var alertsFile: String?
    /// `console.password.hash` and `console.readonly.password.hash`: bcrypt hashes of the
    /// console's passwords (asked only when the admin listener is off loopback).
    public var consolePasswordHash: String?
    public var consoleReadOnlyPasswordHash: String?
    /// `log.format`: text (swift-log's stream lines) or json (one object per line).
    public var logFormat: LogFormat = .text
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
    public var shareCoordinator = ShareCoordinatorSettings()
    public var transactions = TransactionCoordinatorSettings()
    public var shareGroups = ShareGroupSettings()
    /// The cluster this broker joins (`etcd.endpoints` set); nil runs alone on the embedded store.
    public var cluster: ClusterSettings?
    /// `broker.rack`: where replicas are spread across when every broker has one.
    public var rack: String?
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


/// How a broker takes part in a cluster: where etcd is, how long its registration lives without
/// renewal, and Kafka's replication timings.
public struct ClusterSettings: Sendable, Equatable {
    /// `etcd.endpoints`: `host:port` of each etcd member, tried in turn.
    public var etcdEndpoints: [String]
    /// `etcd.prefix`: every key of this cluster lives under it.
    public var etcdPrefix = "/strom"
    /// `broker.session.timeout.ms` (Kafka's, 9000): a broker not heard from for this long is dead.
    public var sessionTimeoutMs: Int64 = 9_000
    /// `replica.lag.time.max.ms` (Kafka's, 30000): a follower this far behind leaves the ISR.
    public var replicaLagTimeMaxMs: Int64 = 30_000
    /// `replica.fetch.wait.max.ms` (Kafka's, 500): how long a follower's fetch waits for data.
    public var replicaFetchWaitMaxMs: Int32 = 500
    /// `replica.fetch.max.bytes` (Kafka's, 1 MiB per partition) and `replica.fetch.response.max.bytes` (10 MiB).
    public var replicaFetchMaxBytes: Int32 = 1_048_576
    public var replicaFetchResponseMaxBytes: Int32 = 10_485_760
    /// `controlled.shutdown.max.wait.ms` (Strom's): how long SIGTERM waits for this broker's
    /// leaderships to move before it stops anyway.
    public var controlledShutdownWaitMaxMs: Int64 = 10_000

    public init(etcdEndpoints: [String]) {
        self.etcdEndpoints = etcdEndpoints
    }
}
