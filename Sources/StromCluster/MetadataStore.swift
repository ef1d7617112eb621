public import KafkaProtocol

/// The cluster metadata — brokers, topics, partition assignments, topic configs — behind one interface,
/// so that nothing above StromCluster knows whether one broker keeps it in its data directory
/// (``EmbeddedMetadataStore``) or a cluster keeps it in etcd.
///
/// Writes (creating and deleting topics, adding partitions, altering configs, registering brokers) return
/// once the change is committed: durable on disk for the embedded store, accepted by an etcd transaction
/// for a cluster. Each committed change gets the next ``MetadataImage/revision``.
///
/// Reads come in two kinds. The request path keeps a ``MetadataImage`` current from ``changes()`` and reads
/// it without awaiting anything; ``image()``, ``topic(named:)`` and friends answer from the store's latest
/// image, for admin paths and tests.
///
/// Validation is Kafka's and its errors map to Kafka's codes (``MetadataError/kafkaErrorCode``), so a
/// handler answers with `error.kafkaErrorCode` and `error.description`. Each method that a Kafka request
/// can ask to `validateOnly` takes that flag: it runs every check and returns what would be committed,
/// without committing it.
public protocol MetadataStore: Sendable {
    /// The cluster id: Kafka's 22-character text form of a random UUID, fixed when the cluster was created.
    var clusterId: String { get }

    /// The latest committed state.
    func image() async -> MetadataImage

    /// Every change from now on, starting with a ``MetadataChange/Kind/snapshot(_:)`` of the current state,
    /// then each committed change in revision order (each revision one more than the one before).
    ///
    /// Apply each element to a ``MetadataImage`` with ``MetadataImage/apply(_:)`` to stay current. The stream
    /// buffers a bounded number of changes; a subscriber that falls that far behind has its stream ended,
    /// and should call `changes()` again to start over from a fresh snapshot. Cancelling the iterating task
    /// ends the subscription.
    func changes() async -> AsyncStream<MetadataChange>

    /// Registers a broker, or updates its registration (a restarted broker with a new address).
    func registerBroker(_ broker: BrokerRegistration) async throws(MetadataError)

    /// Every registered broker, sorted by node id.
    func brokers() async -> [BrokerRegistration]

    /// Creates a topic with a new random id and its partitions placed on the brokers.
    ///
    /// - Parameters:
    ///   - name: Must be a valid name (``TopicNames``), not in use and not colliding with one in use.
    ///   - partitionCount: Positive, or -1 for the broker's `num.partitions`.
    ///   - replicationFactor: Positive, or -1 for the broker's `default.replication.factor`; at most the
    ///     number of brokers.
    ///   - configs: Topic-level config overrides (Kafka keys such as `retention.ms`), validated by Kafka's
    ///     rules.
    ///   - validateOnly: Check and return the topic without creating it (CreateTopics `validateOnly`).
    /// - Returns: The topic as created.
    /// - Throws: ``MetadataError/invalidTopicName(name:reason:)``, ``MetadataError/reservedTopicName(_:)``,
    ///   ``MetadataError/topicAlreadyExists(name:)``, ``MetadataError/topicNameCollides(name:existingTopic:)``,
    ///   ``MetadataError/invalidConfig(key:reason:)``, ``MetadataError/invalidReplicationFactor(_:)``,
    ///   ``MetadataError/invalidPartitions(_:)`` (checked in that order, Kafka's), or
    ///   ``MetadataError/storage(_:)``.
    func createTopic(
        name: String, partitionCount: Int32, replicationFactor: Int16, configs: [String: String], validateOnly: Bool
    ) async throws(MetadataError) -> TopicMetadata

    /// Deletes the topic named `name`.
    /// - Returns: The topic as it was, so that its logs can be found and deleted.
    /// - Throws: ``MetadataError/unknownTopic(name:)`` or ``MetadataError/storage(_:)``.
    @discardableResult
    func deleteTopic(name: String) async throws(MetadataError) -> TopicMetadata

    /// Deletes the topic with id `id` (DeleteTopics v6 and later may name topics by id).
    /// - Returns: The topic as it was.
    /// - Throws: ``MetadataError/unknownTopicId(_:)`` or ``MetadataError/storage(_:)``.
    @discardableResult
    func deleteTopic(id: KafkaUUID) async throws(MetadataError) -> TopicMetadata

    /// The topic named `name`, if any.
    func topic(named name: String) async -> TopicMetadata?

