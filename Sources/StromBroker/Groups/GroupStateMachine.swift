import KafkaProtocol
import NIOCore

/// The groups and committed offsets of one `__consumer_offsets` partition, as a pure state
/// machine: requests, timer ticks and loaded records go in; responses, records to append and the
/// next deadline come out. No clocks, no I/O: tests drive it with any time they like.
struct GroupStateMachine: Sendable {
    let settings: GroupCoordinatorSettings
    var groups: [String: ClassicGroup] = [:]
    /// Committed offsets by group (set here and in GroupStateMachine+Transactions.swift).
    var offsets: [String: [OffsetKey: CommittedOffset]] = [:]
    /// Offsets committed in open transactions (TxnOffsetCommit), by producer id then group:
    /// visible once the transaction commits, dropped when it aborts.
    var pendingTransactionalOffsets: [Int64: [String: [OffsetKey: CommittedOffset]]] = [:]
    /// KIP-848 groups (a group id is in `groups` or here, never both).
    var consumerGroups: [String: ConsumerGroup] = [:]
    /// Share groups (KIP-932); their ids are taken by no other group.
    var shareGroups: [String: ShareGroup] = [:]
    /// The topics as the last consumer heartbeat saw them (for timers and descriptions).
    var topics = TopicCatalog([])
    private var nextOffsetExpiryMs: Int64

    struct OffsetKey: Hashable, Sendable, Comparable {
        var topic: String
        var partition: Int32

        static func < (lhs: OffsetKey, rhs: OffsetKey) -> Bool { (lhs.topic, lhs.partition) < (rhs.topic, rhs.partition) }
    }

    struct CommittedOffset: Sendable, Hashable {
        var offset: Int64
        var leaderEpoch: Int32
        var metadata: String
        var commitTimestampMs: Int64
        /// Set by OffsetCommit v2-v4's retention time; otherwise the group's expiry rules apply.
        var expireTimestampMs: Int64?
    }

    /// One topic's committed offsets by partition (nil: none committed).
    typealias TopicOffsets = (name: String, partitions: [(Int32, CommittedOffset?)])

    init(settings: GroupCoordinatorSettings, nowMs: Int64) {
        self.settings = settings
        self.nextOffsetExpiryMs = nowMs + settings.offsetsRetentionCheckIntervalMs
    }

    // MARK: Membership

    mutating func join(_ input: ClassicGroup.JoinInput) -> GroupEffects {
        var input = input
        var effects = GroupEffects()
        // JoinGroup v0 has no rebalance timeout: Kafka uses the session timeout.
        if input.request.rebalanceTimeoutMs < 0 { input.request.rebalanceTimeoutMs = input.request.sessionTimeoutMs }
        let request = input.request
        guard !request.groupId.isEmpty else {
            effects.reply(input.token, .join(ClassicGroup.joinError(.invalidGroupId, memberId: request.memberId, version: input.version)))
            return effects
        }
        guard (settings.minSessionTimeoutMs...settings.maxSessionTimeoutMs).contains(request.sessionTimeoutMs) else {
            effects.reply(input.token, .join(ClassicGroup.joinError(.invalidSessionTimeout, memberId: request.memberId, version: input.version)))
            return effects
        }
        if shareGroups[request.groupId] != nil {
            effects.reply(input.token, .join(ClassicGroup.joinError(.inconsistentGroupProtocol, memberId: request.memberId, version: input.version)))
            return effects
        }
        if let consumer = consumerGroups[request.groupId] {
            guard consumer.members.isEmpty else {
                effects.reply(input.token, .join(ClassicGroup.joinError(.inconsistentGroupProtocol, memberId: request.memberId, version: input.version)))
                return effects
            }
            consumerGroups.removeValue(forKey: request.groupId)
        }
        if groups[request.groupId] == nil {
            guard request.memberId.isEmpty else {
                effects.reply(input.token, .join(ClassicGroup.joinError(.unknownMemberId, memberId: request.memberId, version: input.version)))
                return effects
            }
            groups[request.groupId] = ClassicGroup(groupId: request.groupId, nowMs: input.nowMs)
        }
        groups[request.groupId]!.join(input, settings: settings, effects: &effects)
        return effects
    }

    mutating func sync(token: ReplyToken, version: Int16, request: SyncGroupRequest, nowMs: Int64) -> GroupEffects {
        var effects = GroupEffects()
        guard groups[request.groupId] != nil else {
            effects.reply(token, .sync(SyncGroupResponse(errorCode: KafkaErrorCode.unknownMemberId.rawValue)))
            return effects
        }
        groups[request.groupId]!.sync(token: token, version: version, request: request, nowMs: nowMs, effects: &effects)
        return effects
    }

