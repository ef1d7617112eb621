import KafkaProtocol

// Offsets committed inside a transaction (TxnOffsetCommit, KIP-98): written to
// `__consumer_offsets` in a transactional batch of the producer, kept pending, and made the
// group's committed offsets when the transaction's COMMIT marker reaches the partition (dropped on
// ABORT). OffsetFetch with `require_stable` answers UNSTABLE_OFFSET_COMMIT for a partition with a
// pending offset, so a read_committed consumer starts only from offsets that are final.
extension GroupStateMachine {
    /// TxnOffsetCommit for one group. Members are checked as OffsetCommit checks them when the
    /// request names one (v3+); a group that only stores offsets accepts any producer's.
    mutating func commitTransactionalOffsets(
        _ request: TxnOffsetCommitRequest, nowMs: Int64, partitionExists: (String, Int32) -> Bool
    ) -> (TxnOffsetCommitResponse, GroupEffects) {
        var effects = GroupEffects()
        effects.transactionalProducer = (request.producerId, request.producerEpoch)
        func answer(_ code: (String, Int32) -> KafkaErrorCode) -> TxnOffsetCommitResponse {
            TxnOffsetCommitResponse(topics: request.topics.map { topic in
                .init(name: topic.name, partitions: topic.partitions.map { .init(partitionIndex: $0.partitionIndex, errorCode: code(topic.name, $0.partitionIndex).rawValue) })
            })
        }
        if !request.memberId.isEmpty || request.generationId >= 0,
           let error = validateTransactionalCommit(groupId: request.groupId, generation: request.generationId, memberId: request.memberId, instanceId: request.groupInstanceId) {
            return (answer { _, _ in error }, effects)
        }
        guard !request.groupId.isEmpty else { return (answer { _, _ in .invalidGroupId }, effects) }
        var codes: [OffsetKey: KafkaErrorCode] = [:]
        for topic in request.topics {
            for partition in topic.partitions {
                let key = OffsetKey(topic: topic.name, partition: partition.partitionIndex)
                let metadata = partition.committedMetadata ?? ""
                if let error = refusal(of: key, metadata: metadata, partitionExists: partitionExists) {
                    codes[key] = error
                    continue
                }
                let committed = CommittedOffset(
                    offset: partition.committedOffset, leaderEpoch: partition.committedLeaderEpoch, metadata: metadata, commitTimestampMs: nowMs)
                pendingTransactionalOffsets[request.producerId, default: [:]][request.groupId, default: [:]][key] = committed
                effects.records.append(Self.offsetRecord(group: request.groupId, key: key, committed))
            }
        }
        return (answer { topic, partition in codes[OffsetKey(topic: topic, partition: partition)] ?? .none }, effects)
    }

    /// The member checks of OffsetCommit, for a TxnOffsetCommit that names a member.
    private func validateTransactionalCommit(groupId: String, generation: Int32, memberId: String, instanceId: String?) -> KafkaErrorCode? {
        if let consumer = consumerGroups[groupId] { return validateConsumerCommit(consumer, memberEpoch: generation, memberId: memberId) }
        guard let group = groups[groupId] else { return generation < 0 ? nil : .illegalGeneration }
        if let error = group.validateMember(memberId, instanceId: instanceId) { return error }
        if !memberId.isEmpty, group.members[memberId] == nil { return .unknownMemberId }
        if generation >= 0, generation != group.generationId { return .illegalGeneration }
        return nil
    }

    /// The transaction's marker reached this partition: its pending offsets become the groups'
    /// committed offsets (commit) or are dropped (abort).
    mutating func completeTransaction(producerId: Int64, commit: Bool, nowMs: Int64) {
        guard let pending = pendingTransactionalOffsets.removeValue(forKey: producerId), commit else { return }
        for (groupId, committed) in pending {
            offsets[groupId, default: [:]].merge(committed) { _, new in new }
            if groups[groupId] == nil, consumerGroups[groupId] == nil {
                groups[groupId] = ClassicGroup(groupId: groupId, nowMs: nowMs)
            }
        }
    }

    /// The partitions of `groupId` with an offset pending in an open transaction.
    func unstableOffsets(groupId: String) -> Set<OffsetKey> {
        var keys = Set<OffsetKey>()
        for byGroup in pendingTransactionalOffsets.values {
            if let pending = byGroup[groupId] { keys.formUnion(pending.keys) }
        }
        return keys
    }
}
