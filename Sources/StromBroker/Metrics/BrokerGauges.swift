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
