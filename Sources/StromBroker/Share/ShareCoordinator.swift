import KafkaProtocol
import Logging
import StromStorage

/// The share coordinator (KIP-932): keeps every share-partition's durable state in
/// `__share_group_state`, one ``ShareStateShard`` per partition this broker leads. A state's
/// partition is `abs(javaHash("group:topicId:partition")) % partitions`; the share-partition
/// leaders reach it directly on this broker or through the inter-broker APIs 83-87. Every change
/// is answered only once its record is as durable as an acks=all produce. The topic is created on
/// first use, as Kafka does.
actor ShareCoordinator {
    private let settings: ShareCoordinatorSettings
    private let storage: CoordinatorTopicStorage
    private let logger: Logger
    private let clock: @Sendable () -> Int64
    private var shards: [Int32: ShareStateShard] = [:]
    private var partitionCount: Int32?
    private weak var host: (any CoordinatorTopicHost)?
    private let topicCreation: CoordinatorTopicCreation
    private var isShutDown = false

    init(settings: ShareCoordinatorSettings, storage: CoordinatorTopicStorage, logger: Logger, clock: @escaping @Sendable () -> Int64) {
        self.settings = settings
        self.storage = storage
        self.logger = logger
        self.clock = clock
        self.topicCreation = CoordinatorTopicCreation(topic: Self.topic, partitionCount: settings.stateTopicPartitionCount, logger: logger)
    }

    static var topic: String { ShareCoordinatorSettings.stateTopic }

    func start(host: any CoordinatorTopicHost) {
        self.host = host
        partitionCount = host.coordinatorTopicPartitionCount(Self.topic)
    }

    func shutdown() { isShutDown = true }

    /// Forgets one partition's states (its leadership moved); loaded again when next led and asked.
    func unload(_ partition: Int32) {
        guard shards.removeValue(forKey: partition) != nil else { return }
        logger.info("\(Self.topic)-\(partition): share states unloaded (leadership moved)")
    }

    /// The partition of `__share_group_state` that keeps `key`'s state.
    static func partition(for key: ShareStateKey, partitionCount: Int32) -> Int32 {
        GroupCoordinator.partition(for: key.coordinatorKey, partitionCount: partitionCount)
    }

    /// The partition count, creating `__share_group_state` first if needed.
    func ensureTopic() async -> Int32? {
        if let partitionCount { return partitionCount }
        guard let host, !isShutDown else { return nil }
        partitionCount = await topicCreation.partitionCount(host: host)
        return partitionCount
    }

    /// The loaded shard keeping `key`, or NOT_COORDINATOR / COORDINATOR_NOT_AVAILABLE.
    private func shard(for key: ShareStateKey) async -> Result<Int32, KafkaErrorCode> {
        guard !isShutDown, let count = await ensureTopic() else { return .failure(.coordinatorNotAvailable) }
        let partition = Self.partition(for: key, partitionCount: count)
        guard host?.leadsCoordinatorPartition(Self.topic, partition) ?? false else { return .failure(.notCoordinator) }
        if shards[partition] == nil {
            var shard = ShareStateShard(updatesPerSnapshot: settings.updateRecordsPerSnapshot)
            do {
                let unreadable = try storage.readAll(ShareStateRecord.self, partition: partition) { shard.replay($0, offset: $1) }
                if unreadable > 0 { logger.warning("\(unreadable) unreadable records in \(Self.topic)-\(partition) skipped") }
            } catch {
                logger.warning("\(Self.topic)-\(partition) cannot be loaded yet: \(error)")
                return .failure(.coordinatorLoadInProgress)
            }
            shards[partition] = shard
        }
        return .success(partition)
    }

    // MARK: The share-group state APIs

    func initialize(_ key: ShareStateKey, stateEpoch: Int32, startOffset: Int64) async -> KafkaErrorCode {
        await change(key) { $0.initialize(key, stateEpoch: stateEpoch, startOffset: startOffset).map { [$0] } }
    }

    /// The stored state (nil: none yet), after fencing older leaders.
    func read(_ key: ShareStateKey, leaderEpoch: Int32) async -> Result<ShareStateShard.State?, KafkaErrorCode> {
        var state: ShareStateShard.State?
        let code = await change(key) { shard in
            shard.read(key, leaderEpoch: leaderEpoch).map { found, record in
                state = found
                return record.map { [$0] } ?? []
            }
        }
        return code == .none ? .success(state) : .failure(code)
    }

    func write(
        _ key: ShareStateKey, stateEpoch: Int32, leaderEpoch: Int32, startOffset: Int64, batches: [SharePartition.PersistedState.Batch]
    ) async -> KafkaErrorCode {
        await change(key) {
            $0.write(key, stateEpoch: stateEpoch, leaderEpoch: leaderEpoch, startOffset: startOffset, batches: batches).map { [$0] }
        }
    }

    func delete(_ key: ShareStateKey) async -> KafkaErrorCode {
        await change(key) { .success($0.delete(key).map { [$0] } ?? []) }
    }

    func summary(_ key: ShareStateKey) async -> Result<ShareStateShard.State?, KafkaErrorCode> {
        switch await shard(for: key) {
        case .failure(let code): return .failure(code)
        case .success(let partition): return .success(shards[partition]?.summary(key))
        }
    }

    /// Applies one change to the key's shard, then appends its records and waits until they
    /// are durable; prunes the partition after a snapshot.
    private func change(
        _ key: ShareStateKey, _ body: (inout ShareStateShard) -> Result<[ShareStateRecord], KafkaErrorCode>
    ) async -> KafkaErrorCode {
        let partition: Int32
        switch await shard(for: key) {
        case .failure(let code): return code
        case .success(let found): partition = found
        }
        let records: [ShareStateRecord]
        switch body(&shards[partition]!) {
        case .failure(let code): return code
        case .success(let produced): records = produced
        }
        guard !records.isEmpty else { return .none }
        // Appended inside the actor so records keep the order of the changes.
        guard host?.leadsCoordinatorPartition(Self.topic, partition) ?? false else {
            shards.removeValue(forKey: partition)
            return .notCoordinator
        }
        let written: (log: PartitionLog, lastOffset: Int64)
        do {
            written = try storage.append(records, partition: partition, nowMs: clock())
        } catch {
            logger.error("appending to \(Self.topic)-\(partition) failed: \(error)")
            // The shard is ahead of its log now: loaded again from the log on next use.
            shards.removeValue(forKey: partition)
            return .coordinatorNotAvailable
        }
        for (index, record) in records.enumerated() {
            shards[partition]?.appended(record, at: written.lastOffset - Int64(records.count - 1 - index))
        }
        guard let host, await host.awaitDurable(written.log, lastOffset: written.lastOffset) else {
            logger.error("\(Self.topic)-\(partition): share state not made durable")
            shards.removeValue(forKey: partition)
            return .coordinatorNotAvailable
        }
        if records.contains(where: { if case .snapshot = $0 { true } else { false } }) { prune(partition, log: written.log) }
        return .none
    }

    /// Moves the partition's log start past records later snapshots made obsolete; whole segments
    /// below it go with the next retention round.
    private func prune(_ partition: Int32, log: PartitionLog) {
        guard let offset = shards[partition]?.pruneOffset else { return }
        let target = min(offset, log.offsets.highWatermark)
        guard target > log.offsets.logStartOffset else { return }
        do {
            _ = try log.advanceLogStartOffset(to: target)
        } catch {
            logger.warning("\(Self.topic)-\(partition): pruning to \(target) failed: \(error)")
        }
    }
}
