import KafkaProtocol

/// KIP-848's ConsumerGroupHeartbeat on one group: joining (epoch 0), leaving (-1, or -2 for a
/// static member), and every other heartbeat moving the member toward the target assignment.
extension ConsumerGroup {
    struct HeartbeatInput {
        var request: ConsumerGroupHeartbeatRequest
        var version: Int16
        var clientId: String
        var clientHost: String
        /// The id a joining member gets when it brings none (v0).
        var newMemberId: String
        var topics: TopicCatalog
        var nowMs: Int64
    }

    static let leaveEpoch: Int32 = -1
    static let staticLeaveEpoch: Int32 = -2

    mutating func heartbeat(_ input: HeartbeatInput, settings: GroupCoordinatorSettings) -> ConsumerGroupHeartbeatResponse {
        let request = input.request
        // What the member says it owns (nil: unchanged since its last heartbeat).
        let owned = Self.assignment(request.topicPartitions)
        func fail(_ code: KafkaErrorCode, _ message: String? = nil) -> ConsumerGroupHeartbeatResponse {
            ConsumerGroupHeartbeatResponse(errorCode: code.rawValue, errorMessage: message, memberId: request.memberId, memberEpoch: -1)
        }
        if let assignor = request.serverAssignor, ServerAssignor(rawValue: assignor) == nil {
            return fail(.unsupportedAssignor, "the server assignors are uniform and range")
        }
        if request.memberEpoch == Self.leaveEpoch || request.memberEpoch == Self.staticLeaveEpoch {
            guard let memberId = resolveLeaving(request) else { return fail(.unknownMemberId) }
            if request.memberEpoch == Self.staticLeaveEpoch, members[memberId]?.instanceId != nil {
                // A static member's leave keeps its place and partitions until its session times
                // out, so the same instance coming back takes them over without a rebalance
                // (Kafka's consumerGroupStaticMemberGroupLeave).
                if members[memberId]!.memberEpoch != Self.staticLeaveEpoch {
                    members[memberId]!.previousMemberEpoch = members[memberId]!.memberEpoch
                    members[memberId]!.memberEpoch = Self.staticLeaveEpoch
                }
                members[memberId]!.pendingRevocation = [:]
                members[memberId]!.revocationDeadlineMs = nil
                return ConsumerGroupHeartbeatResponse(memberId: request.memberId, memberEpoch: request.memberEpoch, heartbeatIntervalMs: 0)
            }
            removeMember(memberId, topics: input.topics, nowMs: input.nowMs)
            return ConsumerGroupHeartbeatResponse(memberId: request.memberId, memberEpoch: request.memberEpoch, heartbeatIntervalMs: 0)
        }

        let memberId: String
        var sendAssignment = false
        if request.memberEpoch == 0 {
            guard request.subscribedTopicNames != nil || request.subscribedTopicRegex != nil else {
                return fail(.invalidRequest, "a joining member must name its subscription")
            }
            memberId = request.memberId.isEmpty ? input.newMemberId : request.memberId
            if let instanceId = request.instanceId, let previous = members.values.first(where: { $0.instanceId == instanceId }) {
                // A static member back under a new id takes over the old one's assignment, once
                // the old one has left (epoch -2); while it is in the group the id is its own.
                guard previous.memberEpoch == Self.staticLeaveEpoch else {
                    return fail(
                        .unreleasedInstanceId,
                        "Static member \(memberId) with instance id \(instanceId) cannot join the group because the instance id is owned by \(previous.memberId) member.")
                }
                var member = previous
                members.removeValue(forKey: previous.memberId)
                member = ConsumerGroupMember(
                    memberId: memberId, instanceId: instanceId, rackId: request.rackId, clientId: input.clientId, clientHost: input.clientHost,
                    subscribedTopicNames: request.subscribedTopicNames ?? previous.subscribedTopicNames,
                    subscribedTopicRegex: request.subscribedTopicRegex, serverAssignor: request.serverAssignor,
                    rebalanceTimeoutMs: request.rebalanceTimeoutMs, memberEpoch: previous.previousMemberEpoch,
                    previousMemberEpoch: previous.previousMemberEpoch, state: previous.state, assigned: previous.assigned,
                    pendingRevocation: previous.pendingRevocation, sessionDeadlineMs: input.nowMs + Int64(settings.consumerSessionTimeoutMs))
                if let target = targetAssignment.removeValue(forKey: previous.memberId) { targetAssignment[memberId] = target }
                members[memberId] = member
            } else if members[memberId] == nil {
                guard members.count < settings.maxGroupSize else { return fail(.groupMaxSizeReached) }
                members[memberId] = ConsumerGroupMember(
                    memberId: memberId, instanceId: request.instanceId, rackId: request.rackId, clientId: input.clientId,
                    clientHost: input.clientHost, subscribedTopicNames: request.subscribedTopicNames ?? [],
                    subscribedTopicRegex: request.subscribedTopicRegex, serverAssignor: request.serverAssignor,
                    rebalanceTimeoutMs: request.rebalanceTimeoutMs, sessionDeadlineMs: input.nowMs + Int64(settings.consumerSessionTimeoutMs))
                groupEpoch &+= 1
            }
            sendAssignment = true
        } else {
            memberId = request.memberId
            guard let member = members[memberId] else { return fail(.unknownMemberId) }
            if request.memberEpoch != member.memberEpoch {
                // A lost response: the member may still be on the previous epoch with nothing it
                // should no longer own.
                guard request.memberEpoch == member.previousMemberEpoch, let owned, owned.subtracting(member.assigned).isEmpty else {
                    return fail(.fencedMemberEpoch, "the member epoch is \(member.memberEpoch)")
                }
                sendAssignment = true
            }
        }

        var member = members[memberId]!
        if let names = request.subscribedTopicNames, names.sorted() != member.subscribedTopicNames.sorted() {
            member.subscribedTopicNames = names
            groupEpoch &+= 1
        }
        if let regex = request.subscribedTopicRegex, regex != member.subscribedTopicRegex {
            member.subscribedTopicRegex = regex.isEmpty ? nil : regex
            groupEpoch &+= 1
        }
        if let assignor = request.serverAssignor { member.serverAssignor = assignor }
        if request.rebalanceTimeoutMs > 0 { member.rebalanceTimeoutMs = request.rebalanceTimeoutMs }
        member.clientId = input.clientId
        member.clientHost = input.clientHost
        member.sessionDeadlineMs = input.nowMs + Int64(settings.consumerSessionTimeoutMs)
        members[memberId] = member

        refreshTargetAssignment(topics: input.topics)
        let before = members[memberId]!.assigned
        reconcile(memberId, owned: owned, nowMs: input.nowMs)
        let after = members[memberId]!
        if after.assigned != before || (owned.map { $0 != after.assigned } ?? false) {
            sendAssignment = true
        }
        return ConsumerGroupHeartbeatResponse(
            memberId: memberId, memberEpoch: after.memberEpoch, heartbeatIntervalMs: settings.consumerHeartbeatIntervalMs,
            assignment: sendAssignment ? .init(topicPartitions: after.assigned.sorted { $0.key.description < $1.key.description }.map {
                .init(topicId: $0.key, partitions: $0.value.sorted())
            }) : nil)
    }

