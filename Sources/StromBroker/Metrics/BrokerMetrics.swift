public import CoreMetrics
import KafkaProtocol
import Synchronization

/// What the broker counts and times, through swift-metrics (the admin listener serves them to
/// Prometheus). Names are Kafka's JMX names as the Prometheus JMX exporter writes them where Kafka
/// has one (`kafka_server_brokertopicmetrics_messagesin_total{topic}`), `strom_…` for what is
/// Strom's own. Handles are made once per label set and kept: recording is a lookup and an add.
public final class BrokerMetrics: Sendable {
    public let factory: any MetricsFactory

    private struct TopicCounters {
        let messagesIn: Counter
        let bytesIn: Counter
        let bytesOut: Counter
    }

    private struct RequestKey: Hashable {
        let apiKey: Int16
        let version: Int16
    }

    private struct RequestHandles {
        let requests: Counter
        let duration: Timer
    }

    private struct ErrorKey: Hashable {
        let apiKey: Int16
        let code: Int16
    }

    private let topics = Mutex<[String: TopicCounters]>([:])
    private let requests = Mutex<[RequestKey: RequestHandles]>([:])
    private let errors = Mutex<[ErrorKey: Counter]>([:])
    /// One fsync round of the group commit: how long it took, how many waiters and logs it served.
    let flushDuration: Timer
    let groupCommitWaiters: Recorder
    let groupCommitLogs: Recorder
    /// Read from the metadata and the logs at each scrape (``Broker/refreshGauges()``).
    let gauges: BrokerGauges
    /// ISR changes this broker committed as a leader (Kafka's IsrShrinksPerSec, IsrExpandsPerSec).
    private let inSyncReplicaShrinks: Counter
    private let inSyncReplicaExpansions: Counter
    /// The client listener's connections (Kafka's socket-server-metrics, per listener).
    private let connectionCount: Gauge
    private let connectionsCreated: Counter
    private let connectionsClosed: Counter
    private let queueTimes = Mutex<[Int16: Timer]>([:])
    /// Running totals for the console's throughput history (whatever the metrics backend).
    private let recordsIn = Atomic<Int>(0)
    private let bytesIn = Atomic<Int>(0)
    private let bytesOut = Atomic<Int>(0)