    mutating func heartbeat(token: ReplyToken, request: HeartbeatRequest, nowMs: Int64) -> GroupEffects {
        var effects = GroupEffects()
        let code = groups[request.groupId]?.heartbeat(request: request, nowMs: nowMs) ?? .unknownMemberId
        effects.reply(token, .heartbeat(HeartbeatResponse(errorCode: code.rawValue)))
        return effects
    }

    mutating func leave(token: ReplyToken, version: Int16, request: LeaveGroupRequest, nowMs: Int64) -> GroupEffects {
        var effects = GroupEffects()
        let leaving: [LeaveGroupRequest.MemberIdentity] = version >= 3 ? request.members : [.init(memberId: request.memberId)]
        var results: [LeaveGroupResponse.MemberResponse] = []
        for identity in leaving {
            let code: KafkaErrorCode
            if groups[request.groupId] != nil {
                code = groups[request.groupId]!.leave(
                    memberId: identity.memberId, instanceId: identity.groupInstanceId, nowMs: nowMs, settings: settings, effects: &effects)
            } else {
                code = .unknownMemberId
            }
            results.append(.init(memberId: identity.memberId, groupInstanceId: identity.groupInstanceId, errorCode: code.rawValue))
        }
        // v0-2 name one member and carry its error at the top.
        let topError = version >= 3 ? 0 : (results.first?.errorCode ?? 0)
        effects.reply(token, .leave(LeaveGroupResponse(errorCode: topError, members: version >= 3 ? results : [])))
        return effects
    }

    // MARK: Offsets

    /// OffsetCommit for one group. `partitionExists` says which partitions may be committed
    /// (others get UNKNOWN_TOPIC_OR_PARTITION, as in Kafka).
    mutating func commitOffsets(
        token: ReplyToken, request: OffsetCommitRequest, nowMs: Int64, partitionExists: (String, Int32) -> Bool
    ) -> GroupEffects {
        var effects = GroupEffects()
        func answer(_ code: (String, Int32) -> KafkaErrorCode) {
            effects.reply(token, .offsetCommit(OffsetCommitResponse(topics: request.topics.map { topic in
                .init(name: topic.name, partitions: topic.partitions.map { .init(partitionIndex: $0.partitionIndex, errorCode: code(topic.name, $0.partitionIndex).rawValue) })
            })))
        }
        let generation = request.generationIdOrMemberEpoch
        if let error = validateCommit(groupId: request.groupId, generation: generation, memberId: request.memberId, instanceId: request.groupInstanceId) {
            answer { _, _ in error }
            return effects
        }
        if groups[request.groupId] == nil, consumerGroups[request.groupId] == nil {
            // A group that only stores offsets (assign() and commit): Kafka keeps it as an empty group.
            groups[request.groupId] = ClassicGroup(groupId: request.groupId, nowMs: nowMs)
        }
        if !request.memberId.isEmpty { groups[request.groupId]?.refreshSession(request.memberId, nowMs: nowMs) }
        var codes: [OffsetKey: KafkaErrorCode] = [:]
        for topic in request.topics {
            for partition in topic.partitions {
                let key = OffsetKey(topic: topic.name, partition: partition.partitionIndex)
                let metadata = partition.committedMetadata ?? ""
                if let error = refusal(of: key, metadata: metadata, partitionExists: partitionExists) {
                    codes[key] = error
                    continue
                }
                let commitTimestamp = partition.commitTimestamp >= 0 ? partition.commitTimestamp : nowMs
                let committed = CommittedOffset(
                    offset: partition.committedOffset, leaderEpoch: partition.committedLeaderEpoch, metadata: metadata,
                    commitTimestampMs: commitTimestamp,
                    expireTimestampMs: request.retentionTimeMs >= 0 ? commitTimestamp + request.retentionTimeMs : nil)
                offsets[request.groupId, default: [:]][key] = committed
                effects.records.append(Self.offsetRecord(group: request.groupId, key: key, committed))
                codes[key] = KafkaErrorCode.none
            }
        }
        answer { topic, partition in codes[OffsetKey(topic: topic, partition: partition)] ?? .none }
        return effects
    }

    /// Why an offset may not be committed: its partition does not exist, or its metadata is too long.
    func refusal(of key: OffsetKey, metadata: String, partitionExists: (String, Int32) -> Bool) -> KafkaErrorCode? {
        guard partitionExists(key.topic, key.partition) else { return .unknownTopicOrPartition }
        guard metadata.utf8.count <= settings.offsetMetadataMaxBytes else { return .offsetMetadataTooLarge }
        return nil
    }

