import Foundation
public import Logging
import Synchronization
public import KafkaProtocol
public import NIOCore
import StromCluster
public import StromStorage

/// One broker: the cluster metadata, the logs, group commit, and a handler per API. Network
/// code hands it decoded requests and sends back the frames it returns.
public final class Broker: Sendable {
    public let configuration: BrokerConfiguration
    /// The embedded store alone, the etcd store in a cluster.
    let metadata: any MetadataStore
    let logs: LogManager
    let groupCommit: GroupCommit
    let waiters: HighWatermarkWaiters
    let partitions: BrokerPartitions
    /// The topic defaults in force: the static ones with the dynamic broker configs on top.
    private let currentLogDefaults: Mutex<LogConfig>
    let producerIds: ProducerIdBlock
    let groupCoordinator: GroupCoordinator
    let shareCoordinator: ShareCoordinator
    /// The share coordinator of any share-partition, here or on another broker.
    let shareCoordinators: ShareCoordinatorClient
    /// The share-partitions this broker leads and its share sessions.
    let shareManager: SharePartitionManager
    let transactionCoordinator: TransactionCoordinator
    /// Connections to other brokers for transaction markers and KIP-890 verifications.
    let transactionConnections: InterBrokerConnections
    /// To the leaders of partitions a group coordinated here reads but this broker holds no replica of.
    let lagConnections: InterBrokerConnections
    let remoteOffsets = RemotePartitionOffsets()
    /// Produce and consume throughput over the last hour (the console's overview chart).
    public let throughput = ThroughputHistory()
    /// Each coordinated group's lag over the last hour (the console's group chart).
    public let groupLag = GroupLagHistory()
    /// Records per second into each topic (the console's topics page).
    public let topicRates = TopicRates()
    private let shareProgress = Mutex(ShareGroupProgress())
    /// What the broker counts and times (served by the admin listener).
    public let metrics: BrokerMetrics
    /// Consumer lag of the groups coordinated here.
    let lagMonitor = LagMonitor()
    private let clusterRuntime = Mutex<ClusterRuntime?>(nil)

    /// This broker's part in a cluster; nil when it runs alone.
    var cluster: ClusterRuntime? { clusterRuntime.withLock { $0 } }
    /// Leader and follower roles; nil when the broker runs alone (it leads everything).
    var replicas: ReplicaManager? { cluster?.replicas }

    private init(
        configuration: BrokerConfiguration, metadata: any MetadataStore, logs: LogManager, groupCommit: GroupCommit,
        waiters: HighWatermarkWaiters, partitions: BrokerPartitions, metrics: BrokerMetrics
    ) {
        self.configuration = configuration
        self.metrics = metrics
        self.metadata = metadata
        self.logs = logs
        self.groupCommit = groupCommit
        self.waiters = waiters
        self.partitions = partitions
        self.currentLogDefaults = Mutex(Self.logDefaults(configuration: configuration, image: partitions.current))
        self.producerIds = ProducerIdBlock(metadata: metadata)
        self.groupCoordinator = GroupCoordinator(
            settings: configuration.groups, storage: CoordinatorTopicStorage(topic: GroupCoordinatorSettings.offsetsTopic, logs: logs),
            logger: Logger(label: "strom.groups"), clock: { Broker.nowMs() })
        let shareCoordinator = ShareCoordinator(
            settings: configuration.shareCoordinator, storage: CoordinatorTopicStorage(topic: ShareCoordinatorSettings.stateTopic, logs: logs),
            logger: Logger(label: "strom.share-coordinator"), clock: { Broker.nowMs() })
        self.shareCoordinator = shareCoordinator
        let groupConfigs = GroupConfigs(shareGroups: configuration.shareGroups, groups: configuration.groups)
        let shareCoordinators = ShareCoordinatorClient(
            local: shareCoordinator, nodeId: configuration.nodeId, partitions: partitions, logger: Logger(label: "strom.share"))
        self.shareCoordinators = shareCoordinators
        self.transactionCoordinator = TransactionCoordinator(
            settings: configuration.transactions,
            storage: CoordinatorTopicStorage(topic: TransactionCoordinatorSettings.stateTopic, logs: logs), producerIds: producerIds,
            logger: Logger(label: "strom.transactions"), clock: { Broker.nowMs() })
        self.transactionConnections = InterBrokerConnections(nodeId: configuration.nodeId, partitions: partitions, purpose: "transactions")
        self.lagConnections = InterBrokerConnections(nodeId: configuration.nodeId, partitions: partitions, purpose: "lag")
        self.shareManager = SharePartitionManager(
            persister: shareCoordinators, waiters: waiters,
            sessionsMax: configuration.shareGroups.maxShareSessions, logger: Logger(label: "strom.share"), clock: { Broker.nowMs() },
            settings: { group in groupConfigs.shareSettings(partitions.current.groupConfigs[group] ?? [:]) })
    }

    /// The group configs Strom knows, with this broker's settings as their defaults and bounds.
    var groupConfigVocabulary: GroupConfigs { GroupConfigs(shareGroups: configuration.shareGroups, groups: configuration.groups) }

    /// What a share group's share-partitions run with: its group configs on the broker's settings.
    func shareSettings(group: String) -> SharePartitionManager.Settings {
        groupConfigVocabulary.shareSettings(groupConfigs(group))
    }

    /// A group's config overrides.
    func groupConfigs(_ group: String) -> [String: String] { partitions.current.groupConfigs[group] ?? [:] }

    /// Changes a group's configs in the metadata (checked against the keys and bounds this broker knows).
    func alterGroupConfigs(group: String, set: [String: String], remove: Set<String>, validateOnly: Bool) async -> MetadataError? {
        let vocabulary = groupConfigVocabulary
        do throws(MetadataError) {
            _ = try await metadata.alterGroupConfigs(
                group: group, set: set, remove: remove, validateOnly: validateOnly, validate: { configs throws(MetadataError) in try vocabulary.validate(configs) })
            if !validateOnly { partitions.update(await metadata.image()) }
            return nil
        } catch {
            return error
        }
    }

