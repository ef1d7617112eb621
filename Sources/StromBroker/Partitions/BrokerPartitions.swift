import KafkaProtocol
import StromCluster
import StromStorage
import Synchronization

/// The partitions this broker serves: the latest metadata image (which topics exist, their ids)
/// joined with the logs on disk. Reads take a snapshot under a short lock; the image is replaced
/// whenever the metadata store reports a change.
final class BrokerPartitions: PartitionDirectory {
    private let image: Mutex<MetadataImage>
    let logs: LogManager

    init(image: MetadataImage, logs: LogManager) {
        self.image = Mutex(image)
        self.logs = logs
    }

    var current: MetadataImage { image.withLock { $0 } }

    func update(_ newImage: MetadataImage) {
        image.withLock { if newImage.revision >= $0.revision { $0 = newImage } }
    }

    func log(topic: String, partition: Int32) -> PartitionLog? {
        guard let metadata = image.withLock({ $0.topic(named: topic) }), partition >= 0, partition < metadata.partitionCount else {
            return nil
        }
        return logs.log(for: TopicPartition(topic: topic, partition: partition))
    }

    func partitionExists(topic: String, partition: Int32) -> Bool {
        image.withLock { image in image.topic(named: topic).map { partition >= 0 && partition < $0.partitionCount } ?? false }
    }

    func currentLeader(topic: String, partition: Int32) -> LeaderEndpoint? {
        image.withLock { image in
            guard let metadata = image.topic(named: topic), partition >= 0, partition < metadata.partitionCount else { return nil }
            let assignment = metadata.partitions[Int(partition)]
            guard let broker = image.brokersById[assignment.leader] else { return nil }
            return LeaderEndpoint(nodeId: broker.nodeId, leaderEpoch: assignment.leaderEpoch, host: broker.host, port: broker.port, rack: broker.rack)
        }
    }

    func topicName(id: KafkaUUID) -> String? { image.withLock { $0.topic(id: id)?.name } }
    func topicId(name: String) -> KafkaUUID? { image.withLock { $0.topic(named: name)?.id } }
}