    /// The member a leave names: by member id, or a static member by its instance id.
    private func resolveLeaving(_ request: ConsumerGroupHeartbeatRequest) -> String? {
        if members[request.memberId] != nil { return request.memberId }
        guard let instanceId = request.instanceId else { return nil }
        return members.values.first { $0.instanceId == instanceId }?.memberId
    }

    mutating func removeMember(_ memberId: String, topics: TopicCatalog, nowMs: Int64) {
        guard members.removeValue(forKey: memberId) != nil else { return }
        targetAssignment.removeValue(forKey: memberId)
        groupEpoch &+= 1
        refreshTargetAssignment(topics: topics)
        // Partitions the member held are free now: others waiting for them may take them.
        for other in members.keys.sorted() where members[other]?.state == .unreleasedPartitions {
            reconcile(other, owned: nil, nowMs: nowMs)
        }
    }

    /// Recomputes the target when the group epoch moved past it, or the subscribed topics changed
    /// (new partitions, a topic created or deleted).
    mutating func refreshTargetAssignment(topics: TopicCatalog) {
        let subscribed = members.values.reduce(into: Set<String>()) { $0.formUnion($1.subscribedTopics(in: topics)) }
        let snapshot = Dictionary(uniqueKeysWithValues: subscribed.compactMap { name in topics.byName[name].map { (name, $0) } })
        if snapshot != subscribedTopicsSnapshot {
            subscribedTopicsSnapshot = snapshot
            groupEpoch &+= 1
        }
        guard groupEpoch != targetAssignmentEpoch else { return }
        let preferred = members.values.compactMap(\.serverAssignor).sorted().first
        assignorName = preferred ?? assignorName
        let assignor = ServerAssignor(rawValue: assignorName) ?? .uniform
        targetAssignment = assignor.assign(
            members: members.values.sorted { $0.memberId < $1.memberId }.map {
                .init(memberId: $0.memberId, topics: $0.subscribedTopics(in: topics), current: $0.assigned)
            },
            topics: snapshot)
        targetAssignmentEpoch = groupEpoch
    }