    /// Kafka's checks of who may commit: anyone to a group without members (generation -1, no
    /// member id), otherwise a current member of the current generation outside a rebalance.
    private func validateCommit(groupId: String, generation: Int32, memberId: String, instanceId: String?) -> KafkaErrorCode? {
        guard !groupId.isEmpty else { return .invalidGroupId }
        if shareGroups[groupId] != nil { return .groupIdNotFound }
        if let consumer = consumerGroups[groupId] { return validateConsumerCommit(consumer, memberEpoch: generation, memberId: memberId) }
        guard let group = groups[groupId] else { return generation < 0 ? nil : .illegalGeneration }
        if group.state == .dead { return .coordinatorNotAvailable }
        if generation < 0, group.state == .empty { return nil }
        // An admin commit (no generation, member or instance) to a group with members: it is not
        // one of them (Kafka's ClassicGroup.validateOffsetCommit).
        if generation < 0, memberId.isEmpty, instanceId == nil { return .unknownMemberId }
        if let error = group.validateMember(memberId, instanceId: instanceId) { return error }
        if !memberId.isEmpty, group.members[memberId] == nil { return .unknownMemberId }
        if generation != group.generationId { return .illegalGeneration }
        if group.state == .completingRebalance { return .rebalanceInProgress }
        return nil
    }

    /// The committed offsets of one group: the partitions asked for (-1 where none is committed),
    /// or every committed partition when `topics` is nil.
    func fetchOffsets(groupId: String, topics: [(name: String, partitions: [Int32])]?) -> [TopicOffsets] {
        let committed = offsets[groupId] ?? [:]
        if let topics {
            return topics.map { topic in
                (topic.name, topic.partitions.map { ($0, committed[OffsetKey(topic: topic.name, partition: $0)]) })
            }
        }
        let byTopic = Dictionary(grouping: committed.keys.sorted(), by: \.topic)
        return byTopic.keys.sorted().map { topic in (topic, byTopic[topic]!.map { ($0.partition, committed[$0]) }) }
    }

    /// OffsetDelete: Kafka refuses for topics the group's members are subscribed to.
    mutating func deleteOffsets(groupId: String, partitions: [OffsetKey]) -> (KafkaErrorCode, [OffsetKey: KafkaErrorCode], GroupEffects) {
        var effects = GroupEffects()
        var subscribed: Set<String> = []
        if let consumer = consumerGroups[groupId] {
            subscribed = consumer.members.values.reduce(into: []) { $0.formUnion($1.subscribedTopics(in: topics)) }
        } else if let group = groups[groupId] {
            if group.state != .empty, group.state != .dead {
                guard let topics = group.subscribedTopics() else { return (.nonEmptyGroup, [:], effects) }
                subscribed = topics
            }
        } else {
            return (.groupIdNotFound, [:], effects)
        }
        var codes: [OffsetKey: KafkaErrorCode] = [:]
        for key in partitions {
            if subscribed.contains(key.topic) {
                codes[key] = .groupSubscribedToTopic
            } else {
                codes[key] = KafkaErrorCode.none
                if offsets[groupId]?.removeValue(forKey: key) != nil {
                    effects.records.append(.offsetCommit(group: groupId, topic: key.topic, partition: key.partition, value: nil))
                }
            }
        }
        return (.none, codes, effects)
    }

    // MARK: Groups

    func listGroups(statesFilter: Set<String>, typesFilter: Set<String>) -> [ListGroupsResponse.ListedGroup] {
        var listed: [ListGroupsResponse.ListedGroup] = []
        if typesFilter.isEmpty || typesFilter.contains("classic") {
            listed += groups.values.map { .init(groupId: $0.groupId, protocolType: $0.protocolType ?? "", groupState: $0.state.rawValue, groupType: "classic") }
        }
        if typesFilter.isEmpty || typesFilter.contains("consumer") {
            listed += consumerGroups.values.map { .init(groupId: $0.groupId, protocolType: "consumer", groupState: $0.state.rawValue, groupType: "consumer") }
        }
        if typesFilter.isEmpty || typesFilter.contains("share") {
            listed += shareGroups.values.map { .init(groupId: $0.groupId, protocolType: "share", groupState: $0.state.rawValue, groupType: "share") }
        }
        return listed.filter { statesFilter.isEmpty || statesFilter.contains($0.groupState.lowercased()) }.sorted { $0.groupId < $1.groupId }
    }