    /// The topic defaults in force (what a topic without an override runs with).
    var logDefaults: LogConfig { currentLogDefaults.withLock { $0 } }

    /// The static defaults, then the cluster-wide dynamic configs, then this broker's.
    static func logDefaults(configuration: BrokerConfiguration, image: MetadataImage) -> LogConfig {
        var defaults = configuration.logDefaults
        for resource in ["", String(configuration.nodeId)] {
            let dynamic = image.brokerConfigs[resource] ?? [:]
            let asTopicKeys = Dictionary(uniqueKeysWithValues: dynamic.compactMap { key, value in
                MetadataImage.dynamicBrokerKeys[key].map { ($0, value) }
            })
            // The store validated them; a value that no longer parses keeps the previous layer.
            defaults = (try? LogConfig(properties: asTopicKeys, defaults: defaults)) ?? defaults
        }
        return defaults
    }

    static func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    /// Opens the data directory (metadata first, then every partition log, recovering after a
    /// crash) and registers this broker under `advertisedHost:advertisedPort`: alone on the
    /// embedded metadata, or, with ``BrokerConfiguration/cluster``, in the cluster whose metadata
    /// is in etcd, where it takes up its replicas and joins the controller election.
    public static func start(
        configuration: BrokerConfiguration, advertisedHost: String, advertisedPort: Int,
        fileSystem baseFileSystem: any StorageFileSystem = PosixFileSystem(), logger: Logger = Logger(label: "strom"),
        metrics: BrokerMetrics = BrokerMetrics()
    ) async throws -> Broker {
        let fileSystem = ReopeningFileSystem(
            base: baseFileSystem, openFilesMax: configuration.logFilesOpenMax ?? OpenFilesLimit.defaultLogFilesOpenMax)
        let metadataConfiguration = MetadataConfiguration(
            defaultPartitionCount: configuration.defaultPartitionCount,
            defaultReplicationFactor: configuration.defaultReplicationFactor,
            logConfigDefaults: configuration.logDefaults)
        let metadata: any MetadataStore
        if let cluster = configuration.cluster {
            let client = EtcdClient(endpoints: cluster.etcdEndpoints, logger: Logger(label: "strom.etcd"))
            metadata = try await EtcdMetadataStore.open(
                client: client, keys: EtcdKeyLayout(prefix: cluster.etcdPrefix), nodeId: configuration.nodeId,
                sessionTimeoutMs: cluster.sessionTimeoutMs, configuration: metadataConfiguration, logger: Logger(label: "strom.metadata"))
        } else {
            metadata = try EmbeddedMetadataStore(
                dataDirectory: configuration.dataDirectory, nodeId: configuration.nodeId, fileSystem: fileSystem,
                configuration: metadataConfiguration)
        }
        let image = await metadata.image()
        let defaults = Self.logDefaults(configuration: configuration, image: image)
        let (logs, _) = try LogManager.open(dataDirectory: configuration.dataDirectory, fileSystem: fileSystem, nowMs: nowMs()) { topic in
            (image.topic(named: topic)).flatMap { try? LogConfig(properties: $0.configs, defaults: defaults) } ?? defaults
        }
        let waiters = HighWatermarkWaiters()
        let broker = Broker(
            configuration: configuration, metadata: metadata, logs: logs,
            groupCommit: GroupCommit(onRound: { metrics.flushRound(waiters: $0.waiters, logs: $0.logs, duration: $0.duration) }),
            waiters: waiters, partitions: BrokerPartitions(image: image, logs: logs), metrics: metrics)
        let runtime = (metadata as? EtcdMetadataStore).flatMap { store in
            configuration.cluster.map { ClusterRuntime(store: store, settings: $0, broker: broker, logger: logger) }
        }
        broker.clusterRuntime.withLock { $0 = runtime }
        // Logs first (recovered above), then the registration: a broker is live only once it can
        // serve what it holds.
        try await metadata.registerBroker(BrokerRegistration(
            nodeId: configuration.nodeId, host: advertisedHost, port: Int32(advertisedPort), rack: configuration.rack))
        if let runtime {
            await runtime.start()
        } else {
            for topic in await metadata.image().topics { try broker.openLogs(for: topic) }
            broker.partitions.update(await metadata.image())
        }
        try await broker.groupCoordinator.start(host: broker, loadingEagerly: broker.cluster == nil)
        await broker.shareCoordinator.start(host: broker)
        await broker.transactionCoordinator.start(host: broker, markerWriter: broker)
        return broker
    }

    /// The log config of `topic`: its overrides on the broker's defaults in force.
    func logConfig(for topic: TopicMetadata) -> LogConfig {
        let defaults = logDefaults
        return (try? LogConfig(properties: topic.configs, defaults: defaults)) ?? defaults
    }

    /// Creates (or finds) one partition's log and wires its high watermark to the waiting fetches.
    @discardableResult
    func openLog(_ topicPartition: TopicPartition, config: LogConfig) throws -> PartitionLog {
        // A log recovered at start exists already but has no listener yet: set it every time.
        let log = try logs.log(for: topicPartition) ?? logs.createLog(topicPartition, config: config, nowMs: Self.nowMs())
        let waiters = self.waiters
        log.setHighWatermarkListener { topicPartition, _ in waiters.notify(topicPartition) }
        return log
    }

    /// Creates (or finds) the log of every partition of `topic` (a broker alone holds them all).
    func openLogs(for topic: TopicMetadata) throws {
        let config = logConfig(for: topic)
        for assignment in topic.partitions {
            try openLog(TopicPartition(topic: topic.name, partition: assignment.partition), config: config)
        }
    }