    /// - Parameter factory: where the metrics go; the process-wide one by default (tests pass their own).
    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
        flushDuration = Timer(label: Self.logFlushSeconds, dimensions: [], factory: factory)
        groupCommitWaiters = Recorder(label: Self.groupCommitWaitersName, dimensions: [], aggregate: true, factory: factory)
        groupCommitLogs = Recorder(label: Self.groupCommitLogsName, dimensions: [], aggregate: true, factory: factory)
        gauges = BrokerGauges(factory: factory)
        inSyncReplicaShrinks = Counter(label: "kafka_server_replicamanager_isrshrinks_total", dimensions: [], factory: factory)
        inSyncReplicaExpansions = Counter(label: "kafka_server_replicamanager_isrexpands_total", dimensions: [], factory: factory)
        let listener = [("listener", "PLAINTEXT")]
        connectionCount = Gauge(label: "kafka_server_socket_server_metrics_connection_count", dimensions: listener, factory: factory)
        connectionsCreated = Counter(label: "kafka_server_socket_server_metrics_connection_creation_total", dimensions: listener, factory: factory)
        connectionsClosed = Counter(label: "kafka_server_socket_server_metrics_connection_close_total", dimensions: listener, factory: factory)
        connectionCount.record(0)
    }

    /// The histogram names, for a backend that configures buckets per name.
    public static let requestSeconds = "strom_request_duration_seconds"
    public static let requestQueueSeconds = "strom_request_queue_duration_seconds"
    public static let logFlushSeconds = "strom_log_flush_duration_seconds"
    public static let groupCommitWaitersName = "strom_group_commit_waiters"
    public static let groupCommitLogsName = "strom_group_commit_logs"

    private func counters(_ topic: String) -> TopicCounters {
        topics.withLock { topics in
            if let existing = topics[topic] { return existing }
            let dimensions = [("topic", topic)]
            let made = TopicCounters(
                messagesIn: Counter(label: "kafka_server_brokertopicmetrics_messagesin_total", dimensions: dimensions, factory: factory),
                bytesIn: Counter(label: "kafka_server_brokertopicmetrics_bytesin_total", dimensions: dimensions, factory: factory),
                bytesOut: Counter(label: "kafka_server_brokertopicmetrics_bytesout_total", dimensions: dimensions, factory: factory))
            topics[topic] = made
            return made
        }
    }

    /// Records a client's batch appended to `topic` (not a replica's copy, not a duplicate).
    func appended(topic: String, records: Int, bytes: Int) {
        let counters = counters(topic)
        counters.messagesIn.increment(by: records)
        counters.bytesIn.increment(by: bytes)
        recordsIn.add(records, ordering: .relaxed)
        bytesIn.add(bytes, ordering: .relaxed)
    }

    /// Records record bytes sent to a consumer (not to a follower) from `topic`.
    func served(topic: String, bytes: Int) {
        guard bytes > 0 else { return }
        counters(topic).bytesOut.increment(by: bytes)
        bytesOut.add(bytes, ordering: .relaxed)
    }

    /// Records and bytes produced by clients, and record bytes served to consumers, since start.
    var totals: ThroughputHistory.Totals {
        .init(recordsIn: recordsIn.load(ordering: .relaxed), bytesIn: bytesIn.load(ordering: .relaxed), bytesOut: bytesOut.load(ordering: .relaxed))
    }

    /// Records one answered request and how long the broker took from decoding to the answer.
    func answered(_ apiKey: ApiKey, version: Int16, duration: Duration) {
        let key = RequestKey(apiKey: apiKey.rawValue, version: version)
        let handles = requests.withLock { requests in
            if let existing = requests[key] { return existing }
            let dimensions = [("request", apiKey.name), ("version", String(version))]
            let made = RequestHandles(
                requests: Counter(label: "kafka_network_requestmetrics_requests_total", dimensions: dimensions, factory: factory),
                duration: Timer(label: Self.requestSeconds, dimensions: dimensions, factory: factory))
            requests[key] = made
            return made
        }
        handles.requests.increment()
        handles.duration.recordNanoseconds(duration.nanoseconds)
    }

    /// Records an error code in an answer (Kafka's ErrorsPerSec, by request and error name).
    func failed(_ apiKey: ApiKey, code: Int16, count: Int = 1) {
        guard code != 0 else { return }
        let key = ErrorKey(apiKey: apiKey.rawValue, code: code)
        let counter = errors.withLock { errors in
            if let existing = errors[key] { return existing }
            let name = KafkaErrorCode(rawValue: code).name
            let made = Counter(
                label: "kafka_network_requestmetrics_errors_total", dimensions: [("request", apiKey.name), ("error", name)], factory: factory)
            errors[key] = made
            return made
        }
        counter.increment(by: count)
    }

    /// Records how long a request waited between being read and being processed: behind the
    /// connection's earlier requests (Kafka processes a connection's requests in order) and for a
    /// thread to run it. Kafka's RequestQueueTimeMs, in seconds.
    public func queued(apiKey: Int16, waited: Duration) {
        let timer = queueTimes.withLock { timers in
            if let existing = timers[apiKey] { return existing }
            let name = ApiKey(rawValue: apiKey)?.name ?? String(apiKey)
            let made = Timer(label: Self.requestQueueSeconds, dimensions: [("request", name)], factory: factory)
            timers[apiKey] = made
            return made
        }
        timer.recordNanoseconds(waited.nanoseconds)
    }

    /// Records the client listener's connection count after a connection was opened or closed.
    public func connectionsChanged(count: Int, opened: Bool) {
        connectionCount.record(count)
        (opened ? connectionsCreated : connectionsClosed).increment()
    }

    /// Records an ISR change committed by this broker as a partition's leader.
    func inSyncReplicasChanged(from old: Int, to new: Int) {
        if new < old { inSyncReplicaShrinks.increment() } else if new > old { inSyncReplicaExpansions.increment() }
    }

    /// Records one group-commit round.
    func flushRound(waiters: Int, logs: Int, duration: Duration) {
        flushDuration.recordNanoseconds(duration.nanoseconds)
        groupCommitWaiters.record(waiters)
        groupCommitLogs.record(logs)
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