    /// The topic with id `id`, if any.
    func topic(id: KafkaUUID) async -> TopicMetadata?

    /// Every topic, sorted by name.
    func topics() async -> [TopicMetadata]

    /// Grows topic `topic` to `newTotalCount` partitions (CreatePartitions). The new partitions get the
    /// replication factor of the existing ones. Partitions are never removed.
    ///
    /// - Parameter validateOnly: Check and return the result without committing it.
    /// - Returns: The topic with all its partitions.
    /// - Throws: ``MetadataError/unknownTopic(name:)``; ``MetadataError/invalidPartitions(_:)`` if
    ///   `newTotalCount` is not more than the current count or is over the limit;
    ///   ``MetadataError/invalidReplicationFactor(_:)`` if there are too few brokers; or
    ///   ``MetadataError/storage(_:)``.
    func createPartitions(
        topic: String, newTotalCount: Int32, validateOnly: Bool
    ) async throws(MetadataError) -> TopicMetadata

    /// Changes topic `topic`'s config overrides (IncrementalAlterConfigs `SET` and `DELETE`; AlterConfigs is
    /// "remove every override not set"). The resulting overrides are validated as a whole by Kafka's rules;
    /// removing a key that isn't set changes nothing.
    ///
    /// - Parameters:
    ///   - set: Keys to set, with their values.
    ///   - remove: Keys to remove, returning them to the broker's default. A key may not also be in `set`.
    ///   - validateOnly: Check and return the result without committing it.
    /// - Returns: The topic with its new overrides.
    /// - Throws: ``MetadataError/unknownTopic(name:)``, ``MetadataError/invalidConfig(key:reason:)`` or
    ///   ``MetadataError/storage(_:)``.
    func alterTopicConfigs(
        topic: String, set: [String: String], remove: Set<String>, validateOnly: Bool
    ) async throws(MetadataError) -> TopicMetadata

    /// Changes the dynamic configs of a broker resource: `""` for the cluster-wide defaults, a node id
    /// for one broker. Only the broker-wide topic defaults may change (``MetadataImage/dynamicBrokerKeys``).
    ///
    /// - Returns: The resource's dynamic configs after the change.
    /// - Throws: ``MetadataError/readOnlyConfig(key:)``, ``MetadataError/invalidConfig(key:reason:)`` or
    ///   ``MetadataError/storage(_:)``.
    func alterBrokerConfigs(
        resource: String, set: [String: String], remove: Set<String>, validateOnly: Bool
    ) async throws(MetadataError) -> [String: String]

    /// Changes a group's configs: `set` and `remove` applied to what it has, the result checked by
    /// `validate` (the broker knows the keys and their bounds) before it is stored.
    ///
    /// - Returns: The group's configs after the change.
    func alterGroupConfigs(
        group: String, set: [String: String], remove: Set<String>, validateOnly: Bool,
        validate: @Sendable ([String: String]) throws(MetadataError) -> Void
    ) async throws(MetadataError) -> [String: String]

    /// Reserves `count` producer ids that were never handed out, durably, so that no restart hands
    /// them out again (Kafka's AllocateProducerIds: brokers take ids in blocks).
    func allocateProducerIds(count: Int) async throws(MetadataError) -> Range<Int64>
}

extension MetadataStore {
    /// Creates a topic (see ``createTopic(name:partitionCount:replicationFactor:configs:validateOnly:)``).
    @discardableResult
    public func createTopic(
        name: String, partitionCount: Int32, replicationFactor: Int16, configs: [String: String] = [:]
    ) async throws(MetadataError) -> TopicMetadata {
        try await createTopic(
            name: name, partitionCount: partitionCount, replicationFactor: replicationFactor, configs: configs,
            validateOnly: false)
    }

    /// Grows a topic (see ``createPartitions(topic:newTotalCount:validateOnly:)``).
    @discardableResult
    public func createPartitions(topic: String, newTotalCount: Int32) async throws(MetadataError) -> TopicMetadata {
        try await createPartitions(topic: topic, newTotalCount: newTotalCount, validateOnly: false)
    }

    /// Changes a topic's config overrides (see ``alterTopicConfigs(topic:set:remove:validateOnly:)``).
    @discardableResult
    public func alterTopicConfigs(
        topic: String, set: [String: String] = [:], remove: Set<String> = []
    ) async throws(MetadataError) -> TopicMetadata {
        try await alterTopicConfigs(topic: topic, set: set, remove: remove, validateOnly: false)
    }
}
