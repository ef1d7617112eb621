import CoreMetrics
import StromCluster
import StromStorage
import Synchronization

/// Gauges read when metrics are scraped, from the metadata image and the logs: partition health,
/// leaderships, the controller, and each log's size (Kafka's ReplicaManager, KafkaController and
/// Log gauges, under the JMX exporter's names).
final class BrokerGauges: Sendable {
    private let factory: any MetricsFactory
    private let leaderCount: Gauge
    private let partitionCount: Gauge
    private let underReplicated: Gauge
    private let underMinInSync: Gauge
    private let offlineReplicas: Gauge
    private let offlinePartitions: Gauge
    private let activeController: Gauge
    /// Fetches parked in a long poll now (Kafka's Fetch purgatory size).
    private let fetchPurgatorySize: Gauge
    /// Long polls ended by new data and by their wait running out, counted from the waiters'
    /// own totals at each scrape.
    private let longPollsWoken: Counter
    private let longPollsExpired: Counter
    private let longPollsCounted = Mutex<(woken: Int, expired: Int)>((0, 0))

    private struct LogGauges {
        let size: Gauge
        let segments: Gauge
        let endOffset: Gauge
        let startOffset: Gauge

        func destroy() {
            for gauge in [size, segments, endOffset, startOffset] { gauge.destroy() }
        }
    }

    private let logGauges = Mutex<[TopicPartition: LogGauges]>([:])

    private struct LagGauges {
        let records: Gauge
        let seconds: Gauge
        let status: Gauge

        func destroy() {
            for gauge in [records, seconds, status] { gauge.destroy() }
        }
    }

    private let lagGauges = Mutex<(partitions: [LagMonitor.Key: LagGauges], groups: [String: Gauge])>(([:], [:]))

    init(factory: any MetricsFactory) {
        self.factory = factory
        func gauge(_ name: String) -> Gauge { Gauge(label: name, dimensions: [], factory: factory) }
        leaderCount = gauge("kafka_server_replicamanager_leadercount")
        partitionCount = gauge("kafka_server_replicamanager_partitioncount")
        underReplicated = gauge("kafka_server_replicamanager_underreplicatedpartitions")
        underMinInSync = gauge("kafka_server_replicamanager_underminisrpartitioncount")
        offlineReplicas = gauge("kafka_server_replicamanager_offlinereplicacount")
        offlinePartitions = gauge("kafka_controller_kafkacontroller_offlinepartitionscount")
        activeController = gauge("kafka_controller_kafkacontroller_activecontrollercount")
        fetchPurgatorySize = Gauge(
            label: "kafka_server_delayedoperationpurgatory_purgatorysize", dimensions: [("delayedOperation", "Fetch")], factory: factory)
        longPollsWoken = Counter(label: "strom_fetch_long_polls_total", dimensions: [("outcome", "woken")], factory: factory)
        longPollsExpired = Counter(label: "strom_fetch_long_polls_total", dimensions: [("outcome", "expired")], factory: factory)
    }

    /// The fetches waiting for data now, and how the finished waits ended.
    func refresh(longPolls waiters: HighWatermarkWaiters) {
        fetchPurgatorySize.record(waiters.waitingCount)
        let totals = waiters.outcomeCounts
        let added = longPollsCounted.withLock { counted in
            defer { counted = totals }
            return (woken: totals.woken - counted.woken, expired: totals.expired - counted.expired)
        }
        if added.woken > 0 { longPollsWoken.increment(by: added.woken) }
        if added.expired > 0 { longPollsExpired.increment(by: added.expired) }
    }

