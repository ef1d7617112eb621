import KafkaProtocol

/// A KIP-848 group in `__consumer_offsets`, with Kafka's record types: after each change the
/// records that differ from before are written (a null value where a member left), and a restart
/// rebuilds the group from them.
extension ConsumerGroup {
    /// Kafka's MemberState bytes.
    private static func stateByte(_ state: ConsumerGroupMember.State) -> Int8 {
        switch state {
        case .stable: 0
        case .unrevokedPartitions: 1
        case .unreleasedPartitions: 2
        }
    }

    private static func state(_ byte: Int8) -> ConsumerGroupMember.State {
        switch byte {
        case 1: .unrevokedPartitions
        case 2: .unreleasedPartitions
        default: .stable
        }
    }

    private static func sorted(_ assignment: TopicAssignment) -> [(KafkaUUID, [Int32])] {
        assignment.sorted { $0.key.description < $1.key.description }.map { ($0.key, $0.value.sorted()) }
    }

    /// Every record that describes the group now, by a key naming the record.
    func records() -> [String: CoordinatorRecord] {
        var records: [String: CoordinatorRecord] = [
            "group": .consumerGroupMetadata(.init(groupId: groupId), .init(epoch: groupEpoch)),
            "target": .consumerGroupTargetAssignmentMetadata(.init(groupId: groupId), .init(assignmentEpoch: targetAssignmentEpoch)),
        ]
        for member in members.values {
            records["member:\(member.memberId)"] = .consumerGroupMemberMetadata(
                .init(groupId: groupId, memberId: member.memberId),
                .init(
                    instanceId: member.instanceId, rackId: member.rackId, clientId: member.clientId, clientHost: member.clientHost,
                    subscribedTopicNames: member.subscribedTopicNames, subscribedTopicRegex: member.subscribedTopicRegex,
                    rebalanceTimeoutMs: member.rebalanceTimeoutMs, serverAssignor: member.serverAssignor))
            records["current:\(member.memberId)"] = .consumerGroupCurrentMemberAssignment(
                .init(groupId: groupId, memberId: member.memberId),
                .init(
                    memberEpoch: member.memberEpoch, previousMemberEpoch: member.previousMemberEpoch, state: Self.stateByte(member.state),
                    assignedPartitions: Self.sorted(member.assigned).map { .init(topicId: $0.0, partitions: $0.1) },
                    partitionsPendingRevocation: Self.sorted(member.pendingRevocation).map { .init(topicId: $0.0, partitions: $0.1) }))
        }
        for (memberId, assignment) in targetAssignment {
            records["targetMember:\(memberId)"] = .consumerGroupTargetAssignmentMember(
                .init(groupId: groupId, memberId: memberId),
                .init(topicPartitions: Self.sorted(assignment).map { .init(topicId: $0.0, partitions: $0.1) }))
        }
        return records
    }


    /// Applies one record read back from the log.
    mutating func replay(_ record: CoordinatorRecord, sessionDeadlineMs: Int64) {
        switch record {
        case .consumerGroupMetadata(_, let value):
            if let value { groupEpoch = value.epoch }
        case .consumerGroupTargetAssignmentMetadata(_, let value):
            if let value { targetAssignmentEpoch = value.assignmentEpoch }
        case .consumerGroupTargetAssignmentMember(let key, let value):
            if let value {
                targetAssignment[key.memberId] = value.topicPartitions.reduce(into: TopicAssignment()) { $0[$1.topicId, default: []].formUnion($1.partitions) }
            } else {
                targetAssignment.removeValue(forKey: key.memberId)
            }
        case .consumerGroupMemberMetadata(let key, let value):
            guard let value else {
                members.removeValue(forKey: key.memberId)
                return
            }
            var member = members[key.memberId] ?? ConsumerGroupMember(
                memberId: key.memberId, clientId: value.clientId, clientHost: value.clientHost, subscribedTopicNames: [],
                rebalanceTimeoutMs: value.rebalanceTimeoutMs, sessionDeadlineMs: sessionDeadlineMs)
            member.instanceId = value.instanceId
            member.rackId = value.rackId
            member.clientId = value.clientId
            member.clientHost = value.clientHost
            member.subscribedTopicNames = value.subscribedTopicNames
            member.subscribedTopicRegex = value.subscribedTopicRegex
            member.rebalanceTimeoutMs = value.rebalanceTimeoutMs
            member.serverAssignor = value.serverAssignor
            members[key.memberId] = member
        case .consumerGroupCurrentMemberAssignment(let key, let value):
            guard let value, var member = members[key.memberId] else { return }
            member.memberEpoch = value.memberEpoch
            member.previousMemberEpoch = value.previousMemberEpoch
            member.state = Self.state(value.state)
            member.assigned = value.assignedPartitions.reduce(into: TopicAssignment()) { $0[$1.topicId, default: []].formUnion($1.partitions) }
            member.pendingRevocation = value.partitionsPendingRevocation.reduce(into: TopicAssignment()) {
                $0[$1.topicId, default: []].formUnion($1.partitions)
            }
            members[key.memberId] = member
        default:
            break
        }
    }
}

