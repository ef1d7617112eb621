public import KafkaProtocol

/// A snapshot of the cluster metadata at one ``revision``: what brokers read to answer requests.
///
/// An image never changes on its own. A broker takes one from ``MetadataStore/changes()`` (the stream starts
/// with a ``MetadataChange/Kind/snapshot(_:)``) and keeps it current by applying each following change with
/// ``apply(_:)``; the store builds its own image with the same function, so both arrive at the same state.
/// Reads from an image are plain dictionary lookups, which is why the request path uses an image rather
/// than awaiting the store.
public struct MetadataImage: Sendable, Equatable {
    /// Where the image is in its store's history. The embedded store raises it by exactly one per change
    /// and persists it; in a cluster it is etcd's revision, which counts every write to etcd (so it may
    /// jump), and the changes of one etcd transaction share it. It never goes back.
    public private(set) var revision: Int64
    /// The cluster id, fixed when the cluster was created.
    public let clusterId: String
    /// The node id of the active controller; -1 while none is elected.
    public private(set) var controllerId: Int32
    /// Registered brokers by node id.
    public private(set) var brokersById: [Int32: BrokerRegistration]
    /// Every topic by name.
    public private(set) var topicsByName: [String: TopicMetadata]
    /// Dynamic broker configs (Kafka's broker key names, e.g. `log.retention.ms`) by resource name:
    /// `""` for the cluster-wide defaults, a node id for one broker.
    public private(set) var brokerConfigs: [String: [String: String]]
    /// Group configs (Kafka's resource type GROUP) by group id: what a group overrides of the broker's settings.
    public private(set) var groupConfigs: [String: [String: String]]
    /// The first producer id not handed out yet (InitProducerId): ids are never reused.
    public private(set) var nextProducerId: Int64
    /// Topic names by topic id.
    private var topicNamesById: [KafkaUUID: String]
    /// Topic names by ``TopicNames/collisionKey(_:)``, for names with `.` or `_` only. No two topics collide,
    /// so each key has one name.
    private var topicNamesByCollisionKey: [String: String]

    /// An image with the given contents.
    ///
    /// - Precondition: Topic names and ids are unique.
    public init(
        clusterId: String, controllerId: Int32, revision: Int64 = 0, brokers: [BrokerRegistration] = [],
        topics: [TopicMetadata] = [], brokerConfigs: [String: [String: String]] = [:], groupConfigs: [String: [String: String]] = [:],
        nextProducerId: Int64 = 0
    ) {
        self.brokerConfigs = brokerConfigs.filter { !$0.value.isEmpty }
        self.groupConfigs = groupConfigs.filter { !$0.value.isEmpty }
        self.nextProducerId = nextProducerId
        self.clusterId = clusterId
        self.controllerId = controllerId
        self.revision = revision
        self.brokersById = Dictionary(brokers.map { ($0.nodeId, $0) }, uniquingKeysWith: { _, last in last })
        self.topicsByName = [:]
        self.topicNamesById = [:]
        self.topicNamesByCollisionKey = [:]
        for topic in topics {
            insert(topic)
        }
    }

    /// The topic named `name`, if any.
    public func topic(named name: String) -> TopicMetadata? {
        topicsByName[name]
    }

    /// The topic with id `id`, if any.
    /// A random topic id no topic here has; `draw` makes the candidates. A collision of random
    /// 128-bit ids is as good as impossible, so a few draws are plenty, and a broken generator fails
    /// instead of spinning.
    func unusedTopicId(_ draw: () -> KafkaUUID = { KafkaUUID.random() }) throws(MetadataError) -> KafkaUUID {
        for _ in 0..<Limits.topicIdAttemptsMax {
            let id = draw()
            if id != .zero && topic(id: id) == nil { return id }
        }
        throw .storage("no unused topic id in \(Limits.topicIdAttemptsMax) random draws")
    }

    public func topic(id: KafkaUUID) -> TopicMetadata? {
        topicNamesById[id].flatMap { topicsByName[$0] }
    }

    /// Every topic, sorted by name. Sorts on each call: for lookups use ``topic(named:)``.
    public var topics: [TopicMetadata] {
        topicsByName.values.sorted { $0.name < $1.name }
    }

    /// Every registered broker, sorted by node id.
    public var brokers: [BrokerRegistration] {
        brokersById.values.sorted { $0.nodeId < $1.nodeId }
    }

    /// The existing topic that `name` collides with (same name after `.` → `_`), other than `name` itself.
    public func collidingTopic(_ name: String) -> String? {
        guard TopicNames.hasCollisionCharacters(name),
            let existing = topicNamesByCollisionKey[TopicNames.collisionKey(name)], existing != name
        else { return nil }
        return existing
    }

    // MARK: Applying changes

