import Foundation
import Synchronization
public import KafkaProtocol
public import Logging

/// The ``MetadataStore`` of a broker in a cluster: the metadata lives in etcd under one prefix
/// (``EtcdKeyLayout``), every write is an etcd transaction that compares what it read, and every
/// broker keeps its image current from one watch of the prefix.
///
/// The image is a function of the keys: the store keeps the keys as last seen, and after each etcd
/// revision it rebuilds what the revision touched and publishes the difference as changes. A topic
/// is seen only once its topic key and all its partition keys are there (the partition keys are
/// written first, in transactions of at most ``operationsPerTransactionMax`` keys — etcd's
/// `--max-txn-ops` is 128 — and the topic key last). A write returns once this store's own image has reached the write's revision,
/// so a caller reads its own writes. Revisions only go forward: a watch that falls behind etcd's
/// compaction reloads a snapshot, published as a ``MetadataChange/Kind/snapshot(_:)``.
///
/// Liveness: ``registerBroker(_:)`` puts this broker's key under a lease of
/// `broker.session.timeout.ms`, renewed at a third of it; a broker whose lease expires is dead to
/// the cluster. If the lease is found gone (etcd declared this broker dead while it was paused or
/// cut off), the store takes a new lease and registers again, with a log line.
public actor EtcdMetadataStore: MetadataStore {
    public nonisolated let clusterId: String
    public nonisolated let nodeId: Int32
    public nonisolated let keys: EtcdKeyLayout
    public nonisolated let client: EtcdClient
    /// `broker.session.timeout.ms`: how long etcd keeps this broker's lease without a renewal.
    public nonisolated let sessionTimeoutMs: Int64

    private let configuration: MetadataConfiguration
    private let logger: Logger
    private var keyValues: [String: EtcdKeyValue]
    private var current: MetadataImage
    private let subscribers = ChangeSubscribers()
    private var revisionWaiters: [(revision: Int64, continuation: CheckedContinuation<Void, Never>)] = []
    private var watchTask: Task<Void, Never>?
    private var keepAliveTask: Task<Void, Never>?
    private var clockTask: Task<Void, Never>?
    private var lease: Int64 = 0
    private var registration: BrokerRegistration?
    private let session = Mutex(Session())

    /// What this broker knows of its own registration, readable from any thread: the request path
    /// asks it before acting as a leader.
    public struct Session: Sendable, Equatable {
        /// The last time the session's clock task ran: a process that did not run for a third of
        /// the session timeout (paused, SIGSTOP) cannot know whether the cluster still counts it
        /// alive.
        public var lastTickAt: ContinuousClock.Instant = .now
        /// Set when such a gap is seen; cleared once etcd confirms the lease (or a new one).
        public var suspended = false
        /// The etcd revision of the current registration: metadata older than it may still show
        /// leaderships the cluster moved while this broker was away.
        public var revision: Int64 = 0
    }

    public nonisolated var currentSession: Session { session.withLock { $0 } }

    /// Whether this broker may trust its registration now. A broker that was not running for a
    /// third of its session timeout (a paused process) may have been declared dead and its
    /// partitions given to others: until etcd confirms its lease it must not act as a leader. A
    /// broker that merely cannot reach etcd is not suspended: while etcd is down nobody can move
    /// its leaderships, and replication itself keeps acks=all honest.
    public nonisolated func isRegistrationCurrent(at now: ContinuousClock.Instant = .now) -> Bool {
        let gapMax = Duration.milliseconds(max(300, sessionTimeoutMs / 3))
        return session.withLock { !$0.suspended && now - $0.lastTickAt < gapMax }
    }

    private init(
        client: EtcdClient, keys: EtcdKeyLayout, nodeId: Int32, clusterId: String, sessionTimeoutMs: Int64,
        configuration: MetadataConfiguration, logger: Logger, keyValues: [String: EtcdKeyValue], revision: Int64
    ) {
        self.client = client
        self.keys = keys
        self.nodeId = nodeId
        self.clusterId = clusterId
        self.sessionTimeoutMs = sessionTimeoutMs
        self.configuration = configuration
        self.logger = logger
        self.keyValues = keyValues
        self.current = Self.image(from: keyValues, keys: keys, clusterId: clusterId, revision: revision)
    }

    /// Joins the cluster whose metadata is under `keys` (creating its cluster id if this is the
    /// first broker), loads it and starts watching it.
    public static func open(
        client: EtcdClient, keys: EtcdKeyLayout = EtcdKeyLayout(), nodeId: Int32, sessionTimeoutMs: Int64 = 9_000,
        configuration: MetadataConfiguration = MetadataConfiguration(), logger: Logger
    ) async throws(MetadataError) -> EtcdMetadataStore {
        let proposed = KafkaUUID.random().description
        let created = try await etcd {
            try await client.transaction(EtcdTransaction(
                compare: [.absent(keys.clusterId)], success: [.put(key: keys.clusterId, value: Data(proposed.utf8))],
                failure: [.get(key: keys.clusterId)]))
        }
        let clusterId = created.succeeded
            ? proposed : created.gets.first?.first.map { String(decoding: $0.value, as: UTF8.self) } ?? proposed
        let (keyValues, revision) = try await snapshot(client: client, keys: keys)
        let store = EtcdMetadataStore(
            client: client, keys: keys, nodeId: nodeId, clusterId: clusterId, sessionTimeoutMs: sessionTimeoutMs,
            configuration: configuration, logger: logger, keyValues: keyValues, revision: revision)
        await store.startWatching()
        if created.succeeded { logger.notice("created cluster \(clusterId) in etcd under \(keys.prefix)") }
        return store
    }

    /// Stops watching, and ends this broker's lease so that the cluster sees it gone at once.
    public func close() async {
        watchTask?.cancel()
        keepAliveTask?.cancel()
        clockTask?.cancel()
        watchTask = nil
        keepAliveTask = nil
        clockTask = nil
        if lease != 0 { try? await client.revokeLease(lease) }
        lease = 0

        subscribers.finishAll()
        for waiter in revisionWaiters { waiter.continuation.resume() }
        revisionWaiters = []
    }

    // MARK: Reading

    public func image() -> MetadataImage { current }

    public func changes() -> AsyncStream<MetadataChange> {
        subscribers.subscribe(startingWith: MetadataChange(revision: current.revision, kind: .snapshot(current)))
    }

    public func brokers() -> [BrokerRegistration] { current.brokers }
    public func topic(named name: String) -> TopicMetadata? { current.topic(named: name) }
    public func topic(id: KafkaUUID) -> TopicMetadata? { current.topic(id: id) }
    public func topics() -> [TopicMetadata] { current.topics }

    // MARK: Brokers

    /// Registers this broker under its lease (granted on first use, renewed in the background).
    /// A registration of the same node id by another live process is waited out for up to twice
    /// the session timeout (a restarted broker's old lease expiring), then refused.
    public func registerBroker(_ broker: BrokerRegistration) async throws(MetadataError) {
        precondition(broker.nodeId == nodeId, "node \(broker.nodeId) registered through the store of node \(nodeId)")
        registration = broker
        try await register()
        if keepAliveTask == nil {
            keepAliveTask = Task { [weak self] in await self?.keepAliveLoop() }
            clockTask = Task { [weak self, sessionTimeoutMs, logger] in
                let gapMax = Duration.milliseconds(max(300, sessionTimeoutMs / 3))
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(100))
                    let now = ContinuousClock.now
                    guard let paused = self?.session.withLock({ state -> Bool in
                        defer { state.lastTickAt = now }
                        guard now - state.lastTickAt >= gapMax else { return false }
                        state.suspended = true
                        return true
                    }) else { return }
                    if paused { logger.warning("this broker did not run for over \(gapMax): not acting as a leader until etcd confirms its registration") }
                }
            }
        }
    }

    private func register() async throws(MetadataError) {
        guard let broker = registration else { return }
        let key = keys.broker(broker.nodeId)
        let value = EtcdJSON.encode(BrokerRecord(host: broker.host, port: broker.port, rack: broker.rack))
        let waitMs = 2 * sessionTimeoutMs
        let started = ContinuousClock.now
        var loggedWait = false
        // Bounded by `waitMs`: each pass sleeps 200 ms.
        while true {
            let existing = try await Self.etcd { try await client.range(key).keys.first }
            if let existing, existing.lease != lease {
                guard ContinuousClock.now - started < .milliseconds(waitMs) else {
                    throw .storage("node id \(broker.nodeId) is registered by another live broker (lease \(existing.lease))")
                }
                if !loggedWait {
                    logger.warning("node id \(broker.nodeId) is still registered by an earlier process; waiting for its lease to expire")
                    loggedWait = true
                }
                try? await Task.sleep(for: .milliseconds(200))
                continue
            }
            // The lease is granted once the node id is free: granted before that wait (up to two
            // session timeouts, nothing renewing it) it could expire first, and the put fail.
            if lease == 0 {
                let ttlSeconds = max(1, (sessionTimeoutMs + 999) / 1000)
                lease = try await Self.etcd { try await client.grantLease(ttlSeconds: ttlSeconds) }
            }
            let result = try await Self.etcd {
                try await client.transaction(EtcdTransaction(
                    compare: [.unchanged(key, since: existing?.modRevision ?? 0)], success: [.put(key: key, value: value, lease: lease)]))
            }
            if result.succeeded {
                await waitForRevision(result.revision)
                session.withLock {
                    $0.revision = result.revision
                    $0.suspended = false
                }
                return
            }
        }
    }

    /// Renews the lease at a third of its time; a lease found gone is replaced and the broker
    /// registered again (the cluster had declared it dead).
    private func keepAliveLoop() async {
        let interval = Duration.milliseconds(max(100, sessionTimeoutMs / 3))
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            guard !Task.isCancelled, lease != 0 else { return }
            do throws(EtcdError) {
                let remaining = try await client.keepAlive(lease: lease)
                if remaining <= 0 {
                    logger.error("this broker's etcd lease expired (the cluster saw it as dead); registering again")
                    lease = 0
                    try? await register()
                } else {
                    session.withLock { $0.suspended = false }
                }
            } catch {
                // The client logs lost and regained connections; the next renewal tries again.
                continue
            }
        }
    }

    // MARK: Topics

    public func createTopic(
        name: String, partitionCount: Int32, replicationFactor: Int16, configs: [String: String], validateOnly: Bool
    ) async throws(MetadataError) -> TopicMetadata {
        var topic = try current.topicToCreate(
            name: name, partitionCount: partitionCount, replicationFactor: replicationFactor, configs: configs,
            id: try current.unusedTopicId(), nodeIds: current.brokers.map(\.nodeId), configuration: configuration)
        topic.partitions = try placed(topic.partitions, replicationFactor: topic.partitions.first?.replicas.count ?? 1)
        guard !validateOnly else { return topic }
        // Partition keys first (under the new id, so no other creator's keys are touched), then the
        // topic key, which makes the topic exist only if no other broker created the name first.
        let created = try await writePartitions(topic.partitions, of: topic.id, while: [.absent(keys.topic(name))])
        let result = created ? try await commit(EtcdTransaction(
            compare: [.absent(keys.topic(name))], success: [.put(key: keys.topic(name), value: EtcdJSON.encode(Self.record(of: topic)))]))
            : nil
        guard let result, result.succeeded else {
            _ = try? await commit(EtcdTransaction(compare: [], success: [.deletePrefix(keys.partitions(of: topic.id))]))
            throw .topicAlreadyExists(name: name)
        }
        return current.topic(named: name) ?? topic
    }

    /// `partitions` placed on the live brokers as Kafka places them (``ReplicaPlacement``: leaders
    /// spread from a random start, rack-aware when every broker has a rack); each starts led by its
    /// first replica, every replica in sync (a new partition is empty).
    private func placed(_ partitions: [PartitionAssignment], replicationFactor: Int) throws(MetadataError) -> [PartitionAssignment] {
        guard let first = partitions.first else { return [] }
        var generator = SystemRandomNumberGenerator()
        let replicaLists: [[Int32]]
        do throws(ReplicaPlacementError) {
            replicaLists = try ReplicaPlacement.place(
                partitionCount: partitions.count, firstPartition: first.partition, replicationFactor: replicationFactor,
                brokers: current.brokers.map { (nodeId: $0.nodeId, rack: $0.rack) }, using: &generator)
        } catch {
            throw .invalidReplicationFactor("\(error)")
        }
        return zip(partitions, replicaLists).map { partition, replicas in
            PartitionAssignment(partition: partition.partition, replicas: replicas, leader: replicas[0], leaderEpoch: 0, inSyncReplicas: replicas)
        }
    }

    /// Writes partition keys in transactions small enough for etcd, each only while `conditions` hold.
    private func writePartitions(_ partitions: [PartitionAssignment], of topicId: KafkaUUID, while conditions: [EtcdCompare]) async throws(MetadataError) -> Bool {
        var start = 0
        while start < partitions.count {
            let chunk = partitions[start..<min(start + Self.operationsPerTransactionMax, partitions.count)]
            let writes = chunk.map { EtcdOperation.put(key: keys.partition(topicId, $0.partition), value: EtcdJSON.encode(PartitionRecord($0))) }
            guard try await Self.etcd({ try await client.transaction(EtcdTransaction(compare: conditions, success: writes)) }).succeeded else {
                return false
            }
            start += chunk.count
        }
        return true
    }

    @discardableResult
    public func deleteTopic(name: String) async throws(MetadataError) -> TopicMetadata {
        try await delete(try current.topicToDelete(name: name))
    }

    @discardableResult
    public func deleteTopic(id: KafkaUUID) async throws(MetadataError) -> TopicMetadata {
        try await delete(try current.topicToDelete(id: id))
    }

    private func delete(_ topic: TopicMetadata) async throws(MetadataError) -> TopicMetadata {
        let result = try await commit(EtcdTransaction(
            compare: [.unchanged(keys.topic(topic.name), since: modRevision(keys.topic(topic.name)))],
            success: [.delete(key: keys.topic(topic.name)), .deletePrefix(keys.partitions(of: topic.id))]))
        guard result.succeeded else { throw .unknownTopic(name: topic.name) }
        return topic
    }

    public func createPartitions(
        topic name: String, newTotalCount: Int32, validateOnly: Bool
    ) async throws(MetadataError) -> TopicMetadata {
        var grown = try current.topicWithPartitions(name: name, newTotalCount: newTotalCount, nodeIds: current.brokers.map(\.nodeId))
        let existingCount = current.topic(named: name)?.partitionCount ?? 0
        grown.partitions = Array(grown.partitions.prefix(Int(existingCount)))
            + (try placed(Array(grown.partitions.dropFirst(Int(existingCount))), replicationFactor: grown.partitions.first?.replicas.count ?? 1))
        guard !validateOnly else { return grown }
        let topicRevision = modRevision(keys.topic(name))
        let unchanged = [EtcdCompare.unchanged(keys.topic(name), since: topicRevision)]
        guard try await writePartitions(Array(grown.partitions.dropFirst(Int(existingCount))), of: grown.id, while: unchanged) else {
            throw .storage("topic \(name) changed concurrently; try again")
        }
        let result = try await commit(EtcdTransaction(
            compare: unchanged, success: [.put(key: keys.topic(name), value: EtcdJSON.encode(Self.record(of: grown)))]))
        guard result.succeeded else { throw .storage("topic \(name) changed concurrently; try again") }
        return current.topic(named: name) ?? grown
    }

    public func alterTopicConfigs(
        topic name: String, set: [String: String], remove: Set<String>, validateOnly: Bool
    ) async throws(MetadataError) -> TopicMetadata {
        let altered = try current.topicWithConfigs(name: name, set: set, remove: remove, configuration: configuration)
        guard !validateOnly, altered != current.topic(named: name) else { return altered }
        let result = try await commit(EtcdTransaction(
            compare: [.unchanged(keys.topic(name), since: modRevision(keys.topic(name)))],
            success: [.put(key: keys.topic(name), value: EtcdJSON.encode(Self.record(of: altered)))]))
        guard result.succeeded else { throw .storage("topic \(name) changed concurrently; try again") }
        return current.topic(named: name) ?? altered
    }

    public func alterBrokerConfigs(
        resource: String, set: [String: String], remove: Set<String>, validateOnly: Bool
    ) async throws(MetadataError) -> [String: String] {
        let configs = try current.brokerConfigsWith(resource: resource, set: set, remove: remove, configuration: configuration)
        guard !validateOnly, configs != current.brokerConfigs[resource] ?? [:] else { return configs }
        let key = keys.brokerConfigs(resource: resource)
        let write: EtcdOperation = configs.isEmpty ? .delete(key: key) : .put(key: key, value: EtcdJSON.encode(configs))
        let result = try await commit(EtcdTransaction(compare: [.unchanged(key, since: modRevision(key))], success: [write]))
        guard result.succeeded else { throw .storage("configs of broker resource '\(resource)' changed concurrently; try again") }
        return configs
    }

    public func alterGroupConfigs(
        group: String, set: [String: String], remove: Set<String>, validateOnly: Bool,
        validate: @Sendable ([String: String]) throws(MetadataError) -> Void
    ) async throws(MetadataError) -> [String: String] {
        let configs = try current.groupConfigsWith(group: group, set: set, remove: remove, validate: validate)
        guard !validateOnly, configs != current.groupConfigs[group] ?? [:] else { return configs }
        let key = keys.groupConfigs(group: group)
        let write: EtcdOperation = configs.isEmpty ? .delete(key: key) : .put(key: key, value: EtcdJSON.encode(configs))
        let result = try await commit(EtcdTransaction(compare: [.unchanged(key, since: modRevision(key))], success: [write]))
        guard result.succeeded else { throw .storage("configs of group '\(group)' changed concurrently; try again") }
        return configs
    }

    /// Takes the next block of producer ids with a compare-and-swap on the counter, so that no two
    /// brokers ever hand out the same id.
    public func allocateProducerIds(count: Int) async throws(MetadataError) -> Range<Int64> {
        precondition(count > 0, "allocate at least one producer id, not \(count)")
        // Bounded: each failed attempt means another broker took a block in between.
        for _ in 0..<Self.contendedAttemptsMax {
            let stored = try await Self.etcd { try await client.range(keys.producerIds).keys.first }
            let first = stored.flatMap { EtcdJSON.decode(ProducerIdsRecord.self, $0.value)?.next } ?? 0
            let result = try await commit(EtcdTransaction(
                compare: [.unchanged(keys.producerIds, since: stored?.modRevision ?? 0)],
                success: [.put(key: keys.producerIds, value: EtcdJSON.encode(ProducerIdsRecord(next: first + Int64(count))))]))
            if result.succeeded { return first..<(first + Int64(count)) }
        }
        throw .storage("no producer id block after \(Self.contendedAttemptsMax) contended attempts")
    }

    /// Replaces partition states, each only if its stored state is still `expected` (its partition
    /// epoch among it): the controller's elections and a leader's ISR changes (Kafka's
    /// AlterPartition rule). The changes go in transactions of at most
    /// ``partitionChangesPerTransactionMax`` partitions, each all or nothing.
    /// - Returns: per change, whether it was committed; a refused one changed nothing, and its
    ///   writer decides again from the current image.
    ///
    /// - Parameter controllerEpoch: for the controller's changes, its epoch: each transaction also
    ///   requires the controller key to be the one this broker created, so a controller that lost
    ///   its lease (paused, cut off) can no longer change anything.
    public func alterPartitions(
        _ changes: [(topic: String, expected: PartitionAssignment, new: PartitionAssignment)], controllerEpoch: Int64? = nil
    ) async throws(MetadataError) -> [Bool] {
        var committed = Array(repeating: false, count: changes.count)
        var pending: [(index: Int, key: String, revision: Int64, value: Data)] = []
        for (index, change) in changes.enumerated() {
            guard let topic = current.topic(named: change.topic) else { continue }
            let key = keys.partition(topic.id, change.expected.partition)
            guard let stored = keyValues[key], EtcdJSON.decode(PartitionRecord.self, stored.value) == PartitionRecord(change.expected) else {
                continue
            }
            pending.append((index, key, stored.modRevision, EtcdJSON.encode(PartitionRecord(change.new))))
        }
        let transactions = stride(from: 0, to: pending.count, by: Self.partitionChangesPerTransactionMax).map { start in
            let chunk = pending[start..<min(start + Self.partitionChangesPerTransactionMax, pending.count)]
            var compare = chunk.map { EtcdCompare.unchanged($0.key, since: $0.revision) }
            if let controllerEpoch { compare.append(EtcdCompare(key: keys.controller, .equal, .createRevision(controllerEpoch))) }
            return (indexes: chunk.map(\.index), transaction: EtcdTransaction(compare: compare, success: chunk.map { .put(key: $0.key, value: $0.value) }))
        }
        // Their keys are disjoint, so several go to etcd at once: it commits what arrives together
        // in one raft round and one fsync, most of an election's time with thousands of partitions.
        var next = 0
        while next < transactions.count {
            let window = Array(transactions[next..<min(next + Self.transactionsInFlightMax, transactions.count)])
            next += window.count
            let client = self.client
            let results = try await Self.etcd {
                try await withThrowingTaskGroup(of: (Int, EtcdTransactionResult).self) { group in
                    for (position, entry) in window.enumerated() {
                        let transaction = entry.transaction
                        group.addTask { (position, try await client.transaction(transaction)) }
                    }
                    var results: [(Int, EtcdTransactionResult)] = []
                    for try await result in group { results.append(result) }
                    return results
                }
            }
            var newest: Int64 = 0
            for (position, result) in results where result.succeeded {
                for index in window[position].indexes { committed[index] = true }
                newest = max(newest, result.revision)
            }
            await waitForRevision(newest)
        }
        return committed
    }

    // MARK: The controller election

    /// Tries to become the controller: creates `<prefix>/controller` under this broker's lease
    /// unless a live broker holds it. The key goes with its holder's lease, so a dead controller is
    /// replaced within the session timeout.
    /// - Returns: this broker's controller epoch (the key's create revision: it grows with every
    ///   election) if it holds the key now, else nil.
    public func campaignForController() async throws(MetadataError) -> Int64? {
        guard lease != 0 else { return nil }
        let result = try await Self.etcd {
            try await client.transaction(EtcdTransaction(
                compare: [.absent(keys.controller)],
                success: [.put(key: keys.controller, value: EtcdJSON.encode(ControllerRecord(nodeId: nodeId)), lease: lease), .get(key: keys.controller)],
                failure: [.get(key: keys.controller)]))
        }
        guard let holder = result.gets.first?.first, holder.lease == lease,
              EtcdJSON.decode(ControllerRecord.self, holder.value)?.nodeId == nodeId
        else { return nil }
        await waitForRevision(holder.modRevision)
        return holder.createRevision
    }

    /// Gives up the controller key if this broker holds it (a controlled shutdown), so another
    /// broker takes over at once instead of after the session timeout.
    public func resignController(epoch: Int64) async {
        _ = try? await Self.etcd {
            try await client.transaction(EtcdTransaction(
                compare: [EtcdCompare(key: keys.controller, .equal, .createRevision(epoch))], success: [.delete(key: keys.controller)]))
        }
    }

    /// etcd refuses a transaction of more than 128 operations (`--max-txn-ops`).
    public static let operationsPerTransactionMax = 100
    /// A partition change is one compare and one write.
    public static let partitionChangesPerTransactionMax = 100
    /// Partition-change transactions sent to etcd together (10,000 partition states in 100).
    static let transactionsInFlightMax = 16

    // MARK: Committing

    static let contendedAttemptsMax = 100

    /// Runs `transaction`; when it wrote, waits until this store's image has its revision.
    private func commit(_ transaction: EtcdTransaction) async throws(MetadataError) -> EtcdTransactionResult {
        let result = try await Self.etcd { try await client.transaction(transaction) }
        if result.succeeded && !transaction.success.isEmpty { await waitForRevision(result.revision) }
        return result
    }

    private func waitForRevision(_ revision: Int64) async {
        guard current.revision < revision, watchTask != nil else { return }
        await withCheckedContinuation { revisionWaiters.append((revision, $0)) }
    }

    private func modRevision(_ key: String) -> Int64 { keyValues[key]?.modRevision ?? 0 }

    /// Runs an etcd call, turning its failure into the store's error.
    private nonisolated(nonsending) static func etcd<Value>(_ call: () async throws -> Value) async throws(MetadataError) -> Value {
        do {
            return try await call()
        } catch EtcdError.unavailable(let reason) {
            throw .unavailable(reason)
        } catch {
            throw .storage("\(error)")
        }
    }

    // MARK: Watching

    /// Starts the watch (at open; tests restart it after ``stopWatching()``).
    func startWatching() {
        guard watchTask == nil else { return }
        watchTask = Task { [weak self] in await self?.watchLoop() }
    }

    /// Stops the watch: the image stays where it is (tests: a broker cut off from etcd's stream).
    func stopWatching() {
        watchTask?.cancel()
        watchTask = nil
    }

    private func watchLoop() async {
        var backoff = EtcdClient.backoffInitial
        while !Task.isCancelled {
            let from = current.revision + 1
            do {
                for try await batch in client.watch(prefix: keys.root, startRevision: from) {
                    apply(batch)
                    backoff = EtcdClient.backoffInitial
                }
            } catch let error as EtcdError {
                if case .compacted = error {
                    logger.warning("etcd compacted the revisions this broker had not seen; reloading the metadata")
                    await reload()
                    continue
                }
                logger.debug("etcd watch ended: \(error); resuming from revision \(current.revision + 1)")
            } catch {
                logger.debug("etcd watch ended: \(error)")
            }
            try? await Task.sleep(for: backoff)
            backoff = min(backoff * 2, EtcdClient.backoffMax)
        }
    }

    private func reload() async {
        guard let (keyValues, revision) = try? await Self.snapshot(client: client, keys: keys), revision >= current.revision else { return }
        self.keyValues = keyValues
        current = Self.image(from: keyValues, keys: keys, clusterId: clusterId, revision: revision)
        subscribers.publish(MetadataChange(revision: revision, kind: .snapshot(current)))
        releaseWaiters()
    }

    private static func snapshot(client: EtcdClient, keys: EtcdKeyLayout) async throws(MetadataError) -> ([String: EtcdKeyValue], Int64) {
        let (found, revision) = try await etcd { try await client.range(keys.root, prefix: true) }
        return (Dictionary(found.map { ($0.key, $0) }, uniquingKeysWith: { _, last in last }), revision)
    }

    /// Applies one watch message, revision by revision.
    private func apply(_ batch: EtcdWatchBatch) {
        var index = batch.events.startIndex
        while index < batch.events.endIndex {
            let revision = batch.events[index].keyValue.modRevision
            var touched: Set<EtcdKeyLayout.Key> = []
            while index < batch.events.endIndex, batch.events[index].keyValue.modRevision == revision {
                let event = batch.events[index]
                switch event.kind {
                case .put: keyValues[event.keyValue.key] = event.keyValue
                case .delete: keyValues[event.keyValue.key] = nil
                }
                if let key = keys.parse(event.keyValue.key) { touched.insert(key) }
                index += 1
            }
            // Never back: an event at or below what the image has is old news.
            guard revision > current.revision else { continue }
            for kind in changes(touching: touched) {
                let change = MetadataChange(revision: revision, kind: kind)
                current.apply(change)
                subscribers.publish(change)
            }
            current.advanceRevision(to: revision)
        }
        releaseWaiters()
    }

    private func releaseWaiters() {
        let ready = revisionWaiters.filter { $0.revision <= current.revision }
        revisionWaiters.removeAll { $0.revision <= current.revision }
        for waiter in ready { waiter.continuation.resume() }
    }

    /// What the keys touched by one revision changed in the image.
    private func changes(touching touched: Set<EtcdKeyLayout.Key>) -> [MetadataChange.Kind] {
        var kinds: [MetadataChange.Kind] = []
        var topicNames: Set<String> = []
        // Partition states change often (elections, ISR changes) and a topic may have thousands:
        // only the touched partitions are read again, unless the topic key itself changed.
        var touchedPartitions: [String: Set<Int32>] = [:]
        for key in touched {
            switch key {
            case .clusterId:
                continue
            case .controller:
                let nodeId = keyValues[keys.controller].flatMap { EtcdJSON.decode(ControllerRecord.self, $0.value)?.nodeId } ?? -1
                if nodeId != current.controllerId { kinds.append(.controllerChanged(nodeId: nodeId)) }
            case .broker(let nodeId):
                if let broker = Self.broker(nodeId, keyValues[keys.broker(nodeId)]) {
                    if current.brokersById[nodeId] != broker { kinds.append(.brokerRegistered(broker)) }
                } else if current.brokersById[nodeId] != nil {
                    kinds.append(.brokerUnregistered(nodeId: nodeId))
                }
            case .topic(let name):
                topicNames.insert(name)
            case .partition(let topicId, let partition):
                // Partition keys of a topic whose key is not there yet wait for it.
                if let name = current.topic(id: topicId)?.name { touchedPartitions[name, default: []].insert(partition) }
            case .brokerConfigs(let resource):
                let configs = keyValues[keys.brokerConfigs(resource: resource)].flatMap { EtcdJSON.decode([String: String].self, $0.value) } ?? [:]
                if configs != current.brokerConfigs[resource] ?? [:] { kinds.append(.brokerConfigsAltered(resource: resource, configs: configs)) }
            case .groupConfigs(let group):
                let configs = keyValues[keys.groupConfigs(group: group)].flatMap { EtcdJSON.decode([String: String].self, $0.value) } ?? [:]
                if configs != current.groupConfigs[group] ?? [:] { kinds.append(.groupConfigsAltered(group: group, configs: configs)) }
            case .producerIds:
                let next = keyValues[keys.producerIds].flatMap { EtcdJSON.decode(ProducerIdsRecord.self, $0.value)?.next } ?? 0
                if next > current.nextProducerId { kinds.append(.producerIdsAllocated(next: next)) }
            }
        }
        for (name, partitions) in touchedPartitions where !topicNames.contains(name) {
            guard let old = current.topic(named: name) else { continue }
            var new = old
            var whole = true
            for partition in partitions where partition >= 0 && partition < old.partitionCount {
                guard let value = keyValues[keys.partition(old.id, partition)]?.value,
                      let record = EtcdJSON.decode(PartitionRecord.self, value)
                else {
                    whole = false
                    break
                }
                new.partitions[Int(partition)] = record.assignment(partition: partition)
            }
            if !whole {
                topicNames.insert(name)
            } else if new != old {
                kinds.append(.partitionStatesChanged(new))
            }
        }
        for name in topicNames.sorted() {
            let old = current.topic(named: name)
            let new = Self.topic(name, keyValues: keyValues, keys: keys)
            switch (old, new) {
            case (nil, nil):
                continue
            case (nil, let new?):
                if current.topic(id: new.id) == nil { kinds.append(.topicCreated(new)) }
            case (let old?, nil):
                kinds.append(.topicDeleted(old))
            case (let old?, let new?) where old.id != new.id:
                kinds.append(.topicDeleted(old))
                kinds.append(.topicCreated(new))
            case (let old?, let new?):
                if new.partitionCount > old.partitionCount {
                    kinds.append(.partitionsCreated(new))
                } else if new.configs != old.configs {
                    kinds.append(.topicConfigsAltered(new))
                } else if new != old {
                    kinds.append(.partitionStatesChanged(new))
                }
            }
        }
        return kinds
    }

    // MARK: Keys to image

    static func image(from keyValues: [String: EtcdKeyValue], keys: EtcdKeyLayout, clusterId: String, revision: Int64) -> MetadataImage {
        var brokers: [BrokerRegistration] = []
        var topicNames: Set<String> = []
        var brokerConfigs: [String: [String: String]] = [:]
        var groupConfigs: [String: [String: String]] = [:]
        var controllerId: Int32 = -1
        var nextProducerId: Int64 = 0
        for (key, keyValue) in keyValues {
            switch keys.parse(key) {
            case .broker(let nodeId):
                if let broker = broker(nodeId, keyValue) { brokers.append(broker) }
            case .topic(let name):
                topicNames.insert(name)
            case .controller:
                controllerId = EtcdJSON.decode(ControllerRecord.self, keyValue.value)?.nodeId ?? -1
            case .brokerConfigs(let resource):
                brokerConfigs[resource] = EtcdJSON.decode([String: String].self, keyValue.value)
            case .groupConfigs(let group):
                groupConfigs[group] = EtcdJSON.decode([String: String].self, keyValue.value)
            case .producerIds:
                nextProducerId = EtcdJSON.decode(ProducerIdsRecord.self, keyValue.value)?.next ?? 0
            case .clusterId, .partition, nil:
                continue
            }
        }
        var topics: [TopicMetadata] = []
        var ids: Set<KafkaUUID> = []
        for name in topicNames.sorted() {
            if let topic = topic(name, keyValues: keyValues, keys: keys), ids.insert(topic.id).inserted { topics.append(topic) }
        }
        return MetadataImage(
            clusterId: clusterId, controllerId: controllerId, revision: revision, brokers: brokers, topics: topics,
            brokerConfigs: brokerConfigs, groupConfigs: groupConfigs, nextProducerId: nextProducerId)
    }

    private static func broker(_ nodeId: Int32, _ keyValue: EtcdKeyValue?) -> BrokerRegistration? {
        guard let keyValue, let record = EtcdJSON.decode(BrokerRecord.self, keyValue.value) else { return nil }
        return BrokerRegistration(nodeId: nodeId, host: record.host, port: record.port, rack: record.rack)
    }

    /// The topic named `name` if its key and every partition key are there and readable.
    static func topic(_ name: String, keyValues: [String: EtcdKeyValue], keys: EtcdKeyLayout) -> TopicMetadata? {
        guard let stored = keyValues[keys.topic(name)], let record = EtcdJSON.decode(TopicRecord.self, stored.value),
              let id = KafkaUUID(kafkaText: record.id), record.partitionCount > 0
        else { return nil }
        var partitions: [PartitionAssignment] = []
        for index in 0..<record.partitionCount {
            guard let value = keyValues[keys.partition(id, index)]?.value,
                  let partition = EtcdJSON.decode(PartitionRecord.self, value)
            else { return nil }
            partitions.append(partition.assignment(partition: index))
        }
        return TopicMetadata(name: name, id: id, partitions: partitions, configs: record.configs, isInternal: record.isInternal)
    }

    static func record(of topic: TopicMetadata) -> TopicRecord {
        TopicRecord(id: topic.id.description, isInternal: topic.isInternal, configs: topic.configs, partitionCount: topic.partitionCount)
    }
}
