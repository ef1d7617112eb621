import KafkaProtocol

/// KIP-848 groups in the state machine: ConsumerGroupHeartbeat, ConsumerGroupDescribe, and the
/// checks offset commits of their members go through. A group id is either a classic group or a
/// consumer group; an empty one of either kind gives way to the other (its offsets stay).
extension GroupStateMachine {
    /// The heartbeat's answer, and the records that store what it changed (to be durable before
    /// the answer is sent).
    mutating func consumerHeartbeat(_ input: ConsumerGroup.HeartbeatInput) -> (ConsumerGroupHeartbeatResponse, GroupEffects) {
        let before = consumerGroups[input.request.groupId]?.records() ?? [:]
        let response = applyConsumerHeartbeat(input)
        var effects = GroupEffects()
        if let group = consumerGroups[input.request.groupId] {
            effects.records = CoordinatorRecord.changes(from: before, to: group.records())
        }
        return (response, effects)
    }

    private mutating func applyConsumerHeartbeat(_ input: ConsumerGroup.HeartbeatInput) -> ConsumerGroupHeartbeatResponse {
        let groupId = input.request.groupId
        guard !groupId.isEmpty else {
            return ConsumerGroupHeartbeatResponse(errorCode: KafkaErrorCode.invalidGroupId.rawValue, memberEpoch: -1)
        }
        if shareGroups[groupId] != nil {
            return ConsumerGroupHeartbeatResponse(
                errorCode: KafkaErrorCode.groupIdNotFound.rawValue, errorMessage: "\(groupId) is a share group", memberEpoch: -1)
        }
        topics = input.topics
        if let classic = groups[groupId] {
            guard classic.isEmpty, classic.state == .empty else {
                return ConsumerGroupHeartbeatResponse(
                    errorCode: KafkaErrorCode.groupIdNotFound.rawValue, errorMessage: "\(groupId) is a classic group with members",
                    memberEpoch: -1)
            }
            groups.removeValue(forKey: groupId)
        }
        if consumerGroups[groupId] == nil {
            guard input.request.memberEpoch == 0 else {
                return ConsumerGroupHeartbeatResponse(
                    errorCode: KafkaErrorCode.unknownMemberId.rawValue, memberId: input.request.memberId, memberEpoch: -1)
            }
            consumerGroups[groupId] = ConsumerGroup(groupId: groupId)
        }
        return consumerGroups[groupId]!.heartbeat(input, settings: settings)
    }

    func describeConsumerGroup(_ groupId: String) -> ConsumerGroupDescribeResponse.DescribedGroup {
        guard let group = consumerGroups[groupId] else {
            // librdkafka's admin client falls back to DescribeGroups on this code for classic groups.
            return .init(errorCode: KafkaErrorCode.groupIdNotFound.rawValue, errorMessage: "\(groupId) is not a consumer group", groupId: groupId)
        }
        return group.describe(topics: topics)
    }

    /// OffsetCommit from a consumer group's member: the member must exist at its current epoch;
    /// without member id and epoch only while the group is empty (admin clients).
    func validateConsumerCommit(_ group: ConsumerGroup, memberEpoch: Int32, memberId: String) -> KafkaErrorCode? {
        if memberEpoch < 0, memberId.isEmpty { return group.members.isEmpty ? nil : .unknownMemberId }
        guard let member = group.members[memberId] else { return .unknownMemberId }
        return memberEpoch == member.memberEpoch ? nil : .staleMemberEpoch
    }

    /// OffsetFetch v9's member check (KIP-848), as Kafka's `ConsumerGroup.validateOffsetFetch`:
    /// only a consumer group's fetch that names a member (or an epoch) is checked; an admin client
    /// sends neither, and classic groups have no check.
    func validateOffsetFetch(groupId: String, memberId: String?, memberEpoch: Int32) -> KafkaErrorCode? {
        guard let group = consumerGroups[groupId], !(memberId == nil && memberEpoch < 0) else { return nil }
        guard let member = group.members[memberId ?? ""] else { return .unknownMemberId }
        return memberEpoch == member.memberEpoch ? nil : .staleMemberEpoch
    }

    mutating func expireConsumerMembers(nowMs: Int64, effects: inout GroupEffects) {
        for groupId in consumerGroups.keys.sorted() {
            guard let deadline = consumerGroups[groupId]?.nextDeadlineMs, deadline <= nowMs else { continue }
            let before = consumerGroups[groupId]!.records()
            if consumerGroups[groupId]!.expire(nowMs: nowMs, topics: topics) {
                effects.records += CoordinatorRecord.changes(from: before, to: consumerGroups[groupId]!.records())
            }
        }
    }

    /// Applies a KIP-848 record read back from the log; the group's members must heartbeat within
    /// their session timeout from `nowMs`.
    mutating func replayConsumerRecord(_ record: CoordinatorRecord, groupId: String, nowMs: Int64) {
        if case .consumerGroupMetadata(_, nil) = record {
            consumerGroups.removeValue(forKey: groupId)
            return
        }
        if let classic = groups[groupId], classic.isEmpty { groups.removeValue(forKey: groupId) }
        consumerGroups[groupId, default: ConsumerGroup(groupId: groupId)].replay(
            record, sessionDeadlineMs: nowMs + Int64(settings.consumerSessionTimeoutMs))
    }
}