    func describeGroup(_ groupId: String) -> DescribeGroupsResponse.DescribedGroup {
        if let type = otherGroupType(groupId, than: "classic"), type == "share" {
            return .init(errorCode: KafkaErrorCode.groupIdNotFound.rawValue, groupId: groupId, groupState: "", protocolType: "", protocolData: "")
        }
        guard let group = groups[groupId] else {
            return .init(errorCode: 0, groupId: groupId, groupState: ClassicGroup.State.dead.rawValue, protocolType: "", protocolData: "")
        }
        let chosen = group.protocolName ?? ""
        // Kafka shows subscriptions and assignments only once a generation is settled.
        let showsAssignments = group.state == .stable
        return .init(
            errorCode: 0, groupId: groupId, groupState: group.state.rawValue, protocolType: group.protocolType ?? "",
            protocolData: group.state == .stable || group.state == .completingRebalance ? chosen : "",
            members: group.orderedMembers.map {
                .init(
                    memberId: $0.memberId, groupInstanceId: $0.groupInstanceId, clientId: $0.clientId, clientHost: $0.clientHost,
                    memberMetadata: showsAssignments ? $0.metadata(for: chosen) : ByteBuffer(),
                    memberAssignment: showsAssignments ? $0.assignment : ByteBuffer())
            })
    }

    /// DeleteGroups for one group: only a group without members; its offsets go with it.
    mutating func deleteGroup(_ groupId: String) -> (KafkaErrorCode, GroupEffects) {
        if shareGroups[groupId] != nil { return deleteShareGroup(groupId) }
        var effects = GroupEffects()
        if let consumer = consumerGroups[groupId] {
            guard consumer.members.isEmpty else { return (.nonEmptyGroup, effects) }
            effects.records += consumer.records().values.map(\.tombstone)
            consumerGroups.removeValue(forKey: groupId)
            groups[groupId] = ClassicGroup(groupId: groupId, nowMs: 0)
        }
        guard let group = groups[groupId] else { return (.groupIdNotFound, effects) }
        guard group.isEmpty, group.state == .empty || group.state == .dead else { return (.nonEmptyGroup, effects) }
        for key in (offsets[groupId] ?? [:]).keys.sorted() {
            effects.records.append(.offsetCommit(group: groupId, topic: key.topic, partition: key.partition, value: nil))
        }
        effects.records.append(.groupMetadata(group: groupId, value: nil))
        offsets.removeValue(forKey: groupId)
        groups.removeValue(forKey: groupId)
        return (.none, effects)
    }

    // MARK: Time

    /// Everything due at `nowMs`: session and join deadlines, and every
    /// `offsets.retention.check.interval.ms` the expiry of old offsets.
    mutating func tick(nowMs: Int64) -> GroupEffects {
        var effects = GroupEffects()
        for groupId in groups.keys.sorted() {
            guard let deadline = groups[groupId]?.nextDeadlineMs, deadline <= nowMs else { continue }
            groups[groupId]!.expire(nowMs: nowMs, settings: settings, effects: &effects)
        }
        expireConsumerMembers(nowMs: nowMs, effects: &effects)
        expireShareMembers(nowMs: nowMs, effects: &effects)
        if nowMs >= nextOffsetExpiryMs {
            nextOffsetExpiryMs = nowMs + settings.offsetsRetentionCheckIntervalMs
            expireOffsets(nowMs: nowMs, effects: &effects)
        }
        return effects
    }

    var nextDeadlineMs: Int64 {
        (groups.values.compactMap(\.nextDeadlineMs) + consumerGroups.values.compactMap(\.nextDeadlineMs)
            + shareGroups.values.compactMap(\.nextDeadlineMs)).reduce(nextOffsetExpiryMs, min)
    }

