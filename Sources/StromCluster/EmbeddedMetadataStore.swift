public import KafkaProtocol
public import StromStorage

/// The ``MetadataStore`` of a broker that runs alone: it needs nothing but its own data directory.
///
/// The state lives in `<data>/__cluster_metadata/metadata.json` (format and atomic replacement: see
/// `MetadataFile`), is loaded when the store is created, and is rewritten whole — durably, before the call
/// returns — after every topic change. The directory's name has no `-`, so the log manager's scan for
/// `<topic>-<partition>` directories passes it by.
///
/// The first start on an empty data directory creates a cluster id (Kafka's text form of a random UUID)
/// and writes the file at once, so the id is the same on every later start. The file also records the node
/// id: a data directory belongs to one node, as with Kafka's `meta.properties`, and opening it as another
/// node fails. Every partition is placed on this node: replicas `[nodeId]`, leader `nodeId`, leader epoch 0,
/// in-sync replicas `[nodeId]`; a replication factor other than 1 (or -1, the default) fails.
///
/// Broker registrations are kept in memory only (like an etcd lease, they last as long as the broker runs),
/// and only this node may register.
///
/// Each write blocks the actor's thread for a few fsyncs; topic changes are rare admin operations, and
/// the request path reads a ``MetadataImage`` instead of awaiting the store.
public actor EmbeddedMetadataStore: MetadataStore {
    /// The directory under the data directory that holds the metadata.
    public static let directoryName = TopicNames.clusterMetadataTopicName

    public nonisolated let clusterId: String
    /// The node this store's data directory belongs to, which every partition is placed on.
    public nonisolated let nodeId: Int32
    /// `<data>/__cluster_metadata`.
    public nonisolated let directory: String

    private let file: MetadataFile
    private let configuration: MetadataConfiguration
    private let makeTopicId: @Sendable () -> KafkaUUID
    private var current: MetadataImage
    private let subscribers = ChangeSubscribers()

    /// Opens the metadata in `dataDirectory`, creating it (and a new cluster id) on first use.
    ///
    /// - Parameters:
    ///   - dataDirectory: The broker's data directory (`log.dirs`); created if missing.
    ///   - nodeId: This broker's `node.id`.
    ///   - fileSystem: ``PosixFileSystem`` in production, a ``SimulatedFileSystem`` in tests.
    ///   - configuration: Defaults for new topics.
    /// - Throws: ``MetadataError/storage(_:)`` if the directory can't be read or written, the file is
    ///   damaged or of an unknown format version, or it belongs to another node.
    public init(
        dataDirectory: String, nodeId: Int32 = 0, fileSystem: any StorageFileSystem = PosixFileSystem(),
        configuration: MetadataConfiguration = MetadataConfiguration()
    ) throws(MetadataError) {
        try self.init(
            dataDirectory: dataDirectory, nodeId: nodeId, fileSystem: fileSystem, configuration: configuration,
            makeUUID: { KafkaUUID.random() })
    }

    /// As the public initialiser, with the source of random UUIDs (cluster and topic ids) chosen by tests.
    init(
        dataDirectory: String, nodeId: Int32, fileSystem: any StorageFileSystem,
        configuration: MetadataConfiguration, makeUUID: @escaping @Sendable () -> KafkaUUID
    ) throws(MetadataError) {
        let directory = "\(dataDirectory)/\(Self.directoryName)"
        let file = MetadataFile(directory: directory, fileSystem: fileSystem)
        let image = try Self.load(file, nodeId: nodeId, makeUUID: makeUUID)
        self.clusterId = image.clusterId
        self.nodeId = nodeId
        self.directory = directory
        self.file = file
        self.configuration = configuration
        self.makeTopicId = makeUUID
        self.current = image
    }

    deinit {
        subscribers.finishAll()
    }

    /// The stored image, or a new one written durably if there is none.
    private static func load(
        _ file: MetadataFile, nodeId: Int32, makeUUID: @Sendable () -> KafkaUUID
    ) throws(MetadataError) -> MetadataImage {
        do throws(StorageIOError) {
            try createDirectoryDurably(file.directory, fileSystem: file.fileSystem)
        } catch {
            throw .storage("creating \(file.directory) failed: \(error)")
        }
        if let contents = try file.read() {
            guard contents.nodeId == nodeId else {
                throw .storage(
                    "\(file.path) belongs to node \(contents.nodeId), not node \(nodeId): a data directory "
                        + "can't change nodes")
            }
            return contents.image
        }
        let image = MetadataImage(clusterId: makeUUID().description, controllerId: nodeId)
        try file.write(image, nodeId: nodeId)
        return image
    }

    // MARK: Reading

    public func image() -> MetadataImage {
        current
    }

    public func changes() -> AsyncStream<MetadataChange> {
        subscribers.subscribe(startingWith: MetadataChange(revision: current.revision, kind: .snapshot(current)))
    }

    public func brokers() -> [BrokerRegistration] {
        current.brokers
    }

    public func topic(named name: String) -> TopicMetadata? {
        current.topic(named: name)
    }

    public func topic(id: KafkaUUID) -> TopicMetadata? {
        current.topic(id: id)
    }

    public func topics() -> [TopicMetadata] {
        current.topics
    }

    // MARK: Writing

    /// Registers this node. Registrations are not persisted (see the type's documentation).
    ///
    /// - Precondition: `broker.nodeId` is this store's ``nodeId``: the embedded store serves one broker, and
    ///   a broker registering under another id is a wiring bug.
    public func registerBroker(_ broker: BrokerRegistration) throws(MetadataError) {
        precondition(
            broker.nodeId == nodeId, "node \(broker.nodeId) registered with the embedded store of node \(nodeId)")
        try commit(.brokerRegistered(broker), persist: false)
    }

    public func createTopic(
        name: String, partitionCount: Int32, replicationFactor: Int16, configs: [String: String], validateOnly: Bool
    ) throws(MetadataError) -> TopicMetadata {
        let topic = try current.topicToCreate(
            name: name, partitionCount: partitionCount, replicationFactor: replicationFactor, configs: configs,
            id: try current.unusedTopicId(makeTopicId), nodeIds: [nodeId], configuration: configuration)
        if !validateOnly {
            try commit(.topicCreated(topic), persist: true)
        }
        return topic
    }

    @discardableResult
    public func deleteTopic(name: String) throws(MetadataError) -> TopicMetadata {
        let topic = try current.topicToDelete(name: name)
        try commit(.topicDeleted(topic), persist: true)
        return topic
    }

    @discardableResult
    public func deleteTopic(id: KafkaUUID) throws(MetadataError) -> TopicMetadata {
        let topic = try current.topicToDelete(id: id)
        try commit(.topicDeleted(topic), persist: true)
        return topic
    }

    public func createPartitions(
        topic name: String, newTotalCount: Int32, validateOnly: Bool
    ) throws(MetadataError) -> TopicMetadata {
        let topic = try current.topicWithPartitions(name: name, newTotalCount: newTotalCount, nodeIds: [nodeId])
        if !validateOnly {
            try commit(.partitionsCreated(topic), persist: true)
        }
        return topic
    }

    public func alterTopicConfigs(
        topic name: String, set: [String: String], remove: Set<String>, validateOnly: Bool
    ) throws(MetadataError) -> TopicMetadata {
        let topic = try current.topicWithConfigs(name: name, set: set, remove: remove, configuration: configuration)
        // An alteration that changes nothing is not a change: no revision, no write.
        if !validateOnly && topic != current.topic(named: name) {
            try commit(.topicConfigsAltered(topic), persist: true)
        }
        return topic
    }

    /// Makes `kind` the next change: written to disk first (if `persist`), so that a failed write leaves the
    /// store as it was, then applied and sent to subscribers.
    public func alterBrokerConfigs(
        resource: String, set: [String: String], remove: Set<String>, validateOnly: Bool
    ) throws(MetadataError) -> [String: String] {
        let configs = try current.brokerConfigsWith(resource: resource, set: set, remove: remove, configuration: configuration)
        if !validateOnly && configs != current.brokerConfigs[resource] ?? [:] {
            try commit(.brokerConfigsAltered(resource: resource, configs: configs), persist: true)
        }
        return configs
    }

    public func alterGroupConfigs(
        group: String, set: [String: String], remove: Set<String>, validateOnly: Bool,
        validate: @Sendable ([String: String]) throws(MetadataError) -> Void
    ) throws(MetadataError) -> [String: String] {
        let configs = try current.groupConfigsWith(group: group, set: set, remove: remove, validate: validate)
        if !validateOnly && configs != current.groupConfigs[group] ?? [:] {
            try commit(.groupConfigsAltered(group: group, configs: configs), persist: true)
        }
        return configs
    }

    public func allocateProducerIds(count: Int) throws(MetadataError) -> Range<Int64> {
        precondition(count > 0, "allocate at least one producer id, not \(count)")
        let first = current.nextProducerId
        try commit(.producerIdsAllocated(next: first + Int64(count)), persist: true)
        return first..<(first + Int64(count))
    }

    private func commit(_ kind: MetadataChange.Kind, persist: Bool) throws(MetadataError) {
        let change = MetadataChange(revision: current.revision + 1, kind: kind)
        let next = current.applying(change)
        if persist {
            try file.write(next, nodeId: nodeId)
        }
        current = next
        subscribers.publish(change)
    }


    /// How many ``changes()`` streams are open, for tests.
    var subscriberCount: Int { subscribers.count }
}

/// Creates `path` and any missing ancestors, and makes each new directory's entry durable by syncing its
/// parent: a file inside a directory survives a power cut only if the directory does.
private func createDirectoryDurably(_ path: String, fileSystem: any StorageFileSystem) throws(StorageIOError) {
    var missing: [String] = []
    var ancestor = path
    // Bounded by the path's depth: each step removes a component, and "/" and "." always exist.
    while !fileSystem.exists(ancestor) {
        missing.append(ancestor)
        ancestor = parentDirectory(of: ancestor)
    }
    try fileSystem.createDirectory(path)
    for directory in missing.reversed() {
        try fileSystem.syncDirectory(parentDirectory(of: directory))
    }
}

/// The directory containing `path`: what precedes its last `/`, `/` for an entry of the root, `.` for a
/// bare name.
private func parentDirectory(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else {
        return "."
    }
    return slash == path.startIndex ? "/" : String(path[..<slash])
}
