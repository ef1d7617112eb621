import Foundation
import KafkaProtocol
import Logging
import NIOCore
import StromStorage

/// Runs the group state machines, one per `__consumer_offsets` partition (all local on one
/// broker): parks JoinGroup and SyncGroup requests until their answer is known, appends the
/// records each input produced and answers only once they are durable, and wakes the machines at
/// their next deadline. `__consumer_offsets` is created on first use, as Kafka does.
actor GroupCoordinator {
    private let settings: GroupCoordinatorSettings
    private let storage: CoordinatorTopicStorage
    private let logger: Logger
    private let clock: @Sendable () -> Int64
    private var shards: [Int32: GroupStateMachine] = [:]
    private var partitionCount: Int32?
    /// Parked requests, with the `__consumer_offsets` partition of their group.
    private var waiting: [ReplyToken: (partition: Int32, continuation: CheckedContinuation<GroupReply, Never>)] = [:]
    private var nextToken: ReplyToken = 1
    private var timer: Task<Void, Never>?
    private var timerDeadlineMs: Int64?
    private var isShutDown = false
    /// The broker, which owns the topic metadata (weak: the broker owns the coordinator).
    private weak var host: (any CoordinatorTopicHost)?
    private let topicCreation: CoordinatorTopicCreation

    init(settings: GroupCoordinatorSettings, storage: CoordinatorTopicStorage, logger: Logger, clock: @escaping @Sendable () -> Int64) {
        self.settings = settings
        self.storage = storage
        self.logger = logger
        self.clock = clock
        self.topicCreation = CoordinatorTopicCreation(
            topic: GroupCoordinatorSettings.offsetsTopic, partitionCount: settings.offsetsTopicPartitionCount, logger: logger)
    }

    /// Kafka's placement: `abs(groupId.hashCode()) % partitions`, with Java's String.hashCode.
    static func partition(for groupId: String, partitionCount: Int32) -> Int32 {
        var hash: Int32 = 0
        for unit in groupId.utf16 { hash = 31 &* hash &+ Int32(unit) }
        let absolute = hash == Int32.min ? 0 : abs(hash)
        return absolute % partitionCount
    }

    // MARK: Lifecycle

    /// Loads every group and offset from `__consumer_offsets` if it exists.
    ///
    /// - Parameter loadingEagerly: load every partition now (a broker alone leads them all); in a
    ///   cluster a partition is loaded when a request for it first comes to its leader.
    func start(host: any CoordinatorTopicHost, loadingEagerly: Bool = true) throws {
        self.host = host
        guard let count = host.coordinatorTopicPartitionCount(GroupCoordinatorSettings.offsetsTopic) else { return }
        partitionCount = count
        if loadingEagerly {
            for partition in 0..<count { try load(partition) }
        }
        rescheduleTimer()
    }

    /// Rebuilds one partition's groups from its records.
    private func load(_ partition: Int32) throws {
        let nowMs = clock()
        var machine = GroupStateMachine(settings: settings, nowMs: nowMs)
        let unreadable = try storage.readAll(
            CoordinatorRecord.self, partition: partition,
            body: { record, _, producerId in machine.replay(record, nowMs: nowMs, transactionalProducerId: producerId) },
            marker: { producerId, commit in machine.completeTransaction(producerId: producerId, commit: commit, nowMs: nowMs) })
        if unreadable > 0 { logger.warning("\(unreadable) unreadable records in \(GroupCoordinatorSettings.offsetsTopic)-\(partition) skipped") }
        shards[partition] = machine
    }

    /// Forgets one partition's groups: this broker stopped (or started) leading it, so what it
    /// holds may be stale; the partition is loaded again from its log when next led and asked.
    /// Its parked requests (a JoinGroup waiting for the rebalance) are answered NOT_COORDINATOR:
    /// their answer would come from a machine that is gone.
    func unload(_ partition: Int32) {
        guard shards.removeValue(forKey: partition) != nil else { return }
        let parked = waiting.filter { $0.value.partition == partition }
        for token in parked.keys { waiting[token] = nil }
        for entry in parked.values { entry.continuation.resume(returning: .unanswered(.notCoordinator)) }
        logger.info("\(GroupCoordinatorSettings.offsetsTopic)-\(partition): groups unloaded (leadership moved), \(parked.count) parked requests answered")
    }

    /// Every committed offset of the groups coordinated here (consumer lag samples them).
    func committedOffsets() -> [LagMonitor.Commit] {
        shards.values.flatMap { machine in
            machine.offsets.flatMap { group, offsets in
                offsets.map { key, committed in
                    LagMonitor.Commit(
                        key: .init(group: group, topic: key.topic, partition: key.partition), offset: committed.offset,
                        commitTimestampMs: committed.commitTimestampMs)
                }
            }
        }
    }

    /// Every share-partition of the share groups coordinated here (their states are kept by the
    /// share coordinators), by group, topic id and name, and partition.
    func sharePartitions() -> [(group: String, topicId: KafkaUUID, topic: String, partition: Int32)] {
        shards.values.flatMap { machine in
            machine.shareGroups.flatMap { group, shareGroup in
                shareGroup.initializedTopics.flatMap { topicId, topic in
                    topic.partitions.map { (group, topicId, topic.name, $0) }
                }
            }
        }
    }

    /// Requests parked until their answer is known (for tests).
    var parkedRequestCount: Int { waiting.count }

    /// Answers every parked request (COORDINATOR_NOT_AVAILABLE: clients retry elsewhere) and stops the timer.
    func shutdown() {
        isShutDown = true
        timer?.cancel()
        timer = nil
        let parked = waiting
        waiting.removeAll()
        for entry in parked.values { entry.continuation.resume(returning: .unanswered(.coordinatorNotAvailable)) }
    }

    /// The partition count, creating `__consumer_offsets` first if needed.
    private func ensureTopic() async -> Int32? {
        if let partitionCount { return partitionCount }
        guard let host, let count = await topicCreation.partitionCount(host: host) else { return nil }
        initializeShards(count: count)
        return count
    }

    private func initializeShards(count: Int32) {
        guard partitionCount == nil else { return }
        partitionCount = count
    }

    /// Whether groups can be served (`__consumer_offsets` exists or was just created).
    func isAvailable() async -> Bool {
        guard !isShutDown else { return false }
        return await ensureTopic() != nil
    }

    /// The shard of `groupId`, loaded, or nil when `__consumer_offsets` cannot be created or this
    /// broker does not lead the group's partition (the client asks FindCoordinator again).
    private func shard(for groupId: String) async -> Int32? {
        guard !isShutDown, let count = await ensureTopic() else { return nil }
        let partition = Self.partition(for: groupId, partitionCount: count)
        guard host?.leadsCoordinatorPartition(GroupCoordinatorSettings.offsetsTopic, partition) ?? false else { return nil }
        if shards[partition] == nil {
            do {
                try load(partition)
            } catch {
                logger.warning("\(GroupCoordinatorSettings.offsetsTopic)-\(partition) cannot be loaded yet: \(error)")
                return nil
            }
        }
        return partition
    }

    // MARK: Requests

    func join(_ request: JoinGroupRequest, version: Int16, clientId: String, clientHost: String) async -> JoinGroupResponse {
        guard let partition = await shard(for: request.groupId) else {
            return ClassicGroup.joinError(.coordinatorNotAvailable, memberId: request.memberId, version: version)
        }
        let memberId = "\(clientId)-\(UUID().uuidString.lowercased())"
        let reply = await submit(partition) { machine, token, nowMs in
            machine.join(.init(
                token: token, version: version, request: request, clientId: clientId, clientHost: clientHost,
                newMemberId: memberId, nowMs: nowMs))
        }
        if case .join(let response) = reply { return response }
        return ClassicGroup.joinError(reply.unansweredCode, memberId: request.memberId, version: version)
    }

    func sync(_ request: SyncGroupRequest, version: Int16) async -> SyncGroupResponse {
        guard let partition = await shard(for: request.groupId) else {
            return SyncGroupResponse(errorCode: KafkaErrorCode.coordinatorNotAvailable.rawValue)
        }
        let reply = await submit(partition) { machine, token, nowMs in
            machine.sync(token: token, version: version, request: request, nowMs: nowMs)
        }
        if case .sync(let response) = reply { return response }
        return SyncGroupResponse(errorCode: reply.unansweredCode.rawValue)
    }

    func heartbeat(_ request: HeartbeatRequest) async -> HeartbeatResponse {
        guard let partition = await shard(for: request.groupId) else {
            return HeartbeatResponse(errorCode: KafkaErrorCode.coordinatorNotAvailable.rawValue)
        }
        let reply = await submit(partition) { machine, token, nowMs in machine.heartbeat(token: token, request: request, nowMs: nowMs) }
        if case .heartbeat(let response) = reply { return response }
        return HeartbeatResponse(errorCode: reply.unansweredCode.rawValue)
    }

    func leave(_ request: LeaveGroupRequest, version: Int16) async -> LeaveGroupResponse {
        guard let partition = await shard(for: request.groupId) else {
            return LeaveGroupResponse(errorCode: KafkaErrorCode.coordinatorNotAvailable.rawValue)
        }
        let reply = await submit(partition) { machine, token, nowMs in machine.leave(token: token, version: version, request: request, nowMs: nowMs) }
        if case .leave(let response) = reply { return response }
        return LeaveGroupResponse(errorCode: reply.unansweredCode.rawValue)
    }

    func commitOffsets(_ request: OffsetCommitRequest, partitionExists: @escaping @Sendable (String, Int32) -> Bool) async -> OffsetCommitResponse {
        func failed(_ code: KafkaErrorCode) -> OffsetCommitResponse {
            OffsetCommitResponse(topics: request.topics.map { topic in
                .init(name: topic.name, partitions: topic.partitions.map { .init(partitionIndex: $0.partitionIndex, errorCode: code.rawValue) })
            })
        }
        guard let partition = await shard(for: request.groupId) else { return failed(.coordinatorNotAvailable) }
        let reply = await submit(partition) { machine, token, nowMs in
            machine.commitOffsets(token: token, request: request, nowMs: nowMs, partitionExists: partitionExists)
        }
        if case .offsetCommit(let response) = reply { return response }
        return failed(reply.unansweredCode)
    }

    /// The committed offsets of one group (`topics` nil: all of them); nil when the coordinator
    /// is not available.
    func fetchOffsets(groupId: String, topics: [(name: String, partitions: [Int32])]?) async -> [GroupStateMachine.TopicOffsets]? {
        guard let partition = await shard(for: groupId) else { return nil }
        return shards[partition]!.fetchOffsets(groupId: groupId, topics: topics)
    }

    /// OffsetFetch v9's member check; nil when the fetch may go on.
    func validateOffsetFetch(groupId: String, memberId: String?, memberEpoch: Int32) async -> KafkaErrorCode? {
        guard let partition = await shard(for: groupId) else { return nil }
        return shards[partition]!.validateOffsetFetch(groupId: groupId, memberId: memberId, memberEpoch: memberEpoch)
    }

    func deleteOffsets(groupId: String, partitions: [GroupStateMachine.OffsetKey]) async
        -> (KafkaErrorCode, [GroupStateMachine.OffsetKey: KafkaErrorCode]) {
        guard let partition = await shard(for: groupId) else { return (.coordinatorNotAvailable, [:]) }
        let (code, codes, effects) = shards[partition]!.deleteOffsets(groupId: groupId, partitions: partitions)
        return await persist(effects, partition: partition) ? (code, codes) : (.coordinatorNotAvailable, [:])
    }

    // MARK: Transactions

    /// The `__consumer_offsets` partition of `groupId` (AddOffsetsToTxn adds it to a transaction).
    func offsetsPartition(of groupId: String) async -> Int32? {
        guard let count = await ensureTopic() else { return nil }
        return Self.partition(for: groupId, partitionCount: count)
    }

    func commitTransactionalOffsets(
        _ request: TxnOffsetCommitRequest, partitionExists: @escaping @Sendable (String, Int32) -> Bool
    ) async -> TxnOffsetCommitResponse {
        guard let partition = await shard(for: request.groupId) else {
            return TxnOffsetCommitResponse(topics: request.topics.map { topic in
                .init(name: topic.name, partitions: topic.partitions.map {
                    .init(partitionIndex: $0.partitionIndex, errorCode: KafkaErrorCode.coordinatorNotAvailable.rawValue)
                })
            })
        }
        let before = shards[partition]!.pendingTransactionalOffsets[request.producerId]
        let (response, effects) = shards[partition]!.commitTransactionalOffsets(request, nowMs: clock(), partitionExists: partitionExists)
        func failed(_ code: KafkaErrorCode) -> TxnOffsetCommitResponse {
            // What the machine took as pending was not stored: it must not wait for a marker.
            shards[partition]?.pendingTransactionalOffsets[request.producerId] = before
            var failed = response
            for topic in failed.topics.indices {
                for index in failed.topics[topic].partitions.indices { failed.topics[topic].partitions[index].errorCode = code.rawValue }
            }
            return failed
        }
        guard !effects.records.isEmpty else { return response }
        guard host?.leadsCoordinatorPartition(GroupCoordinatorSettings.offsetsTopic, partition) ?? false else { return failed(.notCoordinator) }
        let written: (log: PartitionLog, lastOffset: Int64)
        do {
            written = try storage.append(effects.records, partition: partition, nowMs: clock(), transactionalProducer: effects.transactionalProducer)
        } catch LogAppendError.invalidProducerEpoch {
            // The transaction was aborted under a newer epoch (a zombie, or its timeout passed).
            return failed(.producerFenced)
        } catch {
            logger.error("appending to \(GroupCoordinatorSettings.offsetsTopic)-\(partition) failed: \(error)")
            return failed(.coordinatorNotAvailable)
        }
        guard await waitUntilDurable(written, partition: partition) else { return failed(.coordinatorNotAvailable) }
        return response
    }

    /// A transaction's marker was written to `partition`: its pending offsets there become
    /// committed (or are dropped). A partition not loaded here reads the marker when it loads.
    func completeTransaction(partition: Int32, producerId: Int64, commit: Bool) {
        shards[partition]?.completeTransaction(producerId: producerId, commit: commit, nowMs: clock())
    }

    /// The partitions of `groupId` whose offset waits for its transaction to end.
    func unstableOffsets(groupId: String) async -> Set<GroupStateMachine.OffsetKey> {
        guard let partition = await shard(for: groupId) else { return [] }
        return shards[partition]!.unstableOffsets(groupId: groupId)
    }

    func listGroups(statesFilter: Set<String>, typesFilter: Set<String>) async -> [ListGroupsResponse.ListedGroup] {
        guard await ensureTopic() != nil else { return [] }
        return shards.keys.sorted().flatMap { shards[$0]!.listGroups(statesFilter: statesFilter, typesFilter: typesFilter) }
    }

    func consumerHeartbeat(
        _ request: ConsumerGroupHeartbeatRequest, version: Int16, clientId: String, clientHost: String, topics: TopicCatalog
    ) async -> ConsumerGroupHeartbeatResponse {
        guard let partition = await shard(for: request.groupId) else {
            return ConsumerGroupHeartbeatResponse(errorCode: KafkaErrorCode.coordinatorNotAvailable.rawValue, memberEpoch: -1)
        }
        let (response, effects) = shards[partition]!.consumerHeartbeat(.init(
            request: request, version: version, clientId: clientId, clientHost: clientHost,
            newMemberId: UUID().uuidString.lowercased(), topics: topics, nowMs: clock()))
        // The answer waits until what it changed is stored.
        guard await persist(effects, partition: partition) else {
            return ConsumerGroupHeartbeatResponse(errorCode: KafkaErrorCode.coordinatorNotAvailable.rawValue, memberEpoch: -1)
        }
        return response
    }

    func shareHeartbeat(
        _ request: ShareGroupHeartbeatRequest, clientId: String, clientHost: String, topics: TopicCatalog,
        membership: (sessionTimeoutMs: Int32, heartbeatIntervalMs: Int32)
    ) async -> ShareGroupHeartbeatResponse {
        guard let partition = await shard(for: request.groupId) else {
            return ShareGroupHeartbeatResponse(errorCode: KafkaErrorCode.coordinatorNotAvailable.rawValue, memberEpoch: -1)
        }
        let (response, effects) = shards[partition]!.shareHeartbeat(.init(
            request: request, clientId: clientId, clientHost: clientHost, topics: topics,
            sessionTimeoutMs: membership.sessionTimeoutMs, heartbeatIntervalMs: membership.heartbeatIntervalMs, nowMs: clock()))
        guard await persist(effects, partition: partition) else {
            return ShareGroupHeartbeatResponse(errorCode: KafkaErrorCode.coordinatorNotAvailable.rawValue, memberEpoch: -1)
        }
        return response
    }

    func describeShareGroup(_ groupId: String) async -> ShareGroupDescribeResponse.DescribedGroup {
        guard let partition = await shard(for: groupId) else {
            return .init(errorCode: KafkaErrorCode.coordinatorNotAvailable.rawValue, groupId: groupId)
        }
        return shards[partition]!.describeShareGroup(groupId)
    }

    /// A share group's members and share-partitions with state; COORDINATOR_NOT_AVAILABLE when
    /// this broker does not coordinate it, GROUP_ID_NOT_FOUND when it is no share group.
    func shareGroupOffsetsView(_ groupId: String) async -> Result<GroupStateMachine.ShareGroupOffsetsView, KafkaErrorCode> {
        guard let partition = await shard(for: groupId) else { return .failure(.notCoordinator) }
        return shards[partition]!.shareGroupOffsetsView(groupId).map { .success($0) } ?? .failure(.groupIdNotFound)
    }

    func recordShareOffsets(_ groupId: String, topics: [KafkaUUID: (name: String, partitions: Set<Int32>)]) async -> KafkaErrorCode {
        guard let partition = await shard(for: groupId) else { return .notCoordinator }
        let (code, effects) = shards[partition]!.recordShareOffsets(groupId, topics: topics)
        guard code == .none else { return code }
        return await persist(effects, partition: partition) ? .none : .coordinatorNotAvailable
    }

    func forgetShareTopics(_ groupId: String, topicIds: Set<KafkaUUID>) async -> KafkaErrorCode {
        guard let partition = await shard(for: groupId) else { return .notCoordinator }
        let (code, effects) = shards[partition]!.forgetShareTopics(groupId, topicIds: topicIds)
        guard code == .none else { return code }
        return await persist(effects, partition: partition) ? .none : .coordinatorNotAvailable
    }

    func describeConsumerGroup(_ groupId: String) async -> ConsumerGroupDescribeResponse.DescribedGroup {
        guard let partition = await shard(for: groupId) else {
            return .init(errorCode: KafkaErrorCode.coordinatorNotAvailable.rawValue, groupId: groupId)
        }
        return shards[partition]!.describeConsumerGroup(groupId)
    }

    func describeGroup(_ groupId: String) async -> DescribeGroupsResponse.DescribedGroup {
        guard let partition = await shard(for: groupId) else {
            return .init(errorCode: KafkaErrorCode.coordinatorNotAvailable.rawValue, groupId: groupId)
        }
        return shards[partition]!.describeGroup(groupId)
    }

    func deleteGroup(_ groupId: String) async -> KafkaErrorCode {
        guard let partition = await shard(for: groupId) else { return .coordinatorNotAvailable }
        let (code, effects) = shards[partition]!.deleteGroup(groupId)
        return await persist(effects, partition: partition) ? code : .coordinatorNotAvailable
    }

    // MARK: Running the machines

    /// Runs one input against a shard and waits for the reply it (or a later input) produces.
    private func submit(
        _ partition: Int32, _ input: (inout GroupStateMachine, ReplyToken, Int64) -> GroupEffects
    ) async -> GroupReply {
        let token = nextToken
        nextToken += 1
        return await withCheckedContinuation { continuation in
            waiting[token] = (partition, continuation)
            let effects = input(&shards[partition]!, token, clock())
            apply(effects, partition: partition)
        }
    }

    /// Appends the effects' records and delivers its replies once they are durable.
    private func apply(_ effects: GroupEffects, partition: Int32) {
        defer { rescheduleTimer() }
        guard !effects.records.isEmpty else {
            deliver(effects.replies, failure: nil)
            return
        }
        // Appended here, inside the actor, so records keep the order of the inputs; only the
        // wait for durability runs outside.
        guard let written = append(effects.records, partition: partition) else {
            deliver(effects.replies, failure: .coordinatorNotAvailable)
            return
        }
        Task {
            let durable = await self.waitUntilDurable(written, partition: partition)
            self.deliver(effects.replies, failure: durable ? nil : .coordinatorNotAvailable)
        }
    }

    /// For inputs answered by value rather than through a parked request: true once durable.
    private func persist(_ effects: GroupEffects, partition: Int32) async -> Bool {
        deliver(effects.replies, failure: nil)
        rescheduleTimer()
        guard !effects.records.isEmpty else { return true }
        guard let written = append(effects.records, partition: partition, transactionalProducer: effects.transactionalProducer) else { return false }
        return await waitUntilDurable(written, partition: partition)
    }

    /// Appends records to the shard's `__consumer_offsets` partition; nil (logged) on failure.
    private func append(
        _ records: [CoordinatorRecord], partition: Int32, transactionalProducer: (producerId: Int64, epoch: Int16)? = nil
    ) -> (log: PartitionLog, lastOffset: Int64)? {
        // Leadership may have moved since the request arrived: only the leader appends.
        guard host?.leadsCoordinatorPartition(GroupCoordinatorSettings.offsetsTopic, partition) ?? false else { return nil }
        do {
            return try storage.append(records, partition: partition, nowMs: clock(), transactionalProducer: transactionalProducer)
        } catch {
            logger.error("appending to \(GroupCoordinatorSettings.offsetsTopic)-\(partition) failed: \(error)")
            return nil
        }
    }

    /// Waits for group commit to make an append durable; false (logged) when the flush failed.
    private func waitUntilDurable(_ written: (log: PartitionLog, lastOffset: Int64), partition: Int32) async -> Bool {
        guard let host, await host.awaitDurable(written.log, lastOffset: written.lastOffset) else {
            logger.error("\(GroupCoordinatorSettings.offsetsTopic)-\(partition): records not made durable")
            return false
        }
        return true
    }

    private func deliver(_ replies: [(token: ReplyToken, reply: GroupReply)], failure: KafkaErrorCode?) {
        for (token, reply) in replies {
            waiting.removeValue(forKey: token)?.continuation.resume(returning: failure.map { reply.failed(with: $0) } ?? reply)
        }
    }

    private func rescheduleTimer() {
        guard !isShutDown, let next = shards.values.map(\.nextDeadlineMs).min() else { return }
        if timer != nil, let timerDeadlineMs, timerDeadlineMs <= next { return }
        timer?.cancel()
        timerDeadlineMs = next
        let delayMs = max(0, next - clock())
        timer = Task { [weak self] in
            try? await Task.sleep(for: .milliseconds(delayMs))
            guard !Task.isCancelled else { return }
            await self?.fire()
        }
    }

    private func fire() {
        timer = nil
        timerDeadlineMs = nil
        let nowMs = clock()
        for partition in shards.keys.sorted() {
            apply(shards[partition]!.tick(nowMs: nowMs), partition: partition)
        }
        rescheduleTimer()
    }
}
