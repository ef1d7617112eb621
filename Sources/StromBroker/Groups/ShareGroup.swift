import KafkaProtocol

/// One member of a share group (KIP-932): its subscription and the partitions it fetches from.
/// Unlike a consumer group's member it owns nothing exclusively, so there is no revocation step:
/// a heartbeat hands it the target assignment at once.
struct ShareGroupMember: Sendable, Equatable {
    let memberId: String
    var rackId: String?
    var clientId: String
    var clientHost: String
    var subscribedTopicNames: [String]
    var memberEpoch: Int32 = 0
    var previousMemberEpoch: Int32 = -1
    var assigned: TopicAssignment = [:]
    var sessionDeadlineMs: Int64
}

/// A share group: members share the partitions of the topics they subscribe to; the group epoch
/// moves whenever membership, subscriptions or the subscribed topics change, and the simple
/// assignor then spreads the partitions over the members (a partition may go to several).
struct ShareGroup: Sendable {
    let groupId: String
    var groupEpoch: Int32 = 0
    var targetAssignmentEpoch: Int32 = 0
    var targetAssignment: [String: TopicAssignment] = [:]
    var members: [String: ShareGroupMember] = [:]
    /// The subscribed topics' ids and partition counts when the target was last computed.
    var subscribedTopicsSnapshot: [String: TopicCatalog.Topic] = [:]
    /// Every share-partition the group was ever assigned (and so may have state at a share
    /// coordinator), by topic id with its name: what describing, resetting and deleting the
    /// group's offsets cover.
    var initializedTopics: [KafkaUUID: (name: String, partitions: Set<Int32>)] = [:]

    static let assignorName = "simple"
    static let leaveEpoch: Int32 = -1

    init(groupId: String) {
        self.groupId = groupId
    }

    /// Kafka's share group states.
    enum State: String {
        case empty = "Empty"
        case stable = "Stable"
    }

    var state: State { members.isEmpty ? .empty : .stable }

    var nextDeadlineMs: Int64? { members.values.map(\.sessionDeadlineMs).min() }

    /// Every topic some member subscribes to.
    var subscribedTopicNames: Set<String> {
        members.values.reduce(into: []) { $0.formUnion($1.subscribedTopicNames) }
    }

    struct HeartbeatInput {
        var request: ShareGroupHeartbeatRequest
        var clientId: String
        var clientHost: String
        var topics: TopicCatalog
        /// The group's `share.session.timeout.ms` and `share.heartbeat.interval.ms`.
        var sessionTimeoutMs: Int32
        var heartbeatIntervalMs: Int32
        var nowMs: Int64
    }

    /// ShareGroupHeartbeat: join (epoch 0, with the client's own member id), leave (-1), or a
    /// heartbeat at the member's epoch, answered with the assignment when it changed.
    mutating func heartbeat(_ input: HeartbeatInput, groupSizeMax: Int) -> ShareGroupHeartbeatResponse {
        let request = input.request
        func fail(_ code: KafkaErrorCode, _ message: String? = nil) -> ShareGroupHeartbeatResponse {
            ShareGroupHeartbeatResponse(errorCode: code.rawValue, errorMessage: message, memberId: request.memberId, memberEpoch: -1, heartbeatIntervalMs: 0)
        }
        guard !request.memberId.isEmpty else { return fail(.invalidRequest, "MemberId must be set (the client generates it)") }
        if request.memberEpoch == Self.leaveEpoch {
            guard members[request.memberId] != nil else { return fail(.unknownMemberId) }
            removeMember(request.memberId, topics: input.topics)
            return ShareGroupHeartbeatResponse(memberId: request.memberId, memberEpoch: Self.leaveEpoch, heartbeatIntervalMs: 0)
        }
        var sendAssignment = false
        // The group epoch moves once per heartbeat, whatever changed.
        var membershipChanged = false
        if request.memberEpoch == 0 {
            guard let names = request.subscribedTopicNames, !names.isEmpty else {
                return fail(.invalidRequest, "a joining member must name the topics it subscribes to")
            }
            if members[request.memberId] == nil {
                guard members.count < groupSizeMax else { return fail(.groupMaxSizeReached) }
                members[request.memberId] = ShareGroupMember(
                    memberId: request.memberId, rackId: request.rackId, clientId: input.clientId, clientHost: input.clientHost,
                    subscribedTopicNames: [], sessionDeadlineMs: input.nowMs)
                membershipChanged = true
            }
            sendAssignment = true
        } else {
            guard let member = members[request.memberId] else { return fail(.unknownMemberId) }
            guard request.memberEpoch == member.memberEpoch else {
                return fail(.fencedMemberEpoch, "the member epoch is \(member.memberEpoch)")
            }
        }
        var member = members[request.memberId]!
        if let names = request.subscribedTopicNames, Set(names) != Set(member.subscribedTopicNames) {
            member.subscribedTopicNames = names.sorted()
            membershipChanged = true
        }
        if request.memberEpoch == 0 { member.rackId = request.rackId }
        member.clientId = input.clientId
        member.clientHost = input.clientHost
        member.sessionDeadlineMs = input.nowMs + Int64(input.sessionTimeoutMs)
        members[request.memberId] = member

        refreshTargetAssignment(topics: input.topics, membershipChanged: membershipChanged)
        // A share member takes its target at once: nobody has to give a partition up first.
        let target = targetAssignment[request.memberId] ?? [:]
        if member.memberEpoch != targetAssignmentEpoch || member.assigned != target {
            member.previousMemberEpoch = member.memberEpoch
            member.memberEpoch = targetAssignmentEpoch
            sendAssignment = sendAssignment || member.assigned != target
            member.assigned = target
            members[request.memberId] = member
        }
        return ShareGroupHeartbeatResponse(
            memberId: member.memberId, memberEpoch: member.memberEpoch, heartbeatIntervalMs: input.heartbeatIntervalMs,
            assignment: sendAssignment ? .init(topicPartitions: member.assigned.sorted { $0.key.description < $1.key.description }.map {
                .init(topicId: $0.key, partitions: $0.value.sorted())
            }) : nil)
    }

