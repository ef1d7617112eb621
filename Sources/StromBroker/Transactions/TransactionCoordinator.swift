import KafkaProtocol
import Logging
import StromStorage

/// Writes a transaction's markers to the leaders of its partitions (this broker's own logs, or
/// other brokers through WriteTxnMarkers) and says, per partition, how it went.
protocol TransactionMarkerWriter: AnyObject, Sendable {
    func write(_ markers: TransactionStateMachine.Markers, coordinatorEpoch: Int32) async -> [TransactionMetadata.TopicPartitionName: KafkaErrorCode]
}

/// The transaction coordinator (Kafka's `TransactionCoordinator`): runs one
/// ``TransactionStateMachine`` per `__transaction_state` partition this broker leads, placed by
/// Kafka's hash of the transactional id. Every state change is appended and answered only once
/// it is as durable as an acks=all produce; markers are written once the prepare record is, and
/// the transaction completes when every partition has its marker. A partition's transactions are
/// loaded as soon as this broker leads it, so what a dead coordinator left preparing is finished
/// and open transactions time out without waiting for a request. The topic is created on first use.
actor TransactionCoordinator {
    private let settings: TransactionCoordinatorSettings
    private let storage: CoordinatorTopicStorage
    private let producerIds: ProducerIdBlock
    private let logger: Logger
    private let clock: @Sendable () -> Int64
    private var shards: [Int32: TransactionStateMachine] = [:]
    /// Bumped on every load and unload of a partition: a marker task of an older load stops.
    private var loadGenerations: [Int32: Int] = [:]
    private var partitionCount: Int32?
    private weak var host: (any CoordinatorTopicHost)?
    private weak var markerWriter: (any TransactionMarkerWriter)?
    private let topicCreation: CoordinatorTopicCreation
    private var timer: Task<Void, Never>?
    private var isShutDown = false
    /// Requests parked while a transaction's markers are written, by transactional id.
    private var markerWaiters: [String: [Int: CheckedContinuation<Void, Never>]] = [:]
    private var nextMarkerWaiter = 0
    /// How long a request waits for markers before it is answered CONCURRENT_TRANSACTIONS.
    static let markerWaitMax: Duration = .milliseconds(500)

    init(
        settings: TransactionCoordinatorSettings, storage: CoordinatorTopicStorage, producerIds: ProducerIdBlock, logger: Logger,
        clock: @escaping @Sendable () -> Int64
    ) {
        self.settings = settings
        self.storage = storage
        self.producerIds = producerIds
        self.logger = logger
        self.clock = clock
        self.topicCreation = CoordinatorTopicCreation(topic: Self.topic, partitionCount: settings.stateTopicPartitionCount, logger: logger)
    }

    static var topic: String { TransactionCoordinatorSettings.stateTopic }

    /// Kafka's placement: `abs(transactionalId.hashCode()) % partitions`.
    static func partition(for transactionalId: String, partitionCount: Int32) -> Int32 {
        GroupCoordinator.partition(for: transactionalId, partitionCount: partitionCount)
    }

    // MARK: Lifecycle

    /// Loads every partition this broker leads (alone: all of them) and starts the expiry timer.
    func start(host: any CoordinatorTopicHost, markerWriter: any TransactionMarkerWriter) {
        self.host = host
        self.markerWriter = markerWriter
        partitionCount = host.coordinatorTopicPartitionCount(Self.topic)
        if let partitionCount {
            for partition in 0..<partitionCount where host.leadsCoordinatorPartition(Self.topic, partition) { load(partition) }
        }
        scheduleTimer()
    }

    func shutdown() {
        isShutDown = true
        timer?.cancel()
        timer = nil
        for id in Array(markerWaiters.keys) { wakeMarkerWaiters(id) }
    }

    /// This broker started or stopped leading `partition`: what it held may be stale, so it is
    /// dropped, and loaded again from the log when this broker leads it now.
    func leadershipChanged(_ partition: Int32) {
        if let unloaded = shards.removeValue(forKey: partition) {
            for id in unloaded.transactions.keys where markerWaiters[id] != nil { wakeMarkerWaiters(id) }
            logger.info("\(Self.topic)-\(partition): transactions unloaded (leadership moved)")
        }
        loadGenerations[partition, default: 0] += 1
        if partitionCount == nil { partitionCount = host?.coordinatorTopicPartitionCount(Self.topic) }
        if host?.leadsCoordinatorPartition(Self.topic, partition) ?? false { load(partition) }
    }

    /// Rebuilds one partition's transactions from its log and finishes the markers of those a
    /// previous coordinator left preparing.
    @discardableResult
    private func load(_ partition: Int32) -> Bool {
        var machine = TransactionStateMachine(maxTimeoutMs: settings.maxTimeoutMs)
        do {
            let unreadable = try storage.readAll(TransactionLogRecord.self, partition: partition) { record, _ in
                machine.replay(key: record.key, value: record.value)
            }
            if unreadable > 0 { logger.warning("\(unreadable) unreadable records in \(Self.topic)-\(partition) skipped") }
        } catch {
            logger.warning("\(Self.topic)-\(partition) cannot be loaded yet: \(error)")
            return false
        }
        shards[partition] = machine
        loadGenerations[partition, default: 0] += 1
        let pending = machine.pendingMarkers
        if !pending.isEmpty { logger.info("\(Self.topic)-\(partition): finishing \(pending.count) transactions left preparing") }
        for markers in pending { sendMarkers(markers, partition: partition) }
        scheduleTimer()
        return true
    }

    /// The partition count, creating `__transaction_state` first if needed.
    private func ensureTopic() async -> Int32? {
        if let partitionCount { return partitionCount }
        guard let host, !isShutDown else { return nil }
        partitionCount = await topicCreation.partitionCount(host: host)
        return partitionCount
    }

    /// The loaded partition keeping `transactionalId`, or the error a client gets.
    private func shard(for transactionalId: String) async -> Result<Int32, KafkaErrorCode> {
        guard !isShutDown, let count = await ensureTopic() else { return .failure(.coordinatorNotAvailable) }
        let partition = Self.partition(for: transactionalId, partitionCount: count)
        guard host?.leadsCoordinatorPartition(Self.topic, partition) ?? false else { return .failure(.notCoordinator) }
        if shards[partition] == nil, !load(partition) { return .failure(.coordinatorLoadInProgress) }
        return .success(partition)
    }

    /// Whether this broker coordinates `transactionalId` (FindCoordinator answers with itself then).
    func partition(of transactionalId: String) async -> Int32? {
        guard let count = await ensureTopic() else { return nil }
        return Self.partition(for: transactionalId, partitionCount: count)
    }

    // MARK: Requests

    func initProducerId(transactionalId: String, timeoutMs: Int32, expected: (producerId: Int64, epoch: Int16)?) async -> TransactionStateMachine.InitResult {
        let partition: Int32
        switch await shard(for: transactionalId) {
        case .failure(let code): return .init(error: code)
        case .success(let found): partition = found
        }
        // Fetched before the machine runs (it cannot wait): used only for a new id or an exhausted epoch.
        let fresh: Int64
        do {
            fresh = try await producerIds.next()
        } catch {
            return .init(error: error.kafkaErrorCode)
        }
        guard shards[partition] != nil else { return .init(error: .notCoordinator) }
        var (result, effects) = shards[partition]!.initProducerId(
            transactionalId: transactionalId, timeoutMs: timeoutMs, expected: expected, nowMs: clock(), newProducerId: { fresh })
        if result.error == .concurrentTransactions {
            // The previous producer's transaction this call fenced is stored and its markers sent
            // first; the call then waits for them and runs again.
            let code = await apply(effects, partition: partition)
            guard code == .none else { return .init(error: code) }
            effects = .init()
            if await waitForMarkers(transactionalId, partition: partition) {
                (result, effects) = shards[partition]!.initProducerId(
                    transactionalId: transactionalId, timeoutMs: timeoutMs, expected: expected, nowMs: clock(), newProducerId: { fresh })
            }
        }
        let code = await apply(effects, partition: partition)
        return code == .none ? result : .init(error: code)
    }

    func addPartitions(
        transactionalId: String, producerId: Int64, epoch: Int16, partitions: [TransactionMetadata.TopicPartitionName]
    ) async -> KafkaErrorCode {
        let partition: Int32
        switch await shard(for: transactionalId) {
        case .failure(let code): return code
        case .success(let found): partition = found
        }
        var (code, effects) = shards[partition]!.addPartitions(
            transactionalId: transactionalId, producerId: producerId, epoch: epoch, partitions: partitions, nowMs: clock())
        if code == .concurrentTransactions, await waitForMarkers(transactionalId, partition: partition) {
            (code, effects) = shards[partition]!.addPartitions(
                transactionalId: transactionalId, producerId: producerId, epoch: epoch, partitions: partitions, nowMs: clock())
        }
        guard code == .none else { return code }
        return await apply(effects, partition: partition)
    }

    /// KIP-890: whether `partitions` are part of the producer's open transaction (a partition
    /// leader asks before it appends the producer's first transactional batch).
    func verify(
        transactionalId: String, producerId: Int64, epoch: Int16, partitions: [TransactionMetadata.TopicPartitionName]
    ) async -> [TransactionMetadata.TopicPartitionName: KafkaErrorCode] {
        switch await shard(for: transactionalId) {
        case .failure(let code): return Dictionary(uniqueKeysWithValues: partitions.map { ($0, code) })
        case .success(let partition):
            return shards[partition]!.verify(transactionalId: transactionalId, producerId: producerId, epoch: epoch, partitions: partitions)
        }
    }

    func endTransaction(transactionalId: String, producerId: Int64, epoch: Int16, commit: Bool) async -> KafkaErrorCode {
        let partition: Int32
        switch await shard(for: transactionalId) {
        case .failure(let code): return code
        case .success(let found): partition = found
        }
        let (code, effects) = shards[partition]!.endTransaction(
            transactionalId: transactionalId, producerId: producerId, epoch: epoch, commit: commit, nowMs: clock())
        guard code == .none else { return code }
        return await apply(effects, partition: partition)
    }

    /// A transactional id's state (DescribeTransactions).
    func describe(_ transactionalId: String) async -> Result<TransactionMetadata, KafkaErrorCode> {
        switch await shard(for: transactionalId) {
        case .failure(let code): return .failure(code)
        case .success(let partition):
            guard let metadata = shards[partition]!.transactions[transactionalId] else { return .failure(.transactionalIdNotFound) }
            return .success(metadata)
        }
    }

    /// Every transactional id this broker coordinates (ListTransactions asks each broker).
    func list() -> [TransactionMetadata] {
        shards.keys.sorted().flatMap { shards[$0]!.transactions.values.sorted { $0.transactionalId < $1.transactionalId } }
    }

    // MARK: Running the machines

    /// Appends the effects' records and waits until they are durable, then starts their markers.
    /// On failure the partition is dropped (loaded again from its log on next use).
    private func apply(_ effects: TransactionStateMachine.Effects, partition: Int32) async -> KafkaErrorCode {
        defer { scheduleTimer() }
        guard !effects.records.isEmpty else { return .none }
        let records = effects.records.map { TransactionLogRecord(key: $0.key, value: $0.value) }
        // Appended inside the actor so records keep the order of the changes.
        guard let host, host.leadsCoordinatorPartition(Self.topic, partition) else {
            leadershipChanged(partition)
            return .notCoordinator
        }
        let generation = loadGenerations[partition]
        let written: (log: PartitionLog, lastOffset: Int64)
        do {
            written = try storage.append(records, partition: partition, nowMs: clock())
        } catch {
            logger.error("appending to \(Self.topic)-\(partition) failed: \(error)")
            dropShard(partition)
            return .coordinatorNotAvailable
        }
        guard await host.awaitDurable(written.log, lastOffset: written.lastOffset) else {
            logger.error("\(Self.topic)-\(partition): transaction state not made durable")
            if loadGenerations[partition] == generation { dropShard(partition) }
            return .notCoordinator
        }
        guard loadGenerations[partition] == generation else { return .notCoordinator }
        for markers in effects.markers { sendMarkers(markers, partition: partition) }
        return .none
    }

    private func dropShard(_ partition: Int32) {
        shards.removeValue(forKey: partition)
        loadGenerations[partition, default: 0] += 1
    }

    /// Writes the markers until every partition has one (retrying with backoff), then records
    /// the transaction complete. Stops when this broker no longer coordinates the partition: the
    /// next coordinator finishes them.
    private func sendMarkers(_ markers: TransactionStateMachine.Markers, partition: Int32) {
        guard let markerWriter, let generation = loadGenerations[partition] else { return }
        let coordinatorEpoch = (try? storage.log(partition).leaderEpoch) ?? 0
        Task { [weak self] in
            var remaining = markers
            var backoffMs: Int64 = 20
            while !remaining.partitions.isEmpty {
                guard let self, await self.isCurrent(partition, generation: generation) else { return }
                let results = await markerWriter.write(remaining, coordinatorEpoch: coordinatorEpoch)
                // A partition whose topic is gone needs no marker, nor one whose producer moved to a
                // newer epoch there (a later marker was written already), as in Kafka.
                remaining.partitions.removeAll { [.none, .unknownTopicOrPartition, .invalidProducerEpoch].contains(results[$0] ?? .unknownServerError) }
                if remaining.partitions.isEmpty { break }
                try? await Task.sleep(for: .milliseconds(backoffMs))
                backoffMs = min(backoffMs * 2, 1_000)
            }
            await self?.markersWritten(markers, partition: partition, generation: generation)
        }
    }

    /// Parks a request that found its transaction's markers being written until they are (or
    /// ``markerWaitMax`` passed), so the client is not told CONCURRENT_TRANSACTIONS and made to
    /// back off (librdkafka waits 20 ms) when the markers take a millisecond. Returns whether the
    /// partition is still loaded here (the request is then run again).
    private func waitForMarkers(_ transactionalId: String, partition: Int32) async -> Bool {
        guard shards[partition]?.transactions[transactionalId]?.state.isPreparing == true else { return false }
        let token = nextMarkerWaiter
        nextMarkerWaiter += 1
        await withCheckedContinuation { continuation in
            markerWaiters[transactionalId, default: [:]][token] = continuation
            Task { [weak self] in
                try? await Task.sleep(for: Self.markerWaitMax)
                await self?.wakeMarkerWaiters(transactionalId, token: token)
            }
        }
        return !isShutDown && shards[partition] != nil
    }

    private func wakeMarkerWaiters(_ transactionalId: String, token: Int? = nil) {
        if let token {
            markerWaiters[transactionalId]?.removeValue(forKey: token)?.resume()
            if markerWaiters[transactionalId]?.isEmpty == true { markerWaiters[transactionalId] = nil }
        } else {
            for continuation in (markerWaiters.removeValue(forKey: transactionalId) ?? [:]).values { continuation.resume() }
        }
    }

    private func isCurrent(_ partition: Int32, generation: Int) -> Bool {
        !isShutDown && loadGenerations[partition] == generation && shards[partition] != nil
    }

    private func markersWritten(_ markers: TransactionStateMachine.Markers, partition: Int32, generation: Int) async {
        defer { wakeMarkerWaiters(markers.transactionalId) }
        guard isCurrent(partition, generation: generation) else { return }
        let effects = shards[partition]!.markersWritten(markers, nowMs: clock())
        // The complete record follows the parked requests' records in the log, so they may go on now.
        wakeMarkerWaiters(markers.transactionalId)
        if await apply(effects, partition: partition) != .none {
            logger.warning("\(Self.topic)-\(partition): completing \(markers.transactionalId) not stored; the next load finishes it")
        }
    }

    // MARK: Timeouts

    private func scheduleTimer() {
        guard !isShutDown else { return }
        let nowMs = clock()
        let next = shards.values.compactMap(\.nextDeadlineMs).min() ?? (nowMs + settings.abortTimedOutIntervalMs)
        let delayMs = max(0, min(next - nowMs, settings.abortTimedOutIntervalMs))
        timer?.cancel()
        timer = Task { [weak self] in
            try? await Task.sleep(for: .milliseconds(delayMs))
            guard !Task.isCancelled else { return }
            await self?.expireTransactions()
        }
    }

    /// Aborts every transaction past its timeout (its producer is fenced by the epoch bump).
    private func expireTransactions() async {
        timer = nil
        let nowMs = clock()
        guard shards.values.contains(where: { ($0.nextDeadlineMs ?? .max) <= nowMs }) else {
            scheduleTimer()
            return
        }
        let fresh = try? await producerIds.next()
        for partition in shards.keys.sorted() {
            guard shards[partition] != nil else { continue }
            let effects = shards[partition]!.expire(nowMs: nowMs) { fresh ?? -1 }
            for markers in effects.markers { logger.info("transaction of \(markers.transactionalId) timed out: aborting it") }
            _ = await apply(effects, partition: partition)
        }
        scheduleTimer()
    }
}
