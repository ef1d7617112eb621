public import KafkaProtocol
public import StromStorage

/// Resolves the partitions a request names to their logs. The broker backs it with the cluster
/// metadata and the log manager; handler tests back it with a dictionary.
public protocol PartitionDirectory: Sendable {
    func log(topic: String, partition: Int32) -> PartitionLog?
    /// Fetch v13+ names topics by id.
    func topicName(id: KafkaUUID) -> String?
    func topicId(name: String) -> KafkaUUID?
    /// Whether the partition exists, with a replica here or not.
    func partitionExists(topic: String, partition: Int32) -> Bool
    /// In a cluster: the partition's leader now and where it listens; nil alone, for an unknown
    /// partition, and while it has no leader.
    func currentLeader(topic: String, partition: Int32) -> LeaderEndpoint?
}

extension PartitionDirectory {
    public func partitionExists(topic: String, partition: Int32) -> Bool { log(topic: topic, partition: partition) != nil }
    public func currentLeader(topic: String, partition: Int32) -> LeaderEndpoint? { nil }
}

/// A partition's leader, its leader epoch and its advertised listener (KIP-951 hints).
public struct LeaderEndpoint: Sendable, Hashable {
    public var nodeId: Int32
    public var leaderEpoch: Int32
    public var host: String
    public var port: Int32
    public var rack: String?
}