    /// Creates a topic in the metadata and its logs on disk.
    func createTopic(
        name: String, partitionCount: Int32?, replicationFactor: Int16?, configs: [String: String], validateOnly: Bool
    ) async -> Result<TopicMetadata, MetadataError> {
        do {
            let topic = try await metadata.createTopic(
                name: name, partitionCount: partitionCount ?? configuration.defaultPartitionCount,
                replicationFactor: replicationFactor ?? configuration.defaultReplicationFactor, configs: configs,
                validateOnly: validateOnly)
            if !validateOnly, let cluster {
                // The cluster runtime opens this broker's replicas, as every other broker's does.
                await cluster.reconcile(to: await metadata.image())
            } else if !validateOnly {
                do {
                    try openLogs(for: topic)
                } catch {
                    // Without its logs the topic would exist and not be served: take it back.
                    _ = try? await metadata.deleteTopic(name: topic.name)
                    for assignment in topic.partitions {
                        try? logs.deleteLog(TopicPartition(topic: topic.name, partition: assignment.partition))
                    }
                    throw error
                }
                partitions.update(await metadata.image())
            }
            return .success(topic)
        } catch let error as MetadataError {
            return .failure(error)
        } catch {
            return .failure(.storage("\(error)"))
        }
    }

    /// Deletes a topic (by name, or by id when the name is nil) from the metadata, then its logs.
    func deleteTopic(name: String?, id: KafkaUUID) async -> Result<TopicMetadata, MetadataError> {
        do {
            let deleted: TopicMetadata
            if let name {
                deleted = try await metadata.deleteTopic(name: name)
            } else {
                deleted = try await metadata.deleteTopic(id: id)
            }
            if let cluster {
                await cluster.reconcile(to: await metadata.image())
                return .success(deleted)
            }
            partitions.update(await metadata.image())
            for assignment in deleted.partitions {
                try logs.deleteLog(TopicPartition(topic: deleted.name, partition: assignment.partition))
            }
            return .success(deleted)
        } catch let error as MetadataError {
            return .failure(error)
        } catch {
            return .failure(.storage("\(error)"))
        }
    }

    /// Grows a topic to `newTotalCount` partitions and opens the new partitions' logs.
    func createPartitions(topic: String, newTotalCount: Int32, validateOnly: Bool) async -> Result<TopicMetadata, MetadataError> {
        do {
            let grown = try await metadata.createPartitions(topic: topic, newTotalCount: newTotalCount, validateOnly: validateOnly)
            if !validateOnly, let cluster {
                await cluster.reconcile(to: await metadata.image())
            } else if !validateOnly {
                try openLogs(for: grown)
                partitions.update(await metadata.image())
            }
            return .success(grown)
        } catch let error as MetadataError {
            return .failure(error)
        } catch {
            return .failure(.storage("\(error)"))
        }
    }

    /// Changes a topic's config overrides in the metadata, then applies the result to its logs.
    func alterTopicConfigs(
        topic: String, set: [String: String], remove: Set<String>, validateOnly: Bool
    ) async -> Result<TopicMetadata, MetadataError> {
        do {
            let altered = try await metadata.alterTopicConfigs(topic: topic, set: set, remove: remove, validateOnly: validateOnly)
            guard !validateOnly else { return .success(altered) }
            partitions.update(await metadata.image())
            let config = try LogConfig(properties: altered.configs, defaults: logDefaults)
            for assignment in altered.partitions {
                logs.log(for: TopicPartition(topic: altered.name, partition: assignment.partition))?.updateConfig(config)
            }
            return .success(altered)
        } catch let error as MetadataError {
            return .failure(error)
        } catch {
            return .failure(.storage("\(error)"))
        }
    }

    /// Changes a broker resource's dynamic configs (`""`: every broker's default; a node id: one
    /// broker) and re-applies the topic defaults to every log that has no override of its own.
    func alterBrokerConfigs(
        resource: String, set: [String: String], remove: Set<String>, validateOnly: Bool
    ) async -> Result<[String: String], MetadataError> {
        do throws(MetadataError) {
            let configs = try await metadata.alterBrokerConfigs(resource: resource, set: set, remove: remove, validateOnly: validateOnly)
            guard !validateOnly else { return .success(configs) }
            let image = await metadata.image()
            partitions.update(image)
            applyLogConfigs(image)
            return .success(configs)
        } catch {
            return .failure(error)
        }
    }

    /// Re-applies the topic defaults in force (static, then dynamic broker configs) and every
    /// topic's overrides to the open logs.
    func applyLogConfigs(_ image: MetadataImage) {
        let defaults = Self.logDefaults(configuration: configuration, image: image)
        currentLogDefaults.withLock { $0 = defaults }
        for topic in image.topics {
            let config = (try? LogConfig(properties: topic.configs, defaults: defaults)) ?? defaults
            for assignment in topic.partitions {
                logs.log(for: TopicPartition(topic: topic.name, partition: assignment.partition))?.updateConfig(config)
            }
        }
    }

    /// The dynamic configs of a broker resource (`""` or a node id).
    func dynamicBrokerConfigs(_ resource: String) -> [String: String] {
        partitions.current.brokerConfigs[resource] ?? [:]
    }

    /// The topic's config overrides (nil for an unknown topic).
    func topicConfigs(_ topic: String) -> [String: String]? {
        partitions.current.topic(named: topic)?.configs
    }

    // MARK: Requests

    /// What to send back for one request.
    public enum Reply: Sendable {
        /// A whole response frame, size prefix included.
        case response(ByteBuffer)
        /// A response frame in parts, record data as file slices to send with sendfile;
        /// `whenWritten` must run once the parts are written or dropped.
        case responseParts([KafkaResponsePart], whenWritten: @Sendable () -> Void)
        /// None is owed (acks=0 produce).
        case noResponse
        /// Close the connection, logging why, as Kafka does for an API or version it does not serve,
        /// a request over a limit, or an acks=0 Produce that failed (its client learns no other way).
        case close(String)
    }

