import KafkaProtocol
import Logging
import StromClient

/// The way to the share coordinator of any share-partition: the leader of its
/// `__share_group_state` partition — this broker (a direct call) or another one (the share-group
/// state APIs over a connection kept per broker). Share-partition leaders read and write through
/// it; the group coordinator describes, resets and deletes share-group offsets through it. A
/// coordinator that moved, is loading or cannot be reached is tried again, within a bounded time.
actor ShareCoordinatorClient: ShareStatePersister {
    private let local: ShareCoordinator
    private let nodeId: Int32
    private let partitions: BrokerPartitions
    private let logger: Logger
    private var connections: [Int32: KafkaClientConnection] = [:]
    /// How long one read or write keeps trying.
    static let attemptWindow: Duration = .seconds(10)

    init(local: ShareCoordinator, nodeId: Int32, partitions: BrokerPartitions, logger: Logger) {
        self.local = local
        self.nodeId = nodeId
        self.partitions = partitions
        self.logger = logger
    }

    func read(_ key: ShareStateKey, leaderEpoch: Int32) async -> Result<ShareStateShard.State?, KafkaErrorCode> {
        await query(key, local: { await self.local.read(key, leaderEpoch: leaderEpoch) }) { connection in
            let response = try await connection.send(ReadShareGroupStateRequest(groupId: key.groupId, topics: [
                .init(topicId: key.topicId, partitions: [.init(partition: key.partition, leaderEpoch: leaderEpoch)]),
            ]))
            return Self.answer(response.results.first?.partitions.first, code: \.errorCode) { answer in
                // A start offset of -1: no state yet.
                answer.startOffset < 0 ? nil : ShareStateShard.State(
                    stateEpoch: answer.stateEpoch, leaderEpoch: leaderEpoch, snapshotEpoch: 0,
                    persisted: .init(startOffset: answer.startOffset, batches: answer.stateBatches.map {
                        .init(firstOffset: $0.firstOffset, lastOffset: $0.lastOffset,
                              state: SharePartition.RecordState(rawValue: $0.deliveryState) ?? .available, deliveryCount: $0.deliveryCount)
                    }))
            }
        }
    }

    func write(
        _ key: ShareStateKey, stateEpoch: Int32, leaderEpoch: Int32, startOffset: Int64, batches: [SharePartition.PersistedState.Batch]
    ) async -> KafkaErrorCode {
        let local = { await self.local.write(key, stateEpoch: stateEpoch, leaderEpoch: leaderEpoch, startOffset: startOffset, batches: batches) }
        return await change(key, local: local) { connection in
            let response = try await connection.send(WriteShareGroupStateRequest(groupId: key.groupId, topics: [
                .init(topicId: key.topicId, partitions: [.init(
                    partition: key.partition, stateEpoch: stateEpoch, leaderEpoch: leaderEpoch, startOffset: startOffset,
                    stateBatches: batches.map {
                        .init(firstOffset: $0.firstOffset, lastOffset: $0.lastOffset, deliveryState: $0.state.rawValue, deliveryCount: $0.deliveryCount)
                    })]),
            ]))
            return response.results.first?.partitions.first?.errorCode
        }
    }

    /// The stored state's summary (nil: none).
    func summary(_ key: ShareStateKey) async -> Result<ShareStateShard.Summary?, KafkaErrorCode> {
        await query(key, local: { await self.local.summary(key).map { $0.map(\.summary) } }) { connection in
            let response = try await connection.send(ReadShareGroupStateSummaryRequest(groupId: key.groupId, topics: [
                .init(topicId: key.topicId, partitions: [.init(partition: key.partition, leaderEpoch: -1)]),
            ]))
            return Self.answer(response.results.first?.partitions.first, code: \.errorCode) { answer in
                answer.startOffset < 0 ? nil : ShareStateShard.Summary(
                    stateEpoch: answer.stateEpoch, leaderEpoch: answer.leaderEpoch, startOffset: answer.startOffset,
                    completedCount: Int64(max(answer.deliveryCompleteCount, 0)))
            }
        }
    }

    func initialize(_ key: ShareStateKey, stateEpoch: Int32, startOffset: Int64) async -> KafkaErrorCode {
        await change(key, local: { await self.local.initialize(key, stateEpoch: stateEpoch, startOffset: startOffset) }) { connection in
            let response = try await connection.send(InitializeShareGroupStateRequest(groupId: key.groupId, topics: [
                .init(topicId: key.topicId, partitions: [.init(partition: key.partition, stateEpoch: stateEpoch, startOffset: startOffset)]),
            ]))
            return response.results.first?.partitions.first?.errorCode
        }
    }

    func delete(_ key: ShareStateKey) async -> KafkaErrorCode {
        await change(key, local: { await self.local.delete(key) }) { connection in
            let response = try await connection.send(DeleteShareGroupStateRequest(groupId: key.groupId, topics: [
                .init(topicId: key.topicId, partitions: [.init(partition: key.partition)]),
            ]))
            return response.results.first?.partitions.first?.errorCode
        }
    }

    /// A call answered with a value, at the key's coordinator here or elsewhere, retried as ``retrying(_:_:)`` says.
    private func query<Value>(
        _ key: ShareStateKey, local: () async -> Result<Value, KafkaErrorCode>,
        remote: (KafkaClientConnection) async throws -> Result<Value, KafkaErrorCode>
    ) async -> Result<Value, KafkaErrorCode> {
        var outcome: Result<Value, KafkaErrorCode> = .failure(.coordinatorNotAvailable)
        await retrying(key) { coordinator in
            switch coordinator {
            case .local: outcome = await local()
            case .remote(let connection): outcome = try await remote(connection)
            }
            if case .failure(let code) = outcome { return code }
            return .none
        }
        return outcome
    }

    /// A call answered with an error code only (`remote` returns the partition's raw code; nil: no answer).
    private func change(
        _ key: ShareStateKey, local: () async -> KafkaErrorCode, remote: (KafkaClientConnection) async throws -> Int16?
    ) async -> KafkaErrorCode {
        let outcome: Result<Void, KafkaErrorCode> = await query(key, local: {
            let code = await local()
            return code == .none ? .success(()) : .failure(code)
        }) { connection in
            let code = KafkaErrorCode(rawValue: try await remote(connection) ?? KafkaErrorCode.unknownServerError.rawValue)
            return code == .none ? .success(()) : .failure(code)
        }
        if case .failure(let code) = outcome { return code }
        return .none
    }

    /// A remote partition's answer: its value when its code says none, else the code.
    private static func answer<Answer, Value>(
        _ answer: Answer?, code: KeyPath<Answer, Int16>, _ value: (Answer) -> Value
    ) -> Result<Value, KafkaErrorCode> {
        guard let answer else { return .failure(.unknownServerError) }
        let errorCode = KafkaErrorCode(rawValue: answer[keyPath: code])
        return errorCode == .none ? .success(value(answer)) : .failure(errorCode)
    }

    private enum Coordinator {
        case local
        case remote(KafkaClientConnection)
    }

    /// Errors after which the coordinator is looked up again and the call repeated.
    private static let retriable: Set<KafkaErrorCode> = [.notCoordinator, .coordinatorNotAvailable, .coordinatorLoadInProgress]

    @discardableResult
    private func retrying(_ key: ShareStateKey, _ attempt: (Coordinator) async throws -> KafkaErrorCode) async -> KafkaErrorCode {
        let deadline = ContinuousClock.now + Self.attemptWindow
        var backoff = Duration.milliseconds(20)
        var code = KafkaErrorCode.coordinatorNotAvailable
        while ContinuousClock.now < deadline, !Task.isCancelled {
            if let coordinator = await locate(key) {
                do {
                    code = try await attempt(coordinator)
                } catch {
                    code = .coordinatorNotAvailable
                    if case .remote(let connection) = coordinator {
                        await connection.close()
                        if let node = connections.first(where: { $0.value === connection })?.key { connections[node] = nil }
                    }
                }
                guard Self.retriable.contains(code) else { return code }
            }
            try? await Task.sleep(for: backoff)
            backoff = min(backoff * 2, .milliseconds(500))
        }
        logger.warning("share state of \(key): no coordinator answered (\(code))")
        return code
    }

    /// The coordinator of `key` now: this broker, or a connection to the leader of its partition.
    private func locate(_ key: ShareStateKey) async -> Coordinator? {
        guard let count = await local.ensureTopic() else { return nil }
        let image = partitions.current
        guard let topic = image.topic(named: ShareCoordinatorSettings.stateTopic) else { return nil }
        let partition = ShareCoordinator.partition(for: key, partitionCount: count)
        let leader = topic.partitions[Int(partition)].leader
        if leader == nodeId { return .local }
        guard let broker = image.brokersById[leader] else { return nil }
        if let open = connections[leader], open.isOpen, open.host == broker.host, open.port == Int(broker.port) { return .remote(open) }
        await connections[leader]?.close()
        do {
            let connection = try await KafkaClientConnection.connect(
                host: broker.host, port: Int(broker.port), clientId: "strom-share-\(nodeId)", requestTimeout: .seconds(5), connectTimeout: .seconds(2))
            connections[leader] = connection
            return .remote(connection)
        } catch {
            connections[leader] = nil
            return nil
        }
    }

    func shutdown() async {
        for connection in connections.values { await connection.close() }
        connections.removeAll()
    }
}
