public import KafkaProtocol
import Foundation

/// Where a Strom cluster keeps its metadata in etcd: every key under one prefix (`etcd.prefix`,
/// default `/strom`), so several clusters can share an etcd. docs/ARCHITECTURE.md lists each key
/// with the transactions that write it.
///
///     <prefix>/cluster_id                      the cluster id (created once: compare absent)
///     <prefix>/controller                      {"nodeId"} under the controller's broker lease; its
///                                              create revision is the controller epoch
///     <prefix>/brokers/<nodeId>                {"host","port","rack"} under the broker's lease
///     <prefix>/topics/<name>                   {"id","isInternal","configs","partitionCount"}
///     <prefix>/partitions/<topicId>/<partition> {"replicas","leader","leaderEpoch","partitionEpoch","inSyncReplicas"}
///     <prefix>/configs/cluster                 dynamic broker configs for every broker
///     <prefix>/configs/broker/<nodeId>         dynamic broker configs for one broker
///     <prefix>/producer_ids                    {"next"}: the first producer id not handed out
///
/// Topic names cannot hold `/` (``TopicNames``) and topic ids are URL-safe base64, so each is one
/// key component. Partition keys are under the topic's id, not its name: two brokers creating the
/// same name at once write disjoint partition keys, and only the one whose topic key lands owns a
/// topic (the other's keys are removed).
public struct EtcdKeyLayout: Sendable, Hashable {
    /// The prefix without a trailing `/`.
    public let prefix: String

    public init(prefix: String = "/strom") {
        var trimmed = prefix
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.prefix = trimmed
    }

    /// Every key of the cluster starts with this.
    public var root: String { "\(prefix)/" }
    public var clusterId: String { "\(prefix)/cluster_id" }
    public var controller: String { "\(prefix)/controller" }
    public var brokers: String { "\(prefix)/brokers/" }
    public func broker(_ nodeId: Int32) -> String { "\(brokers)\(nodeId)" }
    public var topics: String { "\(prefix)/topics/" }
    public func topic(_ name: String) -> String { "\(topics)\(name)" }
    public func partitions(of topicId: KafkaUUID) -> String { "\(prefix)/partitions/\(topicId)/" }
    public func partition(_ topicId: KafkaUUID, _ partition: Int32) -> String { "\(partitions(of: topicId))\(partition)" }
    public var producerIds: String { "\(prefix)/producer_ids" }

    /// `""` (every broker) or a node id, as DescribeConfigs names broker resources.
    public func brokerConfigs(resource: String) -> String {
        resource.isEmpty ? "\(prefix)/configs/cluster" : "\(prefix)/configs/broker/\(resource)"
    }

    /// A group's configs; the group id percent-encoded, so that one with a `/` stays one key.
    public func groupConfigs(group: String) -> String {
        "\(prefix)/configs/group/\(group.addingPercentEncoding(withAllowedCharacters: Self.groupIdCharacters) ?? group)"
    }

    private static let groupIdCharacters = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._"))

    /// What a key under the prefix is.
    public enum Key: Sendable, Hashable {
        case clusterId
        case controller
        case broker(Int32)
        case topic(String)
        case partition(topicId: KafkaUUID, partition: Int32)
        case brokerConfigs(resource: String)
        case groupConfigs(group: String)
        case producerIds
    }

    /// The meaning of `key`, or nil for a key Strom does not write.
    public func parse(_ key: String) -> Key? {
        guard key.hasPrefix(root) else { return nil }
        let parts = key.dropFirst(root.count).split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        switch parts.count {
        case 1 where parts[0] == "cluster_id": return .clusterId
        case 1 where parts[0] == "controller": return .controller
        case 1 where parts[0] == "producer_ids": return .producerIds
        case 2 where parts[0] == "brokers": return Int32(parts[1]).map { .broker($0) }
        case 2 where parts[0] == "topics" && !parts[1].isEmpty: return .topic(parts[1])
        case 2 where parts[0] == "configs" && parts[1] == "cluster": return .brokerConfigs(resource: "")
        case 3 where parts[0] == "configs" && parts[1] == "broker" && Int32(parts[2]) != nil: return .brokerConfigs(resource: parts[2])
        case 3 where parts[0] == "configs" && parts[1] == "group": return parts[2].removingPercentEncoding.map { .groupConfigs(group: $0) }
        case 3 where parts[0] == "partitions":
            guard let id = KafkaUUID(kafkaText: parts[1]), let partition = Int32(parts[2]) else { return nil }
            return .partition(topicId: id, partition: partition)
        default: return nil
        }
    }
}