    /// Handles one request.
    ///
    /// - Parameter sendsFiles: whether the connection can send file regions (sendfile); TLS
    ///   connections and tests cannot, and get Fetch records copied into the frame.
    /// - Parameter clientHost: the client's address as Kafka shows it ("/127.0.0.1"), for groups.
    /// - Parameter orderedPhaseDone: called once the request's effects are made and only waiting
    ///   remains (an acks=all Produce after its appends), so the connection's next request may start.
    public func handle(
        _ request: KafkaRequest, sendsFiles: Bool = false, clientHost: String = "", connectionId: UInt64 = 0,
        orderedPhaseDone: @escaping @Sendable () -> Void = {}
    ) async -> Reply {
        let started = ContinuousClock.now
        let reply = await answer(request, sendsFiles: sendsFiles, clientHost: clientHost, connectionId: connectionId, orderedPhaseDone: orderedPhaseDone)
        if case .close = reply { return reply }
        metrics.answered(request.apiKey, version: request.apiVersion, duration: ContinuousClock.now - started)
        return reply
    }

    private func answer(
        _ request: KafkaRequest, sendsFiles: Bool, clientHost: String, connectionId: UInt64, orderedPhaseDone: @escaping @Sendable () -> Void
    ) async -> Reply {
        guard SupportedApis.supports(request.apiKey, version: request.apiVersion) else {
            if request.apiKey == .apiVersions {
                return .response(unsupportedApiVersionsResponse(correlationId: request.correlationId))
            }
            return .close("\(request.apiKey) v\(request.apiVersion) is not served")
        }
        guard let reply = await dispatch(request, sendsFiles: sendsFiles, clientHost: clientHost, connectionId: connectionId, orderedPhaseDone: orderedPhaseDone) else {
            return .close("\(request.apiKey) is advertised but has no handler")
        }
        return reply
    }

    /// Hands a request to its handler, whatever the advertised ranges say; nil when its API has
    /// none (what tests compare with the advertised APIs).
    func dispatch(
        _ request: KafkaRequest, sendsFiles: Bool, clientHost: String, connectionId: UInt64, orderedPhaseDone: @escaping @Sendable () -> Void
    ) async -> Reply? {
        let namedItems = request.body.namedItemCount
        if namedItems > configuration.requestPartitionsMax {
            return .close("\(request.apiKey) names \(namedItems) topics/partitions/groups, more than request.max.partitions (\(configuration.requestPartitionsMax))")
        }
        if case .fetch(let body) = request.body {
            return await fetch(body, request: request, sendsFiles: sendsFiles)
        }
        if case .produce(let body) = request.body {
            return await produce(body, request: request, orderedPhaseDone: orderedPhaseDone)
        }
        guard let outcome = await respond(to: request, clientHost: clientHost, connectionId: connectionId, orderedPhaseDone: orderedPhaseDone) else {
            return nil
        }
        switch outcome {
        case .success(let frame?): return .response(frame)
        case .success(nil): return .noResponse
        case .failure(let error):
            // A response this broker cannot encode at the client's version is our bug; the
            // client gets a closed connection rather than silence.
            return .close("\(request.apiKey) v\(request.apiVersion) response could not be encoded: \(error)")
        }
    }

