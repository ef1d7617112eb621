import KafkaProtocol
import StromStorage

// The checks behind every topic operation, as pure functions of an image: each takes the request and the
// values the caller chose (a fresh topic id, the nodes to place replicas on) and returns the topic to commit,
// or throws the error the broker answers with. Any MetadataStore implementation runs them against its latest
// image before committing, so the embedded and etcd stores refuse the same requests with the same errors.
//
// The order of the checks is Kafka's (`ReplicationControlManager.createTopics` and `createPartitions`), so
// that a request with several problems gets the error Kafka would give.

extension MetadataImage {
    /// The topic that creating `name` would add.
    ///
    /// - Parameters:
    ///   - partitionCount: Positive, or -1 for `configuration.defaultPartitionCount`.
    ///   - replicationFactor: Positive, or -1 for `configuration.defaultReplicationFactor`; at most
    ///     `nodeIds.count`.
    ///   - configs: Topic config overrides, validated with `LogConfig(properties:defaults:)`.
    ///   - id: The new topic's id; must not be in use.
    ///   - nodeIds: The nodes that may hold replicas.
    func topicToCreate(
        name: String, partitionCount: Int32, replicationFactor: Int16, configs: [String: String], id: KafkaUUID,
        nodeIds: [Int32], configuration: MetadataConfiguration
    ) throws(MetadataError) -> TopicMetadata {
        precondition(id != .zero && topic(id: id) == nil, "topic id \(id) is zero or in use")
        try TopicNames.validate(name)
        if name == TopicNames.clusterMetadataTopicName {
            throw .reservedTopicName(name)
        }
        if topic(named: name) != nil {
            throw .topicAlreadyExists(name: name)
        }
        if let existing = collidingTopic(name) {
            throw .topicNameCollides(name: name, existingTopic: existing)
        }
        try Self.validateConfigs(configs, configuration: configuration)
        guard replicationFactor == -1 || replicationFactor > 0 else {
            throw .invalidReplicationFactor("Replication factor must be larger than 0, or -1 to use the default value.")
        }
        guard partitionCount == -1 || partitionCount > 0 else {
            throw .invalidPartitions("Number of partitions was set to an invalid non-positive value.")
        }
        let resolvedPartitionCount = partitionCount == -1 ? configuration.defaultPartitionCount : partitionCount
        let resolvedReplicationFactor =
            replicationFactor == -1 ? configuration.defaultReplicationFactor : replicationFactor
        guard resolvedPartitionCount <= Limits.partitionCountMax else {
            throw .invalidPartitions(
                "Number of partitions \(resolvedPartitionCount) is more than the \(Limits.partitionCountMax) allowed.")
        }
        let partitions = try Self.assignReplicas(
            partitions: 0..<resolvedPartitionCount, replicationFactor: Int(resolvedReplicationFactor), nodeIds: nodeIds)
        return TopicMetadata(
            name: name, id: id, partitions: partitions, configs: configs, isInternal: TopicNames.isInternal(name))
    }

    /// The topic named `name`, which deleting it removes.
    func topicToDelete(name: String) throws(MetadataError) -> TopicMetadata {
        guard let topic = topic(named: name) else {
            throw .unknownTopic(name: name)
        }
        return topic
    }

    /// The topic with id `id`, which deleting it removes.
    func topicToDelete(id: KafkaUUID) throws(MetadataError) -> TopicMetadata {
        guard let topic = topic(id: id) else {
            throw .unknownTopicId(id)
        }
        return topic
    }

    /// The topic `name` grown to `newTotalCount` partitions, the new ones placed with the replication factor
    /// of the existing ones.
    func topicWithPartitions(
        name: String, newTotalCount: Int32, nodeIds: [Int32]
    ) throws(MetadataError) -> TopicMetadata {
        guard var topic = topic(named: name) else {
            throw .unknownTopic(name: name)
        }
        let currentCount = topic.partitionCount
        if newTotalCount == currentCount {
            throw .invalidPartitions("Topic already has \(currentCount) partition(s).")
        }
        if newTotalCount < currentCount {
            throw .invalidPartitions(
                "The topic \(name) currently has \(currentCount) partition(s); \(newTotalCount) would not be an "
                    + "increase.")
        }
        guard newTotalCount <= Limits.partitionCountMax else {
            throw .invalidPartitions(
                "Number of partitions \(newTotalCount) is more than the \(Limits.partitionCountMax) allowed.")
        }
        let replicationFactor = topic.partitions.first?.replicas.count ?? 1
        topic.partitions += try Self.assignReplicas(
            partitions: currentCount..<newTotalCount, replicationFactor: replicationFactor, nodeIds: nodeIds)
        return topic
    }

