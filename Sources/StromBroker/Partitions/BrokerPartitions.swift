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

    func topicName(id: KafkaUUID) -> String? { image.withLock { $0.topic(id: id)?.name } }
    func topicId(name: String) -> KafkaUUID? { image.withLock { $0.topic(named: name)?.id } }
}