    private func respond(
        to request: KafkaRequest, clientHost: String, connectionId: UInt64, orderedPhaseDone: @escaping @Sendable () -> Void
    ) async -> Result<ByteBuffer?, KafkaEncodingError>? {
        let version = request.apiVersion
        switch request.body {
        case .apiVersions(let body):
            return encode(ApiVersionsHandler.handle(body, version: version), version: version, for: request)
        case .metadata(let body):
            return encode(await MetadataHandler(broker: self).handle(body, version: version), version: version, for: request)
        case .createTopics(let body):
            return encode(await CreateTopicsHandler(broker: self).handle(body), version: version, for: request)
        case .deleteTopics(let body):
            return encode(await DeleteTopicsHandler(broker: self).handle(body, version: version), version: version, for: request)
        case .produce:
            preconditionFailure("Produce is answered by produce(_:request:orderedPhaseDone:)")
        case .fetch:
            preconditionFailure("Fetch is answered by fetch(_:request:sendsFiles:)")
        case .listOffsets(let body):
            return encode(ListOffsetsHandler(partitions: partitions, replicas: replicas).handle(body, version: version), version: version, for: request)
        case .createPartitions(let body):
            return encode(await CreatePartitionsHandler(broker: self).handle(body), version: version, for: request)
        case .describeConfigs(let body):
            return encode(DescribeConfigsHandler(broker: self).handle(body, version: version), version: version, for: request)
        case .alterConfigs(let body):
            return encode(await AlterConfigsHandler(broker: self).handle(body), version: version, for: request)
        case .incrementalAlterConfigs(let body):
            return encode(await AlterConfigsHandler(broker: self).handle(body), version: version, for: request)
        case .describeCluster(let body):
            return encode(DescribeClusterHandler(broker: self).handle(body, version: version), version: version, for: request)
        case .deleteRecords(let body):
            return encode(DeleteRecordsHandler(broker: self).handle(body), version: version, for: request)
        case .initProducerId(let body):
            return encode(await InitProducerIdHandler(producerIds: producerIds, transactions: transactionCoordinator).handle(body), version: version, for: request)
        case .addPartitionsToTxn(let body):
            return encode(await transactionHandlers.addPartitions(body, version: version), version: version, for: request)
        case .addOffsetsToTxn(let body):
            return encode(await transactionHandlers.addOffsets(body), version: version, for: request)
        case .endTxn(let body):
            return encode(await transactionHandlers.endTransaction(body), version: version, for: request)
        case .writeTxnMarkers(let body):
            return encode(await WriteTxnMarkersHandler(broker: self).handle(body), version: version, for: request)
        case .describeProducers(let body):
            return encode(TransactionAdminHandlers(broker: self).describeProducers(body), version: version, for: request)
        case .describeTransactions(let body):
            return encode(await TransactionAdminHandlers(broker: self).describeTransactions(body), version: version, for: request)
        case .listTransactions(let body):
            return encode(await TransactionAdminHandlers(broker: self).listTransactions(body), version: version, for: request)
        case .txnOffsetCommit(let body):
            return encode(await TxnOffsetCommitHandler(broker: self).handle(body), version: version, for: request)
        case .describeLogDirs(let body):
            return encode(DescribeLogDirsHandler(broker: self).handle(body, version: version), version: version, for: request)
        case .findCoordinator(let body):
            return encode(await FindCoordinatorHandler(broker: self).handle(body, version: version), version: version, for: request)
        case .joinGroup(let body):
            let clientId = request.header.clientId ?? ""
            return encode(await groupCoordinator.join(body, version: version, clientId: clientId, clientHost: clientHost), version: version, for: request)
        case .syncGroup(let body):
            return encode(await groupCoordinator.sync(body, version: version), version: version, for: request)
        case .heartbeat(let body):
            return encode(await groupCoordinator.heartbeat(body), version: version, for: request)
        case .leaveGroup(let body):
            return encode(await groupCoordinator.leave(body, version: version), version: version, for: request)
        case .offsetCommit(let body):
            return encode(await OffsetCommitHandler(broker: self).handle(body), version: version, for: request)
        case .offsetFetch(let body):
            return encode(await OffsetFetchHandler(broker: self).handle(body, version: version), version: version, for: request)
        case .listGroups(let body):
            return encode(await GroupAdminHandlers(broker: self).listGroups(body), version: version, for: request)
        case .describeGroups(let body):
            return encode(await GroupAdminHandlers(broker: self).describeGroups(body), version: version, for: request)
        case .deleteGroups(let body):
            return encode(await GroupAdminHandlers(broker: self).deleteGroups(body), version: version, for: request)
        case .consumerGroupHeartbeat(let body):
            let response = await groupCoordinator.consumerHeartbeat(
                body, version: version, clientId: request.header.clientId ?? "", clientHost: clientHost, topics: topicCatalog)
            return encode(response, version: version, for: request)
        case .consumerGroupDescribe(let body):
            return encode(await GroupAdminHandlers(broker: self).describeConsumerGroups(body), version: version, for: request)
        case .offsetForLeaderEpoch(let body):
            return encode(OffsetForLeaderEpochHandler(partitions: partitions, replicas: replicas).handle(body), version: version, for: request)
        case .electLeaders(let body):
            return encode(await ElectLeadersHandler(broker: self).handle(body, version: version), version: version, for: request)
        case .shareGroupHeartbeat(let body):
            let response = await groupCoordinator.shareHeartbeat(
                body, clientId: request.header.clientId ?? "", clientHost: clientHost, topics: topicCatalog,
                membership: groupConfigVocabulary.membership(groupConfigs(body.groupId)))
            return encode(response, version: version, for: request)
        case .shareGroupDescribe(let body):
            return encode(await GroupAdminHandlers(broker: self).describeShareGroups(body), version: version, for: request)
        case .shareFetch(let body):
            return encode(await ShareFetchHandler(broker: self, connectionId: connectionId).handle(body, version: version), version: version, for: request)
        case .shareAcknowledge(let body):
            return encode(await ShareAcknowledgeHandler(broker: self).handle(body, version: version), version: version, for: request)
        case .initializeShareGroupState(let body):
            return encode(await ShareStateHandlers(coordinator: shareCoordinator).initialize(body), version: version, for: request)
        case .readShareGroupState(let body):
            return encode(await ShareStateHandlers(coordinator: shareCoordinator).read(body), version: version, for: request)
        case .writeShareGroupState(let body):
            return encode(await ShareStateHandlers(coordinator: shareCoordinator).write(body), version: version, for: request)
        case .deleteShareGroupState(let body):
            return encode(await ShareStateHandlers(coordinator: shareCoordinator).delete(body), version: version, for: request)
        case .readShareGroupStateSummary(let body):
            return encode(await ShareStateHandlers(coordinator: shareCoordinator).summary(body), version: version, for: request)
        case .describeShareGroupOffsets(let body):
            return encode(await ShareGroupOffsetsHandlers(broker: self).describe(body, version: version), version: version, for: request)
        case .alterShareGroupOffsets(let body):
            return encode(await ShareGroupOffsetsHandlers(broker: self).alter(body), version: version, for: request)
        case .deleteShareGroupOffsets(let body):
            return encode(await ShareGroupOffsetsHandlers(broker: self).delete(body), version: version, for: request)
        case .offsetDelete(let body):
            return encode(await GroupAdminHandlers(broker: self).deleteOffsets(body), version: version, for: request)
        // Generated but not served: never advertised (SupportedApis), so `answer` refuses them
        // first. Listed rather than `default`, so a new API cannot be advertised without a case.
        case .leaderAndIsr, .stopReplica, .updateMetadata, .controlledShutdown, .saslHandshake, .describeAcls, .createAcls,
             .deleteAcls, .alterReplicaLogDirs, .saslAuthenticate, .createDelegationToken, .renewDelegationToken,
             .expireDelegationToken, .describeDelegationToken, .alterPartitionReassignments, .listPartitionReassignments,
             .describeClientQuotas, .alterClientQuotas, .describeUserScramCredentials, .alterUserScramCredentials, .vote,
             .beginQuorumEpoch, .endQuorumEpoch, .describeQuorum, .alterPartition, .updateFeatures, .envelope, .fetchSnapshot,
             .brokerRegistration, .brokerHeartbeat, .unregisterBroker, .allocateProducerIds, .controllerRegistration,
             .getTelemetrySubscriptions, .pushTelemetry, .assignReplicasToDirs, .listClientMetricsResources,
             .describeTopicPartitions, .addRaftVoter, .removeRaftVoter, .updateRaftVoter:
            return nil
        }
    }

