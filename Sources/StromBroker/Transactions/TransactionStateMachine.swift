import KafkaProtocol

/// The transactions of one `__transaction_state` partition, as a pure state machine (Kafka's
/// transaction coordinator logic): InitProducerId, AddPartitionsToTxn, EndTxn, the markers'
/// completion, timeouts and loading go in; the answer, the records to append (durably, before the
/// answer) and the markers to write to the partitions' leaders come out.
struct TransactionStateMachine: Sendable {
    /// `transaction.max.timeout.ms`.
    let maxTimeoutMs: Int32
    private(set) var transactions: [String: TransactionMetadata] = [:]

    init(maxTimeoutMs: Int32) {
        self.maxTimeoutMs = maxTimeoutMs
    }

    /// COMMIT or ABORT markers for a transaction's partitions, written by its producer id and epoch.
    struct Markers: Sendable, Equatable {
        var transactionalId: String
        var producerId: Int64
        var producerEpoch: Int16
        var commit: Bool
        var partitions: [TransactionMetadata.TopicPartitionName]
    }

    /// What the runtime does after an input: append `records` (and wait until durable), then answer,
    /// then write `markers` and report them with ``markersWritten(_:nowMs:)``.
    struct Effects: Sendable, Equatable {
        var records: [(key: TransactionLogKey, value: TransactionLogValue)] = []
        var markers: [Markers] = []

        static func == (lhs: Effects, rhs: Effects) -> Bool {
            lhs.markers == rhs.markers && lhs.records.map { $0.value.transactionStatus } == rhs.records.map { $0.value.transactionStatus }
        }

        mutating func store(_ metadata: TransactionMetadata) { records.append((metadata.key, metadata.value)) }
    }

    // MARK: InitProducerId

    struct InitResult: Sendable, Equatable {
        var error: KafkaErrorCode = .none
        var producerId: Int64 = -1
        var producerEpoch: Int16 = -1
    }

    /// InitProducerId with a transactional id: a new producer id for a new id; otherwise the epoch
    /// bumped (fencing the previous producer); an open transaction of the previous producer is
    /// aborted first (CONCURRENT_TRANSACTIONS until it is). `expected` is KIP-360's producer id and
    /// epoch of a producer recovering its own id.
    mutating func initProducerId(
        transactionalId: String, timeoutMs: Int32, expected: (producerId: Int64, epoch: Int16)?, nowMs: Int64,
        newProducerId: () -> Int64
    ) -> (InitResult, Effects) {
        var effects = Effects()
        guard timeoutMs > 0, timeoutMs <= maxTimeoutMs else { return (InitResult(error: .invalidTransactionTimeout), effects) }
        guard var metadata = transactions[transactionalId] else {
            let created = TransactionMetadata(
                transactionalId: transactionalId, producerId: newProducerId(), producerEpoch: 0, transactionTimeoutMs: timeoutMs, nowMs: nowMs)
            transactions[transactionalId] = created
            effects.store(created)
            return (InitResult(producerId: created.producerId, producerEpoch: created.producerEpoch), effects)
        }
        if metadata.state.isPreparing { return (InitResult(error: .concurrentTransactions), effects) }
        if let expected, expected.producerId >= 0 {
            // A producer recovering its id must name the current one (or the one just replaced).
            let current = expected.producerId == metadata.producerId && expected.epoch == metadata.producerEpoch
            let previous = (expected.producerId == metadata.producerId && expected.epoch == metadata.lastProducerEpoch)
                || (expected.producerId == metadata.previousProducerId && metadata.producerEpoch == 0)
            guard current || previous else { return (InitResult(error: .producerFenced), effects) }
            if previous, !current, metadata.state != .ongoing {
                // Its earlier InitProducerId succeeded but the answer was lost: the same answer again.
                return (InitResult(producerId: metadata.producerId, producerEpoch: metadata.producerEpoch), effects)
            }
        }
        if metadata.state == .ongoing {
            // The previous producer's transaction is aborted under a bumped epoch, so the old one is fenced.
            bumpEpoch(&metadata, newProducerId: newProducerId)
            try? metadata.transition(to: .prepareEpochFence, nowMs: nowMs)
            try? metadata.transition(to: .prepareAbort, nowMs: nowMs)
            transactions[transactionalId] = metadata
            effects.store(metadata)
            effects.markers.append(markers(of: metadata, commit: false))
            return (InitResult(error: .concurrentTransactions), effects)
        }
        bumpEpoch(&metadata, newProducerId: newProducerId)
        metadata.transactionTimeoutMs = timeoutMs
        try? metadata.transition(to: .empty, nowMs: nowMs)
        transactions[transactionalId] = metadata
        effects.store(metadata)
        return (InitResult(producerId: metadata.producerId, producerEpoch: metadata.producerEpoch), effects)
    }

    private func bumpEpoch(_ metadata: inout TransactionMetadata, newProducerId: () -> Int64) {
        metadata.lastProducerEpoch = metadata.producerEpoch
        if metadata.producerEpoch >= TransactionMetadata.epochMax {
            // The epoch is exhausted: a new producer id starts again at 0.
            metadata.previousProducerId = metadata.producerId
            metadata.producerId = newProducerId()
            metadata.producerEpoch = 0
        } else {
            metadata.producerEpoch += 1
        }
    }

    // MARK: The transaction

    /// The checks every request of a producer goes through: its id is the current one, its epoch
    /// not older, and no markers are being written.
    private func check(_ metadata: TransactionMetadata?, producerId: Int64, epoch: Int16) -> KafkaErrorCode? {
        guard let metadata, metadata.producerId == producerId else { return .invalidProducerIdMapping }
        guard epoch >= metadata.producerEpoch else { return .producerFenced }
        guard epoch == metadata.producerEpoch else { return .invalidProducerEpoch }
        if metadata.state.isPreparing { return .concurrentTransactions }
        return nil
    }