    /// Kafka's rules (KIP-211, KIP-496): an explicit expiry time wins; an empty group's offsets
    /// expire `offsets.retention.minutes` after it became empty; a group that only stores offsets
    /// after the commit; a live consumer group's offsets of topics nobody subscribes to after the
    /// commit. An empty group left without offsets is removed.
    private mutating func expireOffsets(nowMs: Int64, effects: inout GroupEffects) {
        for groupId in offsets.keys.sorted() {
            let group = groups[groupId]
            var subscribed = group?.subscribedTopics()
            if let consumer = consumerGroups[groupId], !consumer.members.isEmpty {
                subscribed = consumer.members.values.reduce(into: []) { $0.formUnion($1.subscribedTopics(in: topics)) }
            }
            for (key, committed) in offsets[groupId]!.sorted(by: { $0.key < $1.key }) {
                let expiresAt: Int64?
                if let explicit = committed.expireTimestampMs {
                    expiresAt = explicit
                } else if subscribed == nil, group == nil || group!.state == .empty {
                    let base = group?.protocolType == nil ? committed.commitTimestampMs : max(group!.stateTimestampMs, committed.commitTimestampMs)
                    expiresAt = base + settings.offsetsRetentionMs
                } else if let subscribed, !subscribed.contains(key.topic) {
                    expiresAt = committed.commitTimestampMs + settings.offsetsRetentionMs
                } else {
                    expiresAt = nil
                }
                guard let expiresAt, expiresAt <= nowMs else { continue }
                offsets[groupId]!.removeValue(forKey: key)
                effects.records.append(.offsetCommit(group: groupId, topic: key.topic, partition: key.partition, value: nil))
            }
            if offsets[groupId]!.isEmpty { offsets.removeValue(forKey: groupId) }
        }
        for (groupId, group) in groups.sorted(by: { $0.key < $1.key })
        where group.state == .empty && group.isEmpty && group.pendingMembers.isEmpty && offsets[groupId] == nil {
            groups.removeValue(forKey: groupId)
            effects.records.append(.groupMetadata(group: groupId, value: nil))
        }
        for (groupId, group) in consumerGroups where group.members.isEmpty && offsets[groupId] == nil {
            consumerGroups.removeValue(forKey: groupId)
        }
    }

    // MARK: Loading

    /// Applies one record read back from `__consumer_offsets` (oldest first); an offset commit of
    /// a transaction (`transactionalProducerId`) stays pending until its marker.
    mutating func replay(_ record: CoordinatorRecord, nowMs: Int64, transactionalProducerId: Int64? = nil) {
        if let producerId = transactionalProducerId, case .offsetCommit(let key, let value?) = record {
            pendingTransactionalOffsets[producerId, default: [:]][key.group, default: [:]][OffsetKey(topic: key.topic, partition: key.partition)] =
                CommittedOffset(
                    offset: value.offset, leaderEpoch: value.leaderEpoch, metadata: value.metadata,
                    commitTimestampMs: value.commitTimestamp, expireTimestampMs: value.expireTimestamp >= 0 ? value.expireTimestamp : nil)
            return
        }
        switch record {
        case .offsetCommit(let key, let value?):
            offsets[key.group, default: [:]][OffsetKey(topic: key.topic, partition: key.partition)] = CommittedOffset(
                offset: value.offset, leaderEpoch: value.leaderEpoch, metadata: value.metadata,
                commitTimestampMs: value.commitTimestamp, expireTimestampMs: value.expireTimestamp >= 0 ? value.expireTimestamp : nil)
            if groups[key.group] == nil, consumerGroups[key.group] == nil {
                groups[key.group] = ClassicGroup(groupId: key.group, nowMs: value.commitTimestamp)
            }
        case .offsetCommit(let key, nil):
            offsets[key.group]?.removeValue(forKey: OffsetKey(topic: key.topic, partition: key.partition))
            if offsets[key.group]?.isEmpty == true { offsets.removeValue(forKey: key.group) }
        case .groupMetadata(let key, let value?):
            groups[key.group] = ClassicGroup(loading: value, groupId: key.group, nowMs: nowMs)
        case .groupMetadata(let key, nil):
            groups.removeValue(forKey: key.group)
        case .consumerGroupMetadata, .consumerGroupMemberMetadata, .consumerGroupTargetAssignmentMember,
             .consumerGroupTargetAssignmentMetadata, .consumerGroupCurrentMemberAssignment:
            if let groupId = record.consumerGroupId { replayConsumerRecord(record, groupId: groupId, nowMs: nowMs) }
        case .shareGroupMemberMetadata, .shareGroupMetadata, .shareGroupTargetAssignmentMetadata, .shareGroupTargetAssignmentMember,
             .shareGroupCurrentMemberAssignment, .shareGroupStatePartitionMetadata:
            if let groupId = record.shareGroupId { replayShareRecord(record, groupId: groupId, nowMs: nowMs) }
        case .other:
            break
        }
    }

    static func offsetRecord(group: String, key: OffsetKey, _ committed: CommittedOffset) -> CoordinatorRecord {
        .offsetCommit(group: group, topic: key.topic, partition: key.partition, value: OffsetCommitValue(
            offset: committed.offset, leaderEpoch: committed.leaderEpoch, metadata: committed.metadata,
            commitTimestamp: committed.commitTimestampMs, expireTimestamp: committed.expireTimestampMs ?? -1))
    }
}