    private func produce(_ body: ProduceRequest, request: KafkaRequest, orderedPhaseDone: @escaping @Sendable () -> Void) async -> Reply {
        let version = request.apiVersion
        var handler = ProduceHandler(
            partitions: partitions, groupCommit: groupCommit,
            decompressedSizeBytesMax: configuration.decompressedBatchSizeBytesMax,
            validation: configuration.produceValidation, recordsPerBatchMax: configuration.batchRecordsMax)
        if let replicas { handler.replication = ProduceReplication(replicas: replicas, waiters: waiters) }
        handler.verifyTransaction = { [weak self] transactionalId, producerId, epoch, partitions in
            await self?.verifyTransaction(transactionalId: transactionalId, producerId: producerId, epoch: epoch, partitions: partitions) ?? [:]
        }
        handler.metrics = metrics
        guard var response = await handler.handle(body, version: version, nowMs: Self.nowMs(), afterAppends: orderedPhaseDone) else {
            return .noResponse
        }
        for topic in response.responses {
            for partition in topic.partitionResponses { metrics.failed(.produce, code: partition.errorCode) }
        }
        if body.acks == 0 {
            // Kafka closes the connection when an acks=0 Produce fails: the client has no other way
            // to learn it, and refreshes its metadata (a moved leader, a deleted topic).
            let failures = response.responses.flatMap { topic in
                topic.partitionResponses.filter { $0.errorCode != 0 }.map { "\(topic.name)-\($0.index): \(KafkaErrorCode(rawValue: $0.errorCode).name)" }
            }
            return .close("acks=0 Produce failed (\(failures.joined(separator: ", "))); closing the connection so the client learns it")
        }
        if cluster != nil { LeaderHints.add(to: &response, version: version, partitions: partitions) }
        switch encode(response, version: version, for: request) {
        case .success(let frame?): return .response(frame)
        case .success(nil): return .noResponse
        case .failure(let error): return .close("Produce v\(version) response could not be encoded: \(error)")
        }
    }

    private func fetch(_ body: FetchRequest, request: KafkaRequest, sendsFiles: Bool) async -> Reply {
        let replicaId = request.apiVersion >= 15 ? body.replicaState.replicaId : body.replicaId
        var result: FetchResult
        if replicaId >= 0, let cluster, let replicas {
            result = await ReplicaFetchHandler(
                partitions: partitions, replicas: replicas, waiters: waiters,
                proposeInSyncReplicaChange: { topicPartition, change in Task { await cluster.commit(change, for: topicPartition) } },
                responseBytesMax: configuration.fetchResponseBytesMax
            ).fetch(body, version: request.apiVersion)
        } else {
            result = await FetchHandler(
                partitions: partitions, waiters: waiters, responseBytesMax: configuration.fetchResponseBytesMax, replicas: replicas
            ).fetch(body, version: request.apiVersion)
        }
        if replicaId < 0 { countServed(result) }
        if cluster != nil { LeaderHints.add(to: &result.response, version: request.apiVersion, partitions: partitions) }
        do {
            if sendsFiles, !result.records.isEmpty,
               let spliced = try FetchResponseSplicer.encode(result, version: request.apiVersion, correlationId: request.correlationId) {
                return .responseParts(spliced.parts, whenWritten: spliced.release)
            }
            var frame = ByteBuffer()
            try KafkaResponseFrame.encode(result.copyingRecords(), version: request.apiVersion, correlationId: request.correlationId, into: &frame)
            return .response(frame)
        } catch {
            return .close("Fetch v\(request.apiVersion) response could not be encoded: \(error)")
        }
    }

    /// Sets the gauges that are read rather than counted (partition health, log sizes, consumer
    /// lag): the admin listener calls it before each scrape.
    public func refreshGauges() {
        metrics.gauges.refresh(image: partitions.current, nodeId: configuration.nodeId, logs: logs.allLogs)
        metrics.gauges.refresh(lag: consumerLag())
        metrics.gauges.refresh(longPolls: waiters)
    }

    /// Offers the throughput totals to the history (once a second; it keeps one every 10 s).
    func sampleThroughput() {
        let nowMs = Self.nowMs()
        throughput.sample(metrics.totals, nowMs: nowMs)
        guard topicRates.isDue(nowMs: nowMs) else { return }
        let image = partitions.current
        var offsets: [String: Int64] = [:]
        for topic in image.topics {
            var sum: Int64 = 0, held = false
            for assignment in topic.partitions {
                guard let log = partitions.log(topic: topic.name, partition: assignment.partition) else { continue }
                sum += log.offsets.highWatermark
                held = true
            }
            if held { offsets[topic.name] = sum }
        }
        topicRates.sample(offsets, nowMs: nowMs)
    }

    /// Takes a lag sample of every group coordinated here (the maintenance timer, once a second).
    /// Partitions with no replica here are asked of their leaders first.
    func sampleConsumerLag() async {
        let commits = await groupCoordinator.committedOffsets() + shareGroupCommits()
        var remote: [TopicPartition: Set<Int64>] = [:]
        for commit in commits where partitions.log(topic: commit.key.topic, partition: commit.key.partition) == nil {
            remote[commit.key.topicPartition, default: []].insert(commit.offset)
        }
        if cluster != nil {
            await remoteOffsets.refresh(remote, image: partitions.current, connections: lagConnections)
        }
        lagMonitor.sample(commits, logEndOffset: highWatermark)
        let nowMs = Self.nowMs()
        if groupLag.isDue(nowMs: nowMs) { groupLag.sample(groupLagViews(), nowMs: nowMs) }
    }

    /// The lag of every partition of every group coordinated here, now: in records (to the high
    /// watermark, what the group could read) and in time, with Burrow's status.
    public func consumerLag() -> [LagMonitor.PartitionLag] {
        let (partitions, remote) = (self.partitions, remoteOffsets)
        return lagMonitor.evaluate(
            logEndOffset: highWatermark,
            timestamp: { topicPartition, offset in
                if let log = partitions.log(topic: topicPartition.topic, partition: topicPartition.partition) {
                    return log.batchTimestamp(at: offset)
                }
                return remote.timestamp(topicPartition, at: offset)
            },
            nowMs: Self.nowMs())
    }