    /// Moves one member toward its target (Kafka's CurrentAssignmentBuilder): first it gives back
    /// what it must (its epoch waits until its heartbeat no longer lists those partitions), then it
    /// moves to the target epoch with every target partition that nobody else holds.
    mutating func reconcile(_ memberId: String, owned: TopicAssignment?, nowMs: Int64) {
        guard var member = members[memberId] else { return }
        let target = targetAssignment[memberId] ?? [:]
        if member.state == .unrevokedPartitions {
            // Still revoking until the member's heartbeat shows the partitions are gone.
            guard let owned, owned.intersection(member.pendingRevocation).isEmpty else {
                members[memberId] = member
                return
            }
            member.pendingRevocation = [:]
            member.revocationDeadlineMs = nil
            member.state = .unreleasedPartitions
        }
        guard member.memberEpoch != targetAssignmentEpoch || member.state != .stable else { return }
        let kept = member.assigned.intersection(target)
        let toRevoke = member.assigned.subtracting(target)
        if !toRevoke.isEmpty {
            member.assigned = kept
            member.pendingRevocation = toRevoke
            member.state = .unrevokedPartitions
            member.revocationDeadlineMs = nowMs + Int64(max(member.rebalanceTimeoutMs, 0))
            members[memberId] = member
            return
        }
        var assigned = kept
        for (topic, partitions) in target.subtracting(kept) {
            for partition in partitions where isFree(topic: topic, partition: partition, except: memberId) {
                assigned[topic, default: []].insert(partition)
            }
        }
        member.assigned = assigned
        if member.memberEpoch != targetAssignmentEpoch {
            member.previousMemberEpoch = member.memberEpoch
            member.memberEpoch = targetAssignmentEpoch
        }
        member.state = target.subtracting(assigned).isEmpty ? .stable : .unreleasedPartitions
        members[memberId] = member
    }

    static func assignment(_ partitions: [ConsumerGroupHeartbeatRequest.TopicPartitions]?) -> TopicAssignment? {
        partitions.map { list in
            list.reduce(into: TopicAssignment()) { result, entry in
                if !entry.partitions.isEmpty { result[entry.topicId, default: []].formUnion(entry.partitions) }
            }
        }
    }

    /// Members silent past the session timeout, or holding partitions past their rebalance
    /// timeout, are removed; returns whether any was.
    mutating func expire(nowMs: Int64, topics: TopicCatalog) -> Bool {
        let expired = members.values.filter { member in
            member.sessionDeadlineMs <= nowMs || (member.revocationDeadlineMs.map { $0 <= nowMs } ?? false)
        }.map(\.memberId)
        for memberId in expired.sorted() { removeMember(memberId, topics: topics, nowMs: nowMs) }
        return !expired.isEmpty
    }

    var nextDeadlineMs: Int64? {
        members.values.flatMap { [$0.sessionDeadlineMs, $0.revocationDeadlineMs].compactMap { $0 } }.min()
    }

    func describe(topics: TopicCatalog) -> ConsumerGroupDescribeResponse.DescribedGroup {
        func described(_ assignment: TopicAssignment) -> ConsumerGroupDescribeResponse.Assignment {
            .init(topicPartitions: assignment.sorted { $0.key.description < $1.key.description }.map {
                .init(topicId: $0.key, topicName: topics.name(of: $0.key) ?? "", partitions: $0.value.sorted())
            })
        }
        return .init(
            errorCode: 0, groupId: groupId, groupState: state.rawValue, groupEpoch: groupEpoch, assignmentEpoch: targetAssignmentEpoch,
            assignorName: assignorName,
            members: members.values.sorted { $0.memberId < $1.memberId }.map {
                .init(
                    memberId: $0.memberId, instanceId: $0.instanceId, rackId: $0.rackId, memberEpoch: $0.memberEpoch, clientId: $0.clientId,
                    clientHost: $0.clientHost, subscribedTopicNames: $0.subscribedTopicNames.sorted(), subscribedTopicRegex: $0.subscribedTopicRegex,
                    assignment: described($0.assigned), targetAssignment: described(targetAssignment[$0.memberId] ?? [:]))
            })
    }
}