    /// Applies `change`, which must be the next one: a snapshot replaces the image, any other change must
    /// have a revision at or after ``revision`` (the changes of one etcd transaction share a revision).
    ///
    /// Changes come from the store that made them from this image's state, so one that doesn't fit (a topic
    /// created twice, a revision older than the image's) is a bug, and traps.
    public mutating func apply(_ change: MetadataChange) {
        if case .snapshot(let image) = change.kind {
            precondition(image.revision == change.revision, "snapshot at \(image.revision) sent as \(change.revision)")
            self = image
            return
        }
        precondition(change.revision >= revision, "change \(change.revision) applied at revision \(revision)")
        switch change.kind {
        case .snapshot:
            preconditionFailure("handled above")
        case .brokerRegistered(let broker):
            brokersById[broker.nodeId] = broker
        case .brokerUnregistered(let nodeId):
            brokersById[nodeId] = nil
        case .controllerChanged(let nodeId):
            controllerId = nodeId
        case .topicCreated(let topic):
            precondition(topicsByName[topic.name] == nil, "topic \(topic.name) created twice")
            precondition(topicNamesById[topic.id] == nil, "topic id \(topic.id) created twice")
            insert(topic)
        case .topicDeleted(let topic):
            precondition(topicsByName[topic.name]?.id == topic.id, "deleted topic \(topic.name) \(topic.id) unknown")
            topicsByName[topic.name] = nil
            topicNamesById[topic.id] = nil
            if topicNamesByCollisionKey[TopicNames.collisionKey(topic.name)] == topic.name {
                topicNamesByCollisionKey[TopicNames.collisionKey(topic.name)] = nil
            }
        case .brokerConfigsAltered(let resource, let configs):
            brokerConfigs[resource] = configs.isEmpty ? nil : configs
        case .groupConfigsAltered(let group, let configs):
            groupConfigs[group] = configs.isEmpty ? nil : configs
        case .producerIdsAllocated(let next):
            precondition(next > nextProducerId, "producer ids \(next) allocated below \(nextProducerId)")
            nextProducerId = next
        case .partitionsCreated(let topic), .topicConfigsAltered(let topic), .partitionStatesChanged(let topic):
            precondition(topicsByName[topic.name]?.id == topic.id, "changed topic \(topic.name) \(topic.id) unknown")
            topicsByName[topic.name] = topic
        }
        revision = change.revision
    }

    /// Moves ``revision`` forward without a change: an etcd revision that touched nothing the image
    /// holds.
    mutating func advanceRevision(to newRevision: Int64) {
        precondition(newRevision >= revision, "revision \(newRevision) is older than \(revision)")
        revision = newRevision
    }

    /// This image with `change` applied (see ``apply(_:)``).
    public func applying(_ change: MetadataChange) -> MetadataImage {
        var image = self
        image.apply(change)
        return image
    }

    private mutating func insert(_ topic: TopicMetadata) {
        precondition(topicsByName[topic.name] == nil, "duplicate topic name \(topic.name)")
        precondition(topicNamesById[topic.id] == nil, "duplicate topic id \(topic.id)")
        topicsByName[topic.name] = topic
        topicNamesById[topic.id] = topic.name
        if TopicNames.hasCollisionCharacters(topic.name) {
            topicNamesByCollisionKey[TopicNames.collisionKey(topic.name)] = topic.name
        }
    }
}

/// One committed change to the cluster metadata, numbered by the ``MetadataImage/revision`` it leads to.
public struct MetadataChange: Sendable, Equatable {
    /// What changed.
    public enum Kind: Sendable, Equatable {
        /// The whole state: the first element of every ``MetadataStore/changes()`` stream.
        case snapshot(MetadataImage)
        /// A broker registered, or registered again with new details.
        case brokerRegistered(BrokerRegistration)
        /// A broker's registration ended (its lease expired or it shut down): it is not alive.
        case brokerUnregistered(nodeId: Int32)
        /// Another broker is the controller (-1: none until the next election).
        case controllerChanged(nodeId: Int32)
        /// A topic was created; its logs are to be created.
        case topicCreated(TopicMetadata)
        /// A topic was deleted; its logs are to be deleted.
        case topicDeleted(TopicMetadata)
        /// Partitions were added to a topic (the new ``TopicMetadata`` has them all); the new partitions'
        /// logs are to be created.
        case partitionsCreated(TopicMetadata)
        /// A topic's config overrides changed (the new ``TopicMetadata`` has the whole new set).
        case topicConfigsAltered(TopicMetadata)
        /// Leaders, leader epochs or in-sync replicas of some of the topic's partitions changed (the new
        /// ``TopicMetadata`` has every partition's state).
        case partitionStatesChanged(TopicMetadata)
        /// The whole set of dynamic configs of a broker resource (`""`: the cluster-wide defaults).
        case brokerConfigsAltered(resource: String, configs: [String: String])
        /// The whole set of a group's configs.
        case groupConfigsAltered(group: String, configs: [String: String])
        /// Producer ids below `next` are handed out.
        case producerIdsAllocated(next: Int64)
    }

    /// The revision of the image after this change; for a snapshot, the image's revision.
    public var revision: Int64
    public var kind: Kind

    public init(revision: Int64, kind: Kind) {
        self.revision = revision
        self.kind = kind
    }
}
