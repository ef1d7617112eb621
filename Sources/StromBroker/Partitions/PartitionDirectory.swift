public import KafkaProtocol
public import StromStorage

/// Resolves the partitions a request names to their logs. The broker backs it with the cluster
/// metadata and the log manager; handler tests back it with a dictionary.
public protocol PartitionDirectory: Sendable {
    func log(topic: String, partition: Int32) -> PartitionLog?
    /// Fetch v13+ names topics by id.
    func topicName(id: KafkaUUID) -> String?
    func topicId(name: String) -> KafkaUUID?
}