    /// AddPartitionsToTxn (and AddOffsetsToTxn, with the group's `__consumer_offsets` partition).
    mutating func addPartitions(
        transactionalId: String, producerId: Int64, epoch: Int16, partitions: [TransactionMetadata.TopicPartitionName], nowMs: Int64
    ) -> (KafkaErrorCode, Effects) {
        var effects = Effects()
        if let error = check(transactions[transactionalId], producerId: producerId, epoch: epoch) { return (error, effects) }
        var metadata = transactions[transactionalId]!
        if metadata.state == .ongoing, Set(partitions).isSubset(of: metadata.partitions) { return (.none, effects) }
        metadata.partitions.formUnion(partitions)
        do {
            try metadata.transition(to: .ongoing, nowMs: nowMs)
        } catch {
            return (.invalidTxnState, effects)
        }
        transactions[transactionalId] = metadata
        effects.store(metadata)
        return (.none, effects)
    }

    /// KIP-890 verification: each partition is part of the producer's open transaction (NONE),
    /// or why its transactional batch may not be appended (TRANSACTION_ABORTABLE when it was never
    /// added: a hanging transaction in the making), as Kafka's coordinator answers.
    func verify(
        transactionalId: String, producerId: Int64, epoch: Int16, partitions: [TransactionMetadata.TopicPartitionName]
    ) -> [TransactionMetadata.TopicPartitionName: KafkaErrorCode] {
        let metadata = transactions[transactionalId]
        let error = check(metadata, producerId: producerId, epoch: epoch)
        return Dictionary(partitions.map { partition in
            (partition, error ?? (metadata!.state == .ongoing && metadata!.partitions.contains(partition) ? .none : .transactionAbortable))
        }, uniquingKeysWith: { first, _ in first })
    }

    /// EndTxn: commit or abort the open transaction. The answer goes once the prepare record is
    /// durable; the markers follow. A retry of a transaction already ended the same way succeeds.
    mutating func endTransaction(transactionalId: String, producerId: Int64, epoch: Int16, commit: Bool, nowMs: Int64) -> (KafkaErrorCode, Effects) {
        var effects = Effects()
        guard var metadata = transactions[transactionalId], metadata.producerId == producerId else { return (.invalidProducerIdMapping, effects) }
        guard epoch >= metadata.producerEpoch else { return (.producerFenced, effects) }
        guard epoch == metadata.producerEpoch else { return (.invalidProducerEpoch, effects) }
        switch (metadata.state, commit) {
        case (.ongoing, _):
            try? metadata.transition(to: commit ? .prepareCommit : .prepareAbort, nowMs: nowMs)
            transactions[transactionalId] = metadata
            effects.store(metadata)
            effects.markers.append(markers(of: metadata, commit: commit))
            return (.none, effects)
        case (.completeCommit, true), (.completeAbort, false):
            return (.none, effects)
        case (.prepareCommit, true), (.prepareAbort, false):
            return (.concurrentTransactions, effects)
        default:
            return (.invalidTxnState, effects)
        }
    }

    /// Every marker of the prepared transaction is written: it is complete.
    mutating func markersWritten(_ markers: Markers, nowMs: Int64) -> Effects {
        var effects = Effects()
        guard var metadata = transactions[markers.transactionalId], metadata.producerId == markers.producerId,
              metadata.producerEpoch == markers.producerEpoch,
              metadata.state == (markers.commit ? .prepareCommit : .prepareAbort) else { return effects }
        try? metadata.transition(to: markers.commit ? .completeCommit : .completeAbort, nowMs: nowMs)
        transactions[markers.transactionalId] = metadata
        effects.store(metadata)
        return effects
    }

    /// Transactions open past their timeout are aborted under a bumped epoch (their producer is fenced).
    mutating func expire(nowMs: Int64, newProducerId: () -> Int64) -> Effects {
        var effects = Effects()
        for id in transactions.keys.sorted() where transactions[id]!.hasExpired(nowMs: nowMs) {
            var metadata = transactions[id]!
            bumpEpoch(&metadata, newProducerId: newProducerId)
            try? metadata.transition(to: .prepareEpochFence, nowMs: nowMs)
            try? metadata.transition(to: .prepareAbort, nowMs: nowMs)
            transactions[id] = metadata
            effects.store(metadata)
            effects.markers.append(markers(of: metadata, commit: false))
        }
        return effects
    }

    /// The earliest moment an open transaction times out.
    var nextDeadlineMs: Int64? {
        transactions.values.filter { $0.state == .ongoing }.map { $0.transactionStartMs + Int64($0.transactionTimeoutMs) }.min()
    }

    // MARK: Loading

    /// Applies a record read back from the log (oldest first); a null value removes the id.
    mutating func replay(key: TransactionLogKey, value: TransactionLogValue?) {
        guard let value else {
            transactions.removeValue(forKey: key.transactionalId)
            return
        }
        transactions[key.transactionalId] = TransactionMetadata(transactionalId: key.transactionalId, value: value)
    }

    /// After loading: transactions a dead coordinator left preparing get their markers written again.
    var pendingMarkers: [Markers] {
        transactions.values.filter { $0.state == .prepareCommit || $0.state == .prepareAbort }.sorted { $0.transactionalId < $1.transactionalId }
            .map { markers(of: $0, commit: $0.state == .prepareCommit) }
    }

    private func markers(of metadata: TransactionMetadata, commit: Bool) -> Markers {
        Markers(
            transactionalId: metadata.transactionalId, producerId: metadata.producerId, producerEpoch: metadata.producerEpoch,
            commit: commit, partitions: metadata.partitions.sorted())
    }
}
