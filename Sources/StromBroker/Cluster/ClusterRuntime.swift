import Foundation
import Synchronization
import KafkaProtocol
import Logging
import StromCluster
import StromStorage

/// A broker's part in a cluster: it applies every metadata change to this broker — logs for the
/// partitions it holds a replica of, leader or follower role for each, a fetcher per leader it
/// follows, logs removed with their topics — and commits the ISR changes its leaders decide.
///
/// `reconcile(to:)` is idempotent: it compares the image with what this broker runs and changes
/// only the difference, so it may be called for every change and again after this broker's own
/// writes (which then take effect before the write's answer goes out).
actor ClusterRuntime {
    let store: EtcdMetadataStore
    let settings: ClusterSettings
    let replicas: ReplicaManager
    let logger: Logger
    /// Unowned would trap if the broker failed to start after creating this runtime; weak
    /// lets every task end quietly instead.
    private weak var broker: Broker?
    private var applied: MetadataImage?
    private var takeUpFailed = false
    /// Set by ``controlledShutdown()``: this broker follows nobody any more.
    private var shuttingDown = false
    private var fetchers: [Int32: Task<Void, Never>] = [:]
    private var changesTask: Task<Void, Never>?
    private var maintenanceTask: Task<Void, Never>?
    private(set) var controller: ControllerRuntime?

    init(store: EtcdMetadataStore, settings: ClusterSettings, broker: Broker, logger: Logger) {
        self.store = store
        self.settings = settings
        self.broker = broker
        self.logger = logger
        let appliedRevision = AppliedRevision()
        self.appliedRevision = appliedRevision
        self.replicas = ReplicaManager(
            nodeId: store.nodeId, replicaLagTimeMaxMs: settings.replicaLagTimeMaxMs, clock: { Broker.nowMs() },
            mayLead: { [store] in store.isRegistrationCurrent() && appliedRevision.value >= store.currentSession.revision })
    }

    /// The revision of the last image applied, readable from the request path.
    private let appliedRevision: AppliedRevision

    final class AppliedRevision: Sendable {
        private let revision = Atomic<Int64>(0)
        var value: Int64 { revision.load(ordering: .acquiring) }
        func set(_ value: Int64) { revision.store(value, ordering: .releasing) }
    }

    var nodeId: Int32 { store.nodeId }

    /// Follows the metadata from now on, keeps ISRs current, and takes part in controller elections.
    func start() async {
        await reconcile(to: store.image())
        let changes = await store.changes()
        changesTask = Task { [weak self] in
            for await _ in changes {
                guard let self else { return }
                await self.reconcile(to: self.store.image())
            }
        }
        maintenanceTask = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(max(100, min(1_000, (self?.settings.replicaLagTimeMaxMs ?? 1_000) / 4))))
                await self?.commitShrinks()
                // Revisions that changed nothing publish no change (a registration renewed with the
                // same address): catch up with them, since leading waits for the registration's.
                await self?.catchUp()
            }
        }
        let controller = ControllerRuntime(store: store, logger: logger)
        self.controller = controller
        await controller.start()
    }

    /// Stops fetching, electing and following the metadata (the store is closed by the broker).
    func stop() async {
        changesTask?.cancel()
        maintenanceTask?.cancel()
        for task in fetchers.values { task.cancel() }
        fetchers = [:]
        await controller?.stop()
    }

    // MARK: Applying the metadata

    /// Brings this broker in line with `image` (never an image older than the one applied).
    /// It does not suspend: the actor applies one image at a time.
    func reconcile(to image: MetadataImage) {
        guard let broker else { return }
        if let applied, image.revision < applied.revision { return }
        broker.partitions.update(image)
        let previous = applied
        applied = image
        defer { appliedRevision.set(image.revision) }
        // Configs altered through any broker apply here too.
        let configsChanged = previous.map { previous in
            previous.brokerConfigs != image.brokerConfigs
                || image.topics.contains { previous.topic(named: $0.name)?.configs ?? $0.configs != $0.configs }
        } ?? false
        if configsChanged { broker.applyLogConfigs(image) }
        // Topics gone (or gone and created again under a new id): their replicas go.
        for topic in previous?.topics ?? [] where image.topic(named: topic.name)?.id != topic.id {
            for assignment in topic.partitions {
                let topicPartition = TopicPartition(topic: topic.name, partition: assignment.partition)
                replicas.remove(topicPartition)
                do {
                    try broker.logs.deleteLog(topicPartition)
                } catch {
                    logger.error("deleting the log of \(topicPartition) failed: \(error)")
                }
            }
        }
        // A partition that could not be taken up last time is tried again: everything is, then.
        let incremental = !takeUpFailed
        var takeUps: [TakeUp] = []
        for topic in image.topics {
            // Only what changed since the last image: with thousands of partitions, an election
            // touches a few and the rest need nothing.
            let previousTopic = incremental ? previous?.topic(named: topic.name) : nil
            if let previousTopic, previousTopic == topic { continue }
            let config = broker.logConfig(for: topic)
            let unchanged = previousTopic.flatMap { $0.id == topic.id ? $0.partitions : nil } ?? []
            for assignment in topic.partitions where assignment.replicas.contains(nodeId) {
                // An unchanged partition was taken up with an earlier image (a failure makes the
                // next pass a full one).
                if Int(assignment.partition) < unchanged.count, unchanged[Int(assignment.partition)] == assignment { continue }
                takeUps.append(TakeUp(
                    topicPartition: TopicPartition(topic: topic.name, partition: assignment.partition), assignment: assignment,
                    config: config))
            }
        }
        takeUpFailed = !takeUp(takeUps, broker: broker)
        updateFetchers(image)
    }

    /// One replica to take up: its log opened (created if new), then led or followed.
    private struct TakeUp {
        let topicPartition: TopicPartition
        let assignment: PartitionAssignment
        let config: LogConfig
    }

    /// Takes up every replica of `takeUps`; returns whether every one was taken up. Taking up
    /// needs no sync but a new log's (a new leader epoch reaches the disk with the first flush
    /// that needs it), so a broker takes over thousands of partitions in milliseconds.
    private func takeUp(_ takeUps: [TakeUp], broker: Broker) -> Bool {
        let started = ContinuousClock.now
        var all = true
        for item in takeUps {
            all = takeUp(item, broker: broker) && all
        }
        if takeUps.count >= Self.takeUpsLogged {
            logger.info("took up \(takeUps.count) replica changes in \(ContinuousClock.now - started)")
        }
        return all
    }

    /// Reconciles that change at least this many replicas say how long it took.
    static let takeUpsLogged = 100

    private func takeUp(_ item: TakeUp, broker: Broker) -> Bool {
        let (topicPartition, assignment) = (item.topicPartition, item.assignment)
        do {
            let log = try broker.openLog(topicPartition, config: item.config)
            let before = replicas.role(of: topicPartition)
            defer {
                // A coordinator partition whose leadership moved holds groups that may be
                // stale: they are loaded again from the log when next needed.
                if replicas.role(of: topicPartition) != before {
                    if topicPartition.topic == GroupCoordinatorSettings.offsetsTopic {
                        let coordinator = broker.groupCoordinator
                        Task { await coordinator.unload(assignment.partition) }
                    } else if topicPartition.topic == TransactionCoordinatorSettings.stateTopic {
                        let coordinator = broker.transactionCoordinator
                        Task { await coordinator.leadershipChanged(assignment.partition) }
                    } else if topicPartition.topic == ShareCoordinatorSettings.stateTopic {
                        let coordinator = broker.shareCoordinator
                        Task { await coordinator.unload(assignment.partition) }
                    }
                    // Share-partitions of a partition led elsewhere now (or at a new epoch) are loaded again when fetched.
                    let shares = broker.shareManager
                    Task { await shares.unload(topicPartition) }
                }
            }
            if assignment.leader == nodeId {
                if case .leader = before {} else {
                    logger.info("leading \(topicPartition) at epoch \(assignment.leaderEpoch), in-sync replicas \(assignment.inSyncReplicas)")
                }
                replicas.lead(topicPartition, topic: topicPartition.topic, assignment: assignment, log: log)
                if before != .leader(epoch: assignment.leaderEpoch) {
                    // Followers' long polls that started before this leadership ask again with it.
                    for follower in assignment.replicas where follower != nodeId {
                        broker.waiters.notify(ReplicaFetchHandler.newLeadershipKey(follower: follower))
                    }
                }
            } else if replicas.follow(topicPartition, assignment: assignment, log: log) {
                logger.info("following \(topicPartition) from leader \(assignment.leader) at epoch \(assignment.leaderEpoch)")
            }
            broker.waiters.notify(topicPartition)
            return true
        } catch {
            logger.error("taking up the replica of \(topicPartition) failed: \(error)")
            return false
        }
    }

    private func catchUp() async {
        let image = await store.image()
        if image.revision > applied?.revision ?? -1 { reconcile(to: image) }
    }

    private func updateFetchers(_ image: MetadataImage) {
        guard let broker else { return }
        // A broker shutting down leaves every ISR; fetching on, it would catch up and be taken
        // back in, and its leaders would then wait for it after it is gone (until
        // replica.lag.time.max.ms: acks=all produce stalled 30 s after a SIGTERM).
        let wanted = shuttingDown ? [] : replicas.leadersFollowed
        for (leader, task) in fetchers where !wanted.contains(leader) {
            task.cancel()
            fetchers[leader] = nil
        }
        for leader in wanted where fetchers[leader] == nil {
            let fetcher = ReplicaFetcher(
                leader: leader, nodeId: nodeId, settings: settings, replicas: replicas, partitions: broker.partitions,
                groupCommit: broker.groupCommit,
                address: { [partitions = broker.partitions] in
                    partitions.current.brokersById[leader].map { (host: $0.host, port: Int($0.port)) }
                },
                logger: logger)
            fetchers[leader] = Task { await fetcher.run() }
        }
    }

    // MARK: Controlled shutdown

    /// Before a broker stops (SIGTERM): gives up the controller key, moves every leadership it
    /// holds to another live in-sync replica and leaves every ISR it is in, so producers and
    /// consumers meet only retriable errors (NOT_LEADER_OR_FOLLOWER) and move on at once. A
    /// partition with no other in-sync replica stays led here until the end. Bounded by
    /// `controlled.shutdown.max.wait.ms`; the broker stops anyway after it.
    func controlledShutdown() async {
        let deadline = ContinuousClock.now + .milliseconds(settings.controlledShutdownWaitMaxMs)
        shuttingDown = true
        updateFetchers(await store.image())
        await controller?.stop()
        var moved = 0
        while ContinuousClock.now < deadline {
            let image = await store.image()
            let live = Set(image.brokers.map(\.nodeId)).subtracting([nodeId])
            var changes: [(String, PartitionAssignment, PartitionAssignment)] = []
            for topic in image.topics {
                for partition in topic.partitions where partition.replicas.contains(nodeId) {
                    guard let decision = PartitionElection.brokerFenced(nodeId, in: partition, liveBrokers: live, uncleanElectionAllowed: false),
                          partition.leader != nodeId || decision.assignment.leader != -1
                    else { continue }
                    changes.append((topic.name, partition, decision.assignment))
                }
            }
            if changes.isEmpty { break }
            let committed = (try? await store.alterPartitions(changes)) ?? []
            moved += committed.filter { $0 }.count
            await reconcile(to: store.image())
            if committed.allSatisfy({ $0 }) { continue }
            try? await Task.sleep(for: .milliseconds(50))
        }
        let stillLed = replicas.ledPartitions.count
        logger.notice("controlled shutdown: \(moved) partition changes committed; \(stillLed) partitions still led here (no other in-sync replica)")
    }

    // MARK: Administrator's elections

    /// ElectLeaders: decides each partition from the current metadata and commits the changes
    /// with a compare on each partition's epoch (a partition changed meanwhile is decided again,
    /// a few times). `partitions` nil: every partition, answering only those that changed or failed
    /// for another reason than ELECTION_NOT_NEEDED (Kafka's rule).
    func electLeaders(_ kind: LeaderElectionRequest.Kind, partitions: [TopicPartition]?) async -> [(TopicPartition, KafkaErrorCode)] {
        var outcome: [TopicPartition: KafkaErrorCode] = [:]
        let all = await store.image()
        var pending = partitions ?? all.topics.flatMap { topic in
            topic.partitions.map { TopicPartition(topic: topic.name, partition: $0.partition) }
        }
        for _ in 0..<5 where !pending.isEmpty {
            let image = await store.image()
            let live = Set(image.brokers.map(\.nodeId))
            var changes: [(String, PartitionAssignment, PartitionAssignment)] = []
            var changed: [TopicPartition] = []
            for topicPartition in pending {
                guard let topic = image.topic(named: topicPartition.topic), topicPartition.partition >= 0,
                      topicPartition.partition < topic.partitionCount
                else {
                    outcome[topicPartition] = .unknownTopicOrPartition
                    continue
                }
                let assignment = topic.partitions[Int(topicPartition.partition)]
                switch LeaderElectionRequest.decide(kind, for: assignment, liveBrokers: live) {
                case .refused(let code): outcome[topicPartition] = code
                case .change(let decision):
                    changes.append((topic.name, assignment, decision.assignment))
                    changed.append(topicPartition)
                    if decision.isUnclean {
                        logger.warning("unclean leader election asked for \(topicPartition): led by out-of-sync replica \(decision.assignment.leader); records acknowledged by the old in-sync replicas may be lost")
                    }
                }
            }
            pending = []
            guard !changes.isEmpty else { break }
            let committed = (try? await store.alterPartitions(changes)) ?? Array(repeating: false, count: changes.count)
            for (topicPartition, done) in zip(changed, committed) {
                if done { outcome[topicPartition] = KafkaErrorCode.none } else { pending.append(topicPartition) }
            }
        }
        for topicPartition in pending { outcome[topicPartition] = .requestTimedOut }
        await reconcile(to: store.image())
        let answered = outcome.filter { partitions != nil || $0.value != .electionNotNeeded }
        return answered.sorted { ($0.key.topic, $0.key.partition) < ($1.key.topic, $1.key.partition) }.map { ($0.key, $0.value) }
    }

    // MARK: ISR changes

    /// Commits an ISR change a leader decided (a follower caught up, or fell behind).
    func commit(_ change: PartitionStateChange, for topicPartition: TopicPartition) async {
        let committed = (try? await store.alterPartitions([(change.topic, change.expected, change.new)]))?.first ?? false
        replicas.finishInSyncReplicaChange(topicPartition, committed: committed ? change.new : nil)
        if committed {
            broker?.metrics.inSyncReplicasChanged(from: change.expected.inSyncReplicas.count, to: change.new.inSyncReplicas.count)
            logger.info("\(topicPartition) in-sync replicas now \(change.new.inSyncReplicas) (were \(change.expected.inSyncReplicas))")
        }
    }

    private func commitShrinks() async {
        for (topicPartition, change) in replicas.shrinkProposals() {
            await commit(change, for: topicPartition)
        }
    }
}