extension CoordinatorRecord {
    /// What to write to go from `before` to `after` (a KIP-848 or share group's records by a key
    /// naming each, see ``ConsumerGroup/records()``): changed and new records, and a null value
    /// for each record that is gone. Kafka's order: members' records before the group's.
    static func changes(from before: [String: CoordinatorRecord], to after: [String: CoordinatorRecord]) -> [CoordinatorRecord] {
        var changed: [CoordinatorRecord] = []
        for key in after.keys.sorted(by: writeOrder) {
            let record = after[key]!
            if before[key] == record { continue }
            changed.append(record)
        }
        for key in before.keys.sorted(by: writeOrder) where after[key] == nil {
            changed.append(before[key]!.tombstone)
        }
        return changed
    }

    private static func writeOrder(_ lhs: String, _ rhs: String) -> Bool {
        func rank(_ key: String) -> Int {
            if key.hasPrefix("member:") { return 0 }
            if key.hasPrefix("targetMember:") { return 1 }
            if key == "target" { return 2 }
            if key.hasPrefix("current:") { return 3 }
            return 4
        }
        return (rank(lhs), lhs) < (rank(rhs), rhs)
    }

    /// The same key with a null value.
    var tombstone: CoordinatorRecord {
        switch self {
        case .offsetCommit(let key, _): .offsetCommit(key, nil)
        case .groupMetadata(let key, _): .groupMetadata(key, nil)
        case .consumerGroupMetadata(let key, _): .consumerGroupMetadata(key, nil)
        case .consumerGroupMemberMetadata(let key, _): .consumerGroupMemberMetadata(key, nil)
        case .consumerGroupTargetAssignmentMember(let key, _): .consumerGroupTargetAssignmentMember(key, nil)
        case .consumerGroupTargetAssignmentMetadata(let key, _): .consumerGroupTargetAssignmentMetadata(key, nil)
        case .consumerGroupCurrentMemberAssignment(let key, _): .consumerGroupCurrentMemberAssignment(key, nil)
        case .shareGroupMemberMetadata(let key, _): .shareGroupMemberMetadata(key, nil)
        case .shareGroupMetadata(let key, _): .shareGroupMetadata(key, nil)
        case .shareGroupTargetAssignmentMetadata(let key, _): .shareGroupTargetAssignmentMetadata(key, nil)
        case .shareGroupTargetAssignmentMember(let key, _): .shareGroupTargetAssignmentMember(key, nil)
        case .shareGroupCurrentMemberAssignment(let key, _): .shareGroupCurrentMemberAssignment(key, nil)
        case .shareGroupStatePartitionMetadata(let key, _): .shareGroupStatePartitionMetadata(key, nil)
        case .other: self
        }
    }

    /// The group a KIP-848 record belongs to.
    var consumerGroupId: String? {
        switch self {
        case .consumerGroupMetadata(let key, _): key.groupId
        case .consumerGroupMemberMetadata(let key, _): key.groupId
        case .consumerGroupTargetAssignmentMember(let key, _): key.groupId
        case .consumerGroupTargetAssignmentMetadata(let key, _): key.groupId
        case .consumerGroupCurrentMemberAssignment(let key, _): key.groupId
        default: nil
        }
    }

    /// The group a share-group record belongs to.
    var shareGroupId: String? {
        switch self {
        case .shareGroupMemberMetadata(let key, _): key.groupId
        case .shareGroupMetadata(let key, _): key.groupId
        case .shareGroupTargetAssignmentMetadata(let key, _): key.groupId
        case .shareGroupTargetAssignmentMember(let key, _): key.groupId
        case .shareGroupCurrentMemberAssignment(let key, _): key.groupId
        case .shareGroupStatePartitionMetadata(let key, _): key.groupId
        default: nil
        }
    }
}
