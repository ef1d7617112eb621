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
        var outcome: Result<ShareStateShard.State?, KafkaErrorCode> = .failure(.coordinatorNotAvailable)
        await retrying(key) { coordinator in
            switch coordinator {
            case .local:
                outcome = await local.read(key, leaderEpoch: leaderEpoch)
            case .remote(let connection):
                let request = ReadShareGroupStateRequest(groupId: key.groupId, topics: [
                    .init(topicId: key.topicId, partitions: [.init(partition: key.partition, leaderEpoch: leaderEpoch)]),
                ])
                guard let answer = try await connection.send(request).results.first?.partitions.first else {
                    outcome = .failure(.unknownServerError)
                    return .unknownServerError
                }
                guard answer.errorCode == 0 else {
                    outcome = .failure(KafkaErrorCode(rawValue: answer.errorCode))
                    return KafkaErrorCode(rawValue: answer.errorCode)
                }
                // A start offset of -1: no state yet.
                outcome = .success(answer.startOffset < 0 ? nil : ShareStateShard.State(
                    stateEpoch: answer.stateEpoch, leaderEpoch: leaderEpoch, snapshotEpoch: 0,
                    persisted: .init(startOffset: answer.startOffset, batches: answer.stateBatches.map {
                        .init(firstOffset: $0.firstOffset, lastOffset: $0.lastOffset,
                              state: SharePartition.RecordState(rawValue: $0.deliveryState) ?? .available, deliveryCount: $0.deliveryCount)
                    })))
            }
            if case .failure(let code) = outcome { return code }
            return .none
        }
        return outcome
    }

    func write(
        _ key: ShareStateKey, stateEpoch: Int32, leaderEpoch: Int32, startOffset: Int64, batches: [SharePartition.PersistedState.Batch]
    ) async -> KafkaErrorCode {
        await retrying(key) { coordinator in
            switch coordinator {
            case .local:
                return await local.write(key, stateEpoch: stateEpoch, leaderEpoch: leaderEpoch, startOffset: startOffset, batches: batches)
            case .remote(let connection):
                let request = WriteShareGroupStateRequest(groupId: key.groupId, topics: [
                    .init(topicId: key.topicId, partitions: [.init(
                        partition: key.partition, stateEpoch: stateEpoch, leaderEpoch: leaderEpoch, startOffset: startOffset,
                        stateBatches: batches.map {
                            .init(firstOffset: $0.firstOffset, lastOffset: $0.lastOffset, deliveryState: $0.state.rawValue, deliveryCount: $0.deliveryCount)
                        })]),
                ])
                let code = try await connection.send(request).results.first?.partitions.first?.errorCode ?? KafkaErrorCode.unknownServerError.rawValue
                return KafkaErrorCode(rawValue: code)
            }
        }
    }

    /// The stored state's summary (nil: none).
    func summary(_ key: ShareStateKey) async -> Result<ShareStateShard.Summary?, KafkaErrorCode> {
        var outcome: Result<ShareStateShard.Summary?, KafkaErrorCode> = .failure(.coordinatorNotAvailable)
        await retrying(key) { coordinator in
            switch coordinator {
            case .local:
                outcome = await local.summary(key).map { $0.map(\.summary) }
            case .remote(let connection):
                let request = ReadShareGroupStateSummaryRequest(groupId: key.groupId, topics: [
                    .init(topicId: key.topicId, partitions: [.init(partition: key.partition, leaderEpoch: -1)]),
                ])
                guard let answer = try await connection.send(request).results.first?.partitions.first else {
                    outcome = .failure(.unknownServerError)
                    return .unknownServerError
                }
                guard answer.errorCode == 0 else {
                    outcome = .failure(KafkaErrorCode(rawValue: answer.errorCode))
                    return KafkaErrorCode(rawValue: answer.errorCode)
                }
                outcome = .success(answer.startOffset < 0 ? nil : ShareStateShard.Summary(
                    stateEpoch: answer.stateEpoch, leaderEpoch: answer.leaderEpoch, startOffset: answer.startOffset,
                    completedCount: Int64(max(answer.deliveryCompleteCount, 0))))
            }
            if case .failure(let code) = outcome { return code }
            return .none
        }
        return outcome
    }

    func initialize(_ key: ShareStateKey, stateEpoch: Int32, startOffset: Int64) async -> KafkaErrorCode {
        await retrying(key) { coordinator in
            switch coordinator {
            case .local:
                return await local.initialize(key, stateEpoch: stateEpoch, startOffset: startOffset)
            case .remote(let connection):
                let request = InitializeShareGroupStateRequest(groupId: key.groupId, topics: [
                    .init(topicId: key.topicId, partitions: [.init(partition: key.partition, stateEpoch: stateEpoch, startOffset: startOffset)]),
                ])
                let code = try await connection.send(request).results.first?.partitions.first?.errorCode ?? KafkaErrorCode.unknownServerError.rawValue
                return KafkaErrorCode(rawValue: code)
            }
        }
    }

    func delete(_ key: ShareStateKey) async -> KafkaErrorCode {
        await retrying(key) { coordinator in
            switch coordinator {
            case .local:
                return await local.delete(key)
            case .remote(let connection):
                let request = DeleteShareGroupStateRequest(groupId: key.groupId, topics: [
                    .init(topicId: key.topicId, partitions: [.init(partition: key.partition)]),
                ])
                let code = try await connection.send(request).results.first?.partitions.first?.errorCode ?? KafkaErrorCode.unknownServerError.rawValue
                return KafkaErrorCode(rawValue: code)
            }
        }
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
