import KafkaProtocol

/// A share group in `__consumer_offsets`, with Kafka's record types 10-15: after each change the
/// records that differ are written (``CoordinatorRecord/changes(from:to:)``), and loading rebuilds
/// the group from them.
extension ShareGroup {
    private static func sorted(_ assignment: TopicAssignment) -> [(KafkaUUID, [Int32])] {
        assignment.sorted { $0.key.description < $1.key.description }.map { ($0.key, $0.value.sorted()) }
    }

    /// Every record that describes the group now, by a key naming the record.
    func records() -> [String: CoordinatorRecord] {
        var records: [String: CoordinatorRecord] = [
            "group": .shareGroupMetadata(.init(groupId: groupId), .init(epoch: groupEpoch)),
            "target": .shareGroupTargetAssignmentMetadata(.init(groupId: groupId), .init(assignmentEpoch: targetAssignmentEpoch)),
        ]
        for member in members.values {
            records["member:\(member.memberId)"] = .shareGroupMemberMetadata(
                .init(groupId: groupId, memberId: member.memberId),
                .init(rackId: member.rackId, clientId: member.clientId, clientHost: member.clientHost, subscribedTopicNames: member.subscribedTopicNames))
            records["current:\(member.memberId)"] = .shareGroupCurrentMemberAssignment(
                .init(groupId: groupId, memberId: member.memberId),
                .init(
                    memberEpoch: member.memberEpoch, previousMemberEpoch: member.previousMemberEpoch, state: 0,
                    assignedPartitions: Self.sorted(member.assigned).map { .init(topicId: $0.0, partitions: $0.1) }))
        }
        if !initializedTopics.isEmpty {
            records["statePartitions"] = .shareGroupStatePartitionMetadata(.init(groupId: groupId), .init(
                initializedTopics: initializedTopics.sorted { $0.key.description < $1.key.description }.map {
                    .init(topicId: $0.key, topicName: $0.value.name, partitions: $0.value.partitions.sorted())
                }))
        }
        for (memberId, assignment) in targetAssignment {
            records["targetMember:\(memberId)"] = .shareGroupTargetAssignmentMember(
                .init(groupId: groupId, memberId: memberId),
                .init(topicPartitions: Self.sorted(assignment).map { .init(topicId: $0.0, partitions: $0.1) }))
        }
        return records
    }

    /// Applies one record read back from the log; members must heartbeat by `sessionDeadlineMs`.
    mutating func replay(_ record: CoordinatorRecord, sessionDeadlineMs: Int64) {
        switch record {
        case .shareGroupMetadata(_, let value):
            groupEpoch = value?.epoch ?? 0
        case .shareGroupTargetAssignmentMetadata(_, let value):
            targetAssignmentEpoch = value?.assignmentEpoch ?? 0
        case .shareGroupTargetAssignmentMember(let key, let value):
            targetAssignment[key.memberId] = value.map { $0.topicPartitions.reduce(into: TopicAssignment()) { $0[$1.topicId, default: []].formUnion($1.partitions) } }
        case .shareGroupMemberMetadata(let key, let value):
            guard let value else {
                members.removeValue(forKey: key.memberId)
                return
            }
            var member = members[key.memberId] ?? ShareGroupMember(
                memberId: key.memberId, clientId: value.clientId, clientHost: value.clientHost, subscribedTopicNames: [],
                sessionDeadlineMs: sessionDeadlineMs)
            member.rackId = value.rackId
            member.clientId = value.clientId
            member.clientHost = value.clientHost
            member.subscribedTopicNames = value.subscribedTopicNames
            members[key.memberId] = member
        case .shareGroupStatePartitionMetadata(_, let value):
            initializedTopics = (value?.initializedTopics ?? []).reduce(into: [:]) { $0[$1.topicId] = ($1.topicName, Set($1.partitions)) }
        case .shareGroupCurrentMemberAssignment(let key, let value):
            guard let value, var member = members[key.memberId] else { return }
            member.memberEpoch = value.memberEpoch
            member.previousMemberEpoch = value.previousMemberEpoch
            member.assigned = value.assignedPartitions.reduce(into: TopicAssignment()) { $0[$1.topicId, default: []].formUnion($1.partitions) }
            members[key.memberId] = member
        default:
            break
        }
    }
}