    mutating func removeMember(_ memberId: String, topics: TopicCatalog) {
        guard members.removeValue(forKey: memberId) != nil else { return }
        targetAssignment.removeValue(forKey: memberId)
        refreshTargetAssignment(topics: topics, membershipChanged: true)
    }

    /// Members whose session passed: removed (as if they had left). Returns whether any was.
    mutating func expire(nowMs: Int64, topics: TopicCatalog) -> Bool {
        let expired = members.values.filter { $0.sessionDeadlineMs <= nowMs }.map(\.memberId)
        for memberId in expired.sorted() { removeMember(memberId, topics: topics) }
        return !expired.isEmpty
    }

    /// Moves the group epoch and recomputes the target when the membership or the subscribed
    /// topics (created, deleted, grown) changed.
    mutating func refreshTargetAssignment(topics: TopicCatalog, membershipChanged: Bool = false) {
        let snapshot = Dictionary(uniqueKeysWithValues: subscribedTopicNames.compactMap { name in topics.byName[name].map { (name, $0) } })
        if membershipChanged || snapshot != subscribedTopicsSnapshot {
            subscribedTopicsSnapshot = snapshot
            groupEpoch &+= 1
        }
        guard groupEpoch != targetAssignmentEpoch else { return }
        targetAssignment = Self.simpleAssignment(
            members: members.values.sorted { $0.memberId < $1.memberId }.map { ($0.memberId, Set($0.subscribedTopicNames)) },
            topics: snapshot)
        targetAssignmentEpoch = groupEpoch
        for assignment in targetAssignment.values {
            for (topicId, partitions) in assignment {
                guard let name = topics.name(of: topicId) else { continue }
                initializedTopics[topicId, default: (name, [])].partitions.formUnion(partitions)
            }
        }
    }

    /// Kafka's simple share assignor, per topic: with at least as many partitions as subscribers
    /// the partitions are dealt round-robin (each to one member); with more subscribers than
    /// partitions every subscriber gets one partition, so each partition is shared by several.
    /// Each topic starts where the previous one stopped so that members end up with similar counts.
    static func simpleAssignment(members: [(memberId: String, topics: Set<String>)], topics: [String: TopicCatalog.Topic]) -> [String: TopicAssignment] {
        var result = Dictionary(uniqueKeysWithValues: members.map { ($0.memberId, TopicAssignment()) })
        var rotation = 0
        for (name, topic) in topics.sorted(by: { $0.key < $1.key }) where topic.partitionCount > 0 {
            let subscribers = members.filter { $0.topics.contains(name) }.map(\.memberId)
            guard !subscribers.isEmpty else { continue }
            let partitionCount = Int(topic.partitionCount)
            let slots = max(partitionCount, subscribers.count)
            for slot in 0..<slots {
                let member = subscribers[(slot + rotation) % subscribers.count]
                result[member]![topic.id, default: []].insert(Int32(slot % partitionCount))
            }
            rotation += slots
        }
        return result
    }

    func describe(topics: TopicCatalog) -> ShareGroupDescribeResponse.DescribedGroup {
        .init(
            errorCode: 0, groupId: groupId, groupState: state.rawValue, groupEpoch: groupEpoch, assignmentEpoch: targetAssignmentEpoch,
            assignorName: Self.assignorName,
            members: members.values.sorted { $0.memberId < $1.memberId }.map {
                .init(
                    memberId: $0.memberId, rackId: $0.rackId, memberEpoch: $0.memberEpoch, clientId: $0.clientId, clientHost: $0.clientHost,
                    subscribedTopicNames: $0.subscribedTopicNames,
                    assignment: .init(topicPartitions: $0.assigned.sorted { $0.key.description < $1.key.description }.map {
                        .init(topicId: $0.key, topicName: topics.name(of: $0.key) ?? "", partitions: $0.value.sorted())
                    }))
            },
            authorizedOperations: Int32.min)
    }
}