    /// Sets every gauge from `image` as seen by broker `nodeId` and from the logs it holds.
    func refresh(image: MetadataImage, nodeId: Int32, logs: [PartitionLog]) {
        let logsByPartition = Dictionary(logs.map { ($0.topicPartition, $0) }, uniquingKeysWith: { first, _ in first })
        var led = 0, held = 0, underReplicatedCount = 0, underMinInSyncCount = 0, offlineCount = 0
        for topic in image.topics {
            for assignment in topic.partitions {
                if assignment.leader == -1 { offlineCount += 1 }
                guard assignment.replicas.contains(nodeId) else { continue }
                held += 1
                guard assignment.leader == nodeId else { continue }
                led += 1
                if assignment.inSyncReplicas.count < assignment.replicas.count { underReplicatedCount += 1 }
                let log = logsByPartition[TopicPartition(topic: topic.name, partition: assignment.partition)]
                if let log, assignment.inSyncReplicas.count < log.config.minInSyncReplicas { underMinInSyncCount += 1 }
            }
        }
        let isController = image.controllerId == nodeId
        leaderCount.record(led)
        partitionCount.record(held)
        underReplicated.record(underReplicatedCount)
        underMinInSync.record(underMinInSyncCount)
        offlineReplicas.record(logs.filter { $0.offlineReason != nil }.count)
        // Kafka reports these on the active controller only, so that a sum over brokers is right.
        offlinePartitions.record(isController ? offlineCount : 0)
        activeController.record(isController ? 1 : 0)
        refreshLogs(logsByPartition)
    }

    /// Sets the consumer-lag gauges (kafka-lag-exporter's names for lag in records and seconds;
    /// Burrow's statuses as numbers: partition 0 OK, 1 WARNING, 2 STALL, 3 STOP, 4 REWIND; group
    /// 0 OK, 1 WARNING, 2 ERROR). A partition whose time lag is unknown reports none.
    func refresh(lag: [LagMonitor.PartitionLag]) {
        let factory = self.factory
        lagGauges.withLock { gauges in
            let current = Set(lag.map(\.key))
            for (key, stale) in gauges.partitions where !current.contains(key) {
                stale.destroy()
                gauges.partitions[key] = nil
            }
            var groupStatuses: [String: [PartitionLagStatus]] = [:]
            for partition in lag {
                groupStatuses[partition.key.group, default: []].append(partition.status)
                let handles = gauges.partitions[partition.key] ?? {
                    let dimensions = [
                        ("group", partition.key.group), ("topic", partition.key.topic), ("partition", String(partition.key.partition)),
                    ]
                    func gauge(_ name: String) -> Gauge { Gauge(label: name, dimensions: dimensions, factory: factory) }
                    let made = LagGauges(
                        records: gauge("kafka_consumergroup_group_lag"), seconds: gauge("kafka_consumergroup_group_lag_seconds"),
                        status: gauge("strom_consumergroup_partition_status"))
                    gauges.partitions[partition.key] = made
                    return made
                }()
                handles.records.record(partition.lag)
                if let timeLagMs = partition.timeLagMs { handles.seconds.record(Double(timeLagMs) / 1_000) }
                handles.status.record(PartitionLagStatus.allCases.firstIndex(of: partition.status) ?? 0)
            }
            for (group, stale) in gauges.groups where groupStatuses[group] == nil {
                stale.destroy()
                gauges.groups[group] = nil
            }
            for (group, statuses) in groupStatuses {
                let gauge = gauges.groups[group] ?? {
                    let made = Gauge(label: "strom_consumergroup_status", dimensions: [("group", group)], factory: factory)
                    gauges.groups[group] = made
                    return made
                }()
                let status = GroupLagStatus(partitions: statuses)
                gauge.record([GroupLagStatus.ok, .warning, .error].firstIndex(of: status) ?? 0)
            }
        }
    }

    private func refreshLogs(_ logs: [TopicPartition: PartitionLog]) {
        let factory = self.factory
        logGauges.withLock { gauges in
            for (topicPartition, stale) in gauges where logs[topicPartition] == nil {
                stale.destroy()
                gauges[topicPartition] = nil
            }
            for (topicPartition, log) in logs {
                let handles = gauges[topicPartition] ?? {
                    let dimensions = [("topic", topicPartition.topic), ("partition", String(topicPartition.partition))]
                    func gauge(_ name: String) -> Gauge { Gauge(label: name, dimensions: dimensions, factory: factory) }
                    let made = LogGauges(
                        size: gauge("kafka_log_log_size"), segments: gauge("kafka_log_log_numlogsegments"),
                        endOffset: gauge("kafka_log_log_logendoffset"), startOffset: gauge("kafka_log_log_logstartoffset"))
                    gauges[topicPartition] = made
                    return made
                }()
                let offsets = log.offsets
                handles.size.record(log.sizeBytes)
                handles.segments.record(log.segmentCount)
                handles.endOffset.record(offsets.logEndOffset)
                handles.startOffset.record(offsets.logStartOffset)
            }
        }
    }
}