    /// The share groups coordinated here, as commits: each share-partition's start offset and the
    /// records done after it, from its share coordinator (``ShareGroupProgress``).
    private func shareGroupCommits() async -> [LagMonitor.Commit] {
        var states: [ShareGroupProgress.State] = []
        for share in await groupCoordinator.sharePartitions() {
            let key = ShareStateKey(groupId: share.group, topicId: share.topicId, partition: share.partition)
            guard case .success(let summary?) = await shareCoordinators.summary(key), summary.startOffset >= 0 else { continue }
            states.append(.init(
                key: .init(group: share.group, topic: share.topic, partition: share.partition), startOffset: summary.startOffset,
                completedCount: summary.completedCount))
        }
        let nowMs = Self.nowMs()
        return shareProgress.withLock { $0.commits(states, nowMs: nowMs) }
    }

    /// A partition's high watermark: its replica's here, else the last its leader reported.
    private func highWatermark(_ topicPartition: TopicPartition) -> Int64? {
        partitions.log(topic: topicPartition.topic, partition: topicPartition.partition)?.offsets.highWatermark
            ?? remoteOffsets.highWatermark(topicPartition)
    }

    /// A consumer's fetch in the metrics: record bytes per topic, error codes per partition.
    private func countServed(_ result: FetchResult) {
        metrics.failed(.fetch, code: result.response.errorCode)
        for topic in result.response.responses {
            for partition in topic.partitions { metrics.failed(.fetch, code: partition.errorCode) }
        }
        for records in result.records {
            let topic = result.response.responses[records.topicIndex]
            let name = topic.topic.isEmpty ? (partitions.topicName(id: topic.topicId) ?? "") : topic.topic
            metrics.served(topic: name, bytes: records.sizeBytes)
        }
    }

    /// The response to an ApiVersions request of a version newer than this broker knows.
    public func unsupportedApiVersionsResponse(correlationId: Int32) -> ByteBuffer {
        var buffer = ByteBuffer()
        try? KafkaResponseFrame.encode(ApiVersionsHandler.unsupportedVersionResponse(), version: 0, correlationId: correlationId, into: &buffer)
        return buffer
    }

    private func encode<Response: KafkaResponseMessage>(
        _ response: Response, version: Int16, for request: KafkaRequest
    ) -> Result<ByteBuffer?, KafkaEncodingError> {
        var buffer = ByteBuffer()
        do {
            try KafkaResponseFrame.encode(response, version: version, correlationId: request.correlationId, into: &buffer)
            return .success(buffer)
        } catch {
            return .failure(error)
        }
    }

    /// Periodic work: flushes by policy, one retention round, one compaction round (the
    /// dirtiest compacted log, `__consumer_offsets` among them) and a slice of the background
    /// integrity check. Called by the server's timer; returns the partitions found damaged.
    @discardableResult
    public func runMaintenance() throws -> [(TopicPartition, String)] {
        try logs.flushDueLogs(nowMs: Self.nowMs())
        try logs.applyRetention(nowMs: Self.nowMs())
        _ = try logs.compact(nowMs: Self.nowMs())
        return logs.scrubRound()
    }

    /// Answers parked group requests, stops group commit and closes every log cleanly (writes the
    /// clean-shutdown marker).
    public func shutdown() async throws {
        await groupCoordinator.shutdown()
        await shareCoordinator.shutdown()
        await transactionCoordinator.shutdown()
        await transactionConnections.shutdown()
        await lagConnections.shutdown()
        await shareManager.shutdown()
        await shareCoordinators.shutdown()
        if let cluster {
            await cluster.stop()
            // Ends the registration at once: the controller moves this broker's leaderships now,
            // not after the session timeout.
            await cluster.store.close()
        }
        groupCommit.shutdown()
        try logs.shutdown()
    }
}

extension Broker {
    /// A connection closed: the share sessions it opened end, and their records go back to the group.
    public func connectionClosed(_ connectionId: UInt64) {
        let shares = shareManager
        Task { await shares.connectionClosed(connectionId) }
    }

    /// The topics as KIP-848 assignors see them (internal topics are never assigned).
    var topicCatalog: TopicCatalog {
        TopicCatalog(partitions.current.topics.filter { !$0.isInternal }.map { .init(id: $0.id, name: $0.name, partitionCount: $0.partitionCount) })
    }
}

extension Broker: CoordinatorTopicHost {
    func leadsCoordinatorPartition(_ topic: String, _ partition: Int32) -> Bool {
        guard let replicas else { return true }
        if case .leader = replicas.role(of: TopicPartition(topic: topic, partition: partition)) { return true }
        return false
    }

    func awaitDurable(_ log: PartitionLog, lastOffset: Int64) async -> Bool {
        guard let replicas else {
            return (try? await groupCommit.waitUntilAcknowledgeable(log, offset: lastOffset)) != nil
        }
        // Kafka's offsets.commit.timeout.ms.
        let deadline = ContinuousClock.now + .milliseconds(5_000)
        let code = await ProduceReplication(replicas: replicas, waiters: waiters)
            .awaitReplicated(log, lastOffset: lastOffset, groupCommit: groupCommit, deadline: deadline)
        return code == .none
    }

    func coordinatorTopicPartitionCount(_ topic: String) -> Int32? {
        partitions.current.topic(named: topic)?.partitionCount
    }