    /// The topic `name` with the overrides in `set` set and those in `remove` removed, validated as a whole.
    /// Removing a key that isn't set is allowed and changes nothing, as in Kafka.
    func topicWithConfigs(
        name: String, set: [String: String], remove: Set<String>, configuration: MetadataConfiguration
    ) throws(MetadataError) -> TopicMetadata {
        guard var topic = topic(named: name) else {
            throw .unknownTopic(name: name)
        }
        if let key = set.keys.sorted().first(where: remove.contains) {
            throw .invalidConfig(key: key, reason: "Config \(key) is both set and removed in one request.")
        }
        for key in remove {
            topic.configs[key] = nil
        }
        topic.configs.merge(set) { _, new in new }
        try Self.validateConfigs(topic.configs, configuration: configuration)
        return topic
    }

    /// The broker keys that may change while brokers run: the broker-wide defaults of the topic
    /// configs (`log.retention.ms`, `message.max.bytes`, ...), as in Kafka.
    public static let dynamicBrokerKeys: [String: String] = Dictionary(
        uniqueKeysWithValues: LogConfig.keys.map { ($0.serverDefaultProperty, $0.name) })

    /// A broker resource's dynamic configs after the change, validated as a whole.
    func brokerConfigsWith(
        resource: String, set: [String: String], remove: Set<String>, configuration: MetadataConfiguration
    ) throws(MetadataError) -> [String: String] {
        if let key = set.keys.sorted().first(where: remove.contains) {
            throw .invalidConfig(key: key, reason: "Config \(key) is both set and removed in one request.")
        }
        if let key = set.keys.sorted().first(where: { Self.dynamicBrokerKeys[$0] == nil }) {
            throw .readOnlyConfig(key: key)
        }
        var configs = brokerConfigs[resource] ?? [:]
        for key in remove { configs[key] = nil }
        configs.merge(set) { _, new in new }
        let asTopicKeys = Dictionary(uniqueKeysWithValues: configs.map { (Self.dynamicBrokerKeys[$0.key]!, $0.value) })
        do throws(LogConfigError) {
            _ = try LogConfig(properties: asTopicKeys, defaults: configuration.logConfigDefaults)
        } catch {
            switch error {
            case .unknownKey(let key), .invalidValue(let key, _, _):
                let brokerKey = LogConfig.keys.first { $0.name == key }?.serverDefaultProperty ?? key
                throw .invalidConfig(key: brokerKey, reason: error.description)
            }
        }
        return configs
    }

    /// A group's configs after the change, checked by `validate`.
    func groupConfigsWith(
        group: String, set: [String: String], remove: Set<String>, validate: ([String: String]) throws(MetadataError) -> Void
    ) throws(MetadataError) -> [String: String] {
        if let key = set.keys.sorted().first(where: remove.contains) {
            throw .invalidConfig(key: key, reason: "Config \(key) is both set and removed in one request.")
        }
        var configs = groupConfigs[group] ?? [:]
        for key in remove { configs[key] = nil }
        configs.merge(set) { _, new in new }
        try validate(configs)
        return configs
    }

    // MARK: Helpers

    /// Checks topic overrides with Kafka's rules (`LogConfig(properties:defaults:)`).
    static func validateConfigs(
        _ configs: [String: String], configuration: MetadataConfiguration
    ) throws(MetadataError) {
        do throws(LogConfigError) {
            _ = try LogConfig(properties: configs, defaults: configuration.logConfigDefaults)
        } catch {
            switch error {
            case .unknownKey(let key), .invalidValue(let key, _, _):
                throw .invalidConfig(key: key, reason: error.description)
            }
        }
    }

    /// Places `replicationFactor` replicas of each partition on distinct nodes, round robin: partition `p`
    /// starts at the `p`-th node (in node id order), so that leaders spread evenly. The first replica leads,
    /// at epoch 0, and every replica starts in sync (a new partition is empty).
    static func assignReplicas(
        partitions: Range<Int32>, replicationFactor: Int, nodeIds: [Int32]
    ) throws(MetadataError) -> [PartitionAssignment] {
        let nodes = Set(nodeIds).sorted()
        guard replicationFactor <= nodes.count else {
            throw .invalidReplicationFactor(
                "Unable to replicate the partition \(replicationFactor) time(s): The target replication factor of "
                    + "\(replicationFactor) cannot be reached because only \(nodes.count) broker(s) are registered.")
        }
        return partitions.map { partition in
            let replicas = (0..<replicationFactor).map { nodes[(Int(partition) + $0) % nodes.count] }
            return PartitionAssignment(
                partition: partition, replicas: replicas, leader: replicas[0], leaderEpoch: 0, inSyncReplicas: replicas)
        }
    }
}
