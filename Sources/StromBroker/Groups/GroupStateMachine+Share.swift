import KafkaProtocol

/// Share groups in the state machine: ShareGroupHeartbeat, ShareGroupDescribe, session expiry and
/// loading. Share, consumer and classic groups share one namespace: an id taken by a group of
/// another type answers GROUP_ID_NOT_FOUND, as Kafka does.
extension GroupStateMachine {
    /// The heartbeat's answer, and the records that store what it changed.
    mutating func shareHeartbeat(_ input: ShareGroup.HeartbeatInput) -> (ShareGroupHeartbeatResponse, GroupEffects) {
        let groupId = input.request.groupId
        var effects = GroupEffects()
        func fail(_ code: KafkaErrorCode, _ message: String) -> (ShareGroupHeartbeatResponse, GroupEffects) {
            (ShareGroupHeartbeatResponse(errorCode: code.rawValue, errorMessage: message, memberId: input.request.memberId, memberEpoch: -1), effects)
        }
        guard !groupId.isEmpty else { return fail(.invalidGroupId, "the group id is empty") }
        if let type = otherGroupType(groupId, than: "share") {
            return fail(.groupIdNotFound, "\(groupId) is a \(type) group, not a share group")
        }
        topics = input.topics
        if shareGroups[groupId] == nil {
            guard input.request.memberEpoch == 0 else {
                return fail(.unknownMemberId, "share group \(groupId) has no members")
            }
            shareGroups[groupId] = ShareGroup(groupId: groupId)
        }
        let before = shareGroups[groupId]!.records()
        let response = shareGroups[groupId]!.heartbeat(input, groupSizeMax: settings.shareGroupMaxSize)
        effects.records = CoordinatorRecord.changes(from: before, to: shareGroups[groupId]!.records())
        return (response, effects)
    }

    /// The type of the group `groupId` names when it is not `type` ("classic", "consumer",
    /// "share"); nil when it is that type or does not exist.
    func otherGroupType(_ groupId: String, than type: String) -> String? {
        if type != "classic", groups[groupId] != nil { return "classic" }
        if type != "consumer", consumerGroups[groupId] != nil { return "consumer" }
        if type != "share", shareGroups[groupId] != nil { return "share" }
        return nil
    }

    func describeShareGroup(_ groupId: String) -> ShareGroupDescribeResponse.DescribedGroup {
        guard let group = shareGroups[groupId] else {
            return .init(errorCode: KafkaErrorCode.groupIdNotFound.rawValue, errorMessage: "\(groupId) is not a share group", groupId: groupId)
        }
        return group.describe(topics: topics)
    }

    mutating func expireShareMembers(nowMs: Int64, effects: inout GroupEffects) {
        for groupId in shareGroups.keys.sorted() {
            guard let deadline = shareGroups[groupId]?.nextDeadlineMs, deadline <= nowMs else { continue }
            let before = shareGroups[groupId]!.records()
            if shareGroups[groupId]!.expire(nowMs: nowMs, topics: topics) {
                effects.records += CoordinatorRecord.changes(from: before, to: shareGroups[groupId]!.records())
            }
        }
    }

    /// DeleteGroups for a share group: only without members; its records go with it.
    mutating func deleteShareGroup(_ groupId: String) -> (KafkaErrorCode, GroupEffects) {
        var effects = GroupEffects()
        guard let group = shareGroups[groupId] else { return (.groupIdNotFound, effects) }
        guard group.members.isEmpty else { return (.nonEmptyGroup, effects) }
        effects.records = CoordinatorRecord.changes(from: group.records(), to: [:])
        shareGroups.removeValue(forKey: groupId)
        return (.none, effects)
    }

    /// Applies a share-group record read back from the log.
    mutating func replayShareRecord(_ record: CoordinatorRecord, groupId: String, nowMs: Int64) {
        if case .shareGroupMetadata(_, nil) = record {
            shareGroups.removeValue(forKey: groupId)
            return
        }
        shareGroups[groupId, default: ShareGroup(groupId: groupId)].replay(
            record, sessionDeadlineMs: nowMs + Int64(settings.shareSessionTimeoutMs))
    }
}

/// What the share-group offset APIs need of the group: who is in it and which share-partitions
/// it has state for.
extension GroupStateMachine {
    struct ShareGroupOffsetsView: Sendable {
        var memberCount: Int
        var topics: [KafkaUUID: (name: String, partitions: Set<Int32>)]
    }

    /// Nil when `groupId` is not a share group.
    func shareGroupOffsetsView(_ groupId: String) -> ShareGroupOffsetsView? {
        shareGroups[groupId].map { ShareGroupOffsetsView(memberCount: $0.members.count, topics: $0.initializedTopics) }
    }

    /// AlterShareGroupOffsets on a group that does not exist creates it empty (its offsets may be
    /// set before anyone consumes); the altered partitions become part of its state. Fails for a
    /// group of another type or one with members.
    mutating func recordShareOffsets(_ groupId: String, topics: [KafkaUUID: (name: String, partitions: Set<Int32>)]) -> (KafkaErrorCode, GroupEffects) {
        if otherGroupType(groupId, than: "share") != nil { return (.groupIdNotFound, GroupEffects()) }
        let before = shareGroups[groupId]?.records() ?? [:]
        var group = shareGroups[groupId] ?? ShareGroup(groupId: groupId)
        guard group.members.isEmpty else { return (.nonEmptyGroup, GroupEffects()) }
        for (topicId, topic) in topics {
            group.initializedTopics[topicId, default: (topic.name, [])].partitions.formUnion(topic.partitions)
        }
        shareGroups[groupId] = group
        var effects = GroupEffects()
        effects.records = CoordinatorRecord.changes(from: before, to: group.records())
        return (.none, effects)
    }

    /// DeleteShareGroupOffsets: the topics leave the group's state (an empty group only).
    mutating func forgetShareTopics(_ groupId: String, topicIds: Set<KafkaUUID>) -> (KafkaErrorCode, GroupEffects) {
        guard var group = shareGroups[groupId] else { return (.groupIdNotFound, GroupEffects()) }
        guard group.members.isEmpty else { return (.nonEmptyGroup, GroupEffects()) }
        let before = group.records()
        for topicId in topicIds { group.initializedTopics.removeValue(forKey: topicId) }
        shareGroups[groupId] = group
        var effects = GroupEffects()
        effects.records = CoordinatorRecord.changes(from: before, to: group.records())
        return (.none, effects)
    }
}