    /// `__consumer_offsets` is compacted; `__share_group_state` keeps everything until the share
    /// coordinator prunes what later snapshots made obsolete (Kafka's configs for both).
    func createCoordinatorTopic(_ topic: String, partitionCount: Int32) async throws {
        var configs: [String: String]
        let wantedReplicas: Int16
        if topic == TransactionCoordinatorSettings.stateTopic {
            let settings = configuration.transactions
            configs = ["cleanup.policy": "compact", "segment.bytes": String(settings.stateTopicSegmentBytes)]
            wantedReplicas = settings.stateTopicReplicationFactor
        } else if topic == ShareCoordinatorSettings.stateTopic {
            configs = [
                "cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1",
                "segment.bytes": String(configuration.shareCoordinator.stateTopicSegmentBytes),
            ]
            wantedReplicas = configuration.shareCoordinator.stateTopicReplicationFactor
        } else {
            configs = ["cleanup.policy": "compact", "segment.bytes": String(configuration.groups.offsetsTopicSegmentBytes)]
            wantedReplicas = configuration.groups.offsetsTopicReplicationFactor
        }
        // Kafka's replication factor for both is 3; fewer brokers than that get one replica each.
        let brokerCount = partitions.current.brokers.count
        let replicationFactor = cluster == nil ? 1 : Int16(max(1, min(Int(wantedReplicas), brokerCount)))
        // Share state is acknowledged to consumers: Kafka's share.coordinator.state.topic.min.isr (2).
        if topic == ShareCoordinatorSettings.stateTopic, replicationFactor >= 2 { configs["min.insync.replicas"] = "2" }
        // Kafka's transaction.state.log.min.isr (2), within the replicas there are.
        if topic == TransactionCoordinatorSettings.stateTopic, replicationFactor >= 2 {
            configs["min.insync.replicas"] = String(min(Int16(replicationFactor), configuration.transactions.stateTopicMinInSyncReplicas))
        }
        let result = await createTopic(
            name: topic, partitionCount: partitionCount, replicationFactor: replicationFactor, configs: configs, validateOnly: false)
        if case .failure(let error) = result, error.kafkaErrorCode != .topicAlreadyExists { throw error }
    }
}

extension Broker {
    /// The transaction coordinator's request handlers.
    var transactionHandlers: TransactionCoordinatorHandlers {
        TransactionCoordinatorHandlers(coordinator: transactionCoordinator) { [groupCoordinator] group in
            await groupCoordinator.offsetsPartition(of: group)
        }
    }
}

extension Broker {
    /// KIP-890 verification at the transactional id's coordinator: here, or on the broker that
    /// leads its `__transaction_state` partition (AddPartitionsToTxn v4+, verify only).
    func verifyTransaction(
        transactionalId: String, producerId: Int64, epoch: Int16, partitions: [TransactionMetadata.TopicPartitionName]
    ) async -> [TransactionMetadata.TopicPartitionName: KafkaErrorCode] {
        let image = self.partitions.current
        guard cluster != nil, let topic = image.topic(named: TransactionCoordinatorSettings.stateTopic) else {
            return await transactionCoordinator.verify(transactionalId: transactionalId, producerId: producerId, epoch: epoch, partitions: partitions)
        }
        let leader = topic.partitions[Int(TransactionCoordinator.partition(for: transactionalId, partitionCount: topic.partitionCount))].leader
        if leader == configuration.nodeId {
            return await transactionCoordinator.verify(transactionalId: transactionalId, producerId: producerId, epoch: epoch, partitions: partitions)
        }
        guard let connection = await transactionConnections.connection(to: leader) else { return [:] }
        let byTopic = Dictionary(grouping: partitions, by: \.topic)
        let request = AddPartitionsToTxnRequest(transactions: [.init(
            transactionalId: transactionalId, producerId: producerId, producerEpoch: epoch, verifyOnly: true,
            topics: byTopic.keys.sorted().map { .init(name: $0, partitions: byTopic[$0]!.map(\.partition)) })])
        do {
            let response = try await connection.send(request, version: 4)
            var codes: [TransactionMetadata.TopicPartitionName: KafkaErrorCode] = [:]
            for topic in response.resultsByTransaction.first?.topicResults ?? [] {
                for partition in topic.resultsByPartition {
                    codes[.init(topic: topic.name, partition: partition.partitionIndex)] = KafkaErrorCode(rawValue: partition.partitionErrorCode)
                }
            }
            return codes
        } catch {
            await transactionConnections.discard(connection)
            return [:]
        }
    }
}

extension Broker: TransactionMarkerWriter {
    /// Writes markers to each partition's leader: this broker's logs directly, other brokers'
    /// through WriteTxnMarkers. A leader that cannot be reached answers NOT_LEADER_OR_FOLLOWER
    /// for its partitions (the coordinator retries them).
    func write(_ markers: TransactionStateMachine.Markers, coordinatorEpoch: Int32) async -> [TransactionMetadata.TopicPartitionName: KafkaErrorCode] {
        let handler = WriteTxnMarkersHandler(broker: self)
        guard cluster != nil else { return await handler.write(markers, coordinatorEpoch: coordinatorEpoch) }
        let image = partitions.current
        var byLeader: [Int32: [TransactionMetadata.TopicPartitionName]] = [:]
        var codes: [TransactionMetadata.TopicPartitionName: KafkaErrorCode] = [:]
        for partition in markers.partitions {
            guard let topic = image.topic(named: partition.topic), Int(partition.partition) < topic.partitions.count else {
                codes[partition] = .unknownTopicOrPartition
                continue
            }
            byLeader[topic.partitions[Int(partition.partition)].leader, default: []].append(partition)
        }
        for (leader, led) in byLeader {
            var subset = markers
            subset.partitions = led
            if leader == configuration.nodeId {
                codes.merge(await handler.write(subset, coordinatorEpoch: coordinatorEpoch)) { _, new in new }
                continue
            }
            for partition in led { codes[partition] = .notLeaderOrFollower }
            guard let connection = await transactionConnections.connection(to: leader) else { continue }
            let byTopic = Dictionary(grouping: led, by: \.topic)
            let request = WriteTxnMarkersRequest(markers: [.init(
                producerId: markers.producerId, producerEpoch: markers.producerEpoch, transactionResult: markers.commit,
                topics: byTopic.keys.sorted().map { .init(name: $0, partitionIndexes: byTopic[$0]!.map(\.partition)) },
                coordinatorEpoch: coordinatorEpoch)])
            do {
                let response = try await connection.send(request)
                for topic in response.markers.first?.topics ?? [] {
                    for partition in topic.partitions {
                        codes[.init(topic: topic.name, partition: partition.partitionIndex)] = KafkaErrorCode(rawValue: partition.errorCode)
                    }
                }
            } catch {
                await transactionConnections.discard(connection)
            }
        }
        return codes
    }
}
