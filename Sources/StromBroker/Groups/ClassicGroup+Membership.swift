import KafkaProtocol
import NIOCore

/// The classic rebalance protocol on one group, as Kafka's coordinator runs it: JoinGroup collects
/// the members (the first rebalance of an empty group waits `group.initial.rebalance.delay.ms` for
/// more), the leader's SyncGroup hands out the assignment, heartbeats keep members alive, and a
/// member that leaves or falls silent starts the next rebalance.
extension ClassicGroup {
    struct JoinInput {
        var token: ReplyToken
        var version: Int16
        var request: JoinGroupRequest
        var clientId: String
        var clientHost: String
        /// The id a member gets if it needs one (the runtime makes it: client id + UUID).
        var newMemberId: String
        var nowMs: Int64
    }

    // MARK: JoinGroup

    mutating func join(_ input: JoinInput, settings: GroupCoordinatorSettings, effects: inout GroupEffects) {
        let request = input.request
        let protocols = request.protocols.map { (name: $0.name, metadata: $0.metadata) }
        func fail(_ code: KafkaErrorCode, memberId: String = request.memberId) {
            effects.reply(input.token, .join(Self.joinError(code, memberId: memberId, version: input.version)))
        }
        guard state != .dead else { return fail(.coordinatorNotAvailable) }
        guard supports(protocolType: request.protocolType, protocols: protocols) else { return fail(.inconsistentGroupProtocol) }

        if request.memberId.isEmpty {
            guard members.count + pendingMembers.count < settings.maxGroupSize else { return fail(.groupMaxSizeReached) }
            let memberId = input.newMemberId
            if let instanceId = request.groupInstanceId {
                joinStaticMember(instanceId: instanceId, memberId: memberId, protocols: protocols, input: input, settings: settings, effects: &effects)
            } else if input.version >= 4 {
                // KIP-394: the member learns its id first and joins with it, so a client that
                // times out here leaves no member behind.
                pendingMembers[memberId] = input.nowMs + Int64(request.sessionTimeoutMs)
                fail(.memberIdRequired, memberId: memberId)
            } else {
                addMemberAndRebalance(memberId: memberId, instanceId: nil, protocols: protocols, input: input, settings: settings, effects: &effects)
            }
            return
        }

        let memberId = request.memberId
        if pendingMembers.removeValue(forKey: memberId) != nil {
            guard request.groupInstanceId == nil else { return fail(.unknownMemberId) }
            addMemberAndRebalance(memberId: memberId, instanceId: nil, protocols: protocols, input: input, settings: settings, effects: &effects)
            return
        }
        if let error = validateMember(memberId, instanceId: request.groupInstanceId) { return fail(error) }
        guard let member = members[memberId] else { return fail(.unknownMemberId) }
        switch state {
        case .preparingRebalance:
            updateMemberAndRebalance(memberId, protocols: protocols, input: input, settings: settings, effects: &effects)
        case .completingRebalance:
            if member.hasSameProtocols(as: protocols) {
                // A repeated join (the response was lost): answer with the generation again.
                refreshSession(memberId, sessionTimeoutMs: request.sessionTimeoutMs, nowMs: input.nowMs)
                effects.reply(input.token, .join(joinResponse(for: memberId, version: input.version)))
            } else {
                updateMemberAndRebalance(memberId, protocols: protocols, input: input, settings: settings, effects: &effects)
            }
        case .stable:
            if memberId == leaderId || !member.hasSameProtocols(as: protocols) {
                updateMemberAndRebalance(memberId, protocols: protocols, input: input, settings: settings, effects: &effects)
            } else {
                refreshSession(memberId, sessionTimeoutMs: request.sessionTimeoutMs, nowMs: input.nowMs)
                effects.reply(input.token, .join(joinResponse(for: memberId, version: input.version)))
            }
        case .empty, .dead:
            fail(.unknownMemberId)
        }
    }

    /// A static member (`group.instance.id`) joining without a member id: new, or coming back
    /// (a restart), in which case it takes over its old member's place and the old id is fenced.
    private mutating func joinStaticMember(
        instanceId: String, memberId: String, protocols: [(name: String, metadata: ByteBuffer)], input: JoinInput,
        settings: GroupCoordinatorSettings, effects: inout GroupEffects
    ) {
        guard let oldMemberId = staticMembers[instanceId], let old = replaceStaticMember(instanceId: instanceId, oldMemberId: oldMemberId, newMemberId: memberId) else {
            addMemberAndRebalance(memberId: memberId, instanceId: instanceId, protocols: protocols, input: input, settings: settings, effects: &effects)
            return
        }
        if let parked = old.awaitingJoin {
            effects.reply(parked.token, .join(Self.joinError(.fencedInstanceId, memberId: oldMemberId, version: parked.version)))
        }
        if let parked = old.awaitingSync { effects.reply(parked, .sync(SyncGroupResponse(errorCode: KafkaErrorCode.fencedInstanceId.rawValue))) }
        update(memberId) {
            $0.clientId = input.clientId
            $0.clientHost = input.clientHost
            $0.rebalanceTimeoutMs = input.request.rebalanceTimeoutMs
            $0.sessionTimeoutMs = input.request.sessionTimeoutMs
            $0.sessionDeadlineMs = input.nowMs + Int64(input.request.sessionTimeoutMs)
        }
        if state == .stable {
            update(memberId) { $0.protocols = protocols }
            if selectProtocol() == protocolName {
                // The group's assignor still fits: no rebalance; the member keeps its assignment
                // under the new id, which is stored so that a coordinator restart fences the old
                // one too. A returning leader (v9+) is told to skip assigning.
                effects.records.append(metadataRecord())
                effects.reply(input.token, .join(joinResponse(for: memberId, version: input.version, skipAssignment: input.version >= 9)))
                return
            }
        }
        updateMemberAndRebalance(memberId, protocols: protocols, input: input, settings: settings, effects: &effects)
    }

    private mutating func addMemberAndRebalance(
        memberId: String, instanceId: String?, protocols: [(name: String, metadata: ByteBuffer)], input: JoinInput,
        settings: GroupCoordinatorSettings, effects: inout GroupEffects
    ) {
        let request = input.request
        var member = ClassicGroupMember(
            memberId: memberId, groupInstanceId: instanceId, clientId: input.clientId, clientHost: input.clientHost,
            rebalanceTimeoutMs: request.rebalanceTimeoutMs, sessionTimeoutMs: request.sessionTimeoutMs,
            protocolType: request.protocolType, protocols: protocols, sessionDeadlineMs: input.nowMs + Int64(request.sessionTimeoutMs))
        member.awaitingJoin = (input.token, input.version)
        member.isNew = true
        if state == .preparingRebalance, isInitialJoin { newMemberAddedDuringInitialJoin = true }
        add(member)
        maybePrepareRebalance(nowMs: input.nowMs, settings: settings, effects: &effects)
        tryCompleteJoin(nowMs: input.nowMs, settings: settings, effects: &effects)
    }

    private mutating func updateMemberAndRebalance(
        _ memberId: String, protocols: [(name: String, metadata: ByteBuffer)], input: JoinInput,
        settings: GroupCoordinatorSettings, effects: inout GroupEffects
    ) {
        var replaced: (token: ReplyToken, version: Int16)?
        update(memberId) {
            replaced = $0.awaitingJoin
            $0.protocols = protocols
            $0.rebalanceTimeoutMs = input.request.rebalanceTimeoutMs
            $0.sessionTimeoutMs = input.request.sessionTimeoutMs
            $0.sessionDeadlineMs = input.nowMs + Int64(input.request.sessionTimeoutMs)
            $0.awaitingJoin = (input.token, input.version)
        }
        if let replaced {
            effects.reply(replaced.token, .join(Self.joinError(.rebalanceInProgress, memberId: memberId, version: replaced.version)))
        }
        maybePrepareRebalance(nowMs: input.nowMs, settings: settings, effects: &effects)
        tryCompleteJoin(nowMs: input.nowMs, settings: settings, effects: &effects)
    }

    // MARK: Rebalance

    mutating func maybePrepareRebalance(nowMs: Int64, settings: GroupCoordinatorSettings, effects: inout GroupEffects) {
        guard [.stable, .completingRebalance, .empty].contains(state) else { return }
        if state == .completingRebalance {
            // Assignments of the old generation will not come: those waiting must rejoin.
            for memberId in memberOrder {
                guard let parked = members[memberId]?.awaitingSync else { continue }
                effects.reply(parked, .sync(SyncGroupResponse(errorCode: KafkaErrorCode.rebalanceInProgress.rawValue)))
                update(memberId) { $0.awaitingSync = nil }
            }
        }
        let wasEmpty = state == .empty
        transition(to: .preparingRebalance, nowMs: nowMs)
        if wasEmpty {
            let delay = min(settings.initialRebalanceDelayMs, rebalanceTimeoutMs)
            isInitialJoin = true
            joinDeadlineMs = nowMs + delay
            initialJoinRemainingMs = max(rebalanceTimeoutMs - delay, 0)
            newMemberAddedDuringInitialJoin = false
        } else {
            isInitialJoin = false
            joinDeadlineMs = nowMs + rebalanceTimeoutMs
        }
    }

    /// Completes the join phase when every member has rejoined, or at the deadline. The initial
    /// delay always runs out, and starts again (up to the rebalance timeout) while members arrive.
    mutating func tryCompleteJoin(nowMs: Int64, settings: GroupCoordinatorSettings, effects: inout GroupEffects) {
        guard state == .preparingRebalance, let deadline = joinDeadlineMs else { return }
        if isInitialJoin {
            guard nowMs >= deadline else { return }
            if newMemberAddedDuringInitialJoin, initialJoinRemainingMs > 0 {
                let delay = min(settings.initialRebalanceDelayMs, initialJoinRemainingMs)
                initialJoinRemainingMs -= delay
                newMemberAddedDuringInitialJoin = false
                joinDeadlineMs = nowMs + delay
                return
            }
        } else {
            guard allMembersJoined || nowMs >= deadline else { return }
        }
        completeJoin(nowMs: nowMs, effects: &effects)
    }

    private mutating func completeJoin(nowMs: Int64, effects: inout GroupEffects) {
        // Members that did not rejoin in time are out of the next generation.
        for member in orderedMembers where member.awaitingJoin == nil { remove(member.memberId) }
        joinDeadlineMs = nil
        isInitialJoin = false
        generationId &+= 1
        if members.isEmpty {
            protocolName = nil
            transition(to: .empty, nowMs: nowMs)
            effects.records.append(metadataRecord())
            return
        }
        protocolName = selectProtocol()
        transition(to: .completingRebalance, nowMs: nowMs)
        for member in orderedMembers {
            guard let parked = member.awaitingJoin else { continue }
            effects.reply(parked.token, .join(joinResponse(for: member.memberId, version: parked.version)))
            update(member.memberId) {
                $0.awaitingJoin = nil
                $0.isNew = false
                $0.sessionDeadlineMs = nowMs + Int64($0.sessionTimeoutMs)
            }
        }
    }

    // MARK: SyncGroup

    mutating func sync(
        token: ReplyToken, version: Int16, request: SyncGroupRequest, nowMs: Int64, effects: inout GroupEffects
    ) {
        func fail(_ code: KafkaErrorCode) {
            effects.reply(token, .sync(SyncGroupResponse(errorCode: code.rawValue, protocolType: protocolType, protocolName: protocolName)))
        }
        guard state != .dead else { return fail(.coordinatorNotAvailable) }
        if let error = validateMember(request.memberId, instanceId: request.groupInstanceId) { return fail(error) }
        guard members[request.memberId] != nil else { return fail(.unknownMemberId) }
        guard request.generationId == generationId else { return fail(.illegalGeneration) }
        if let type = request.protocolType, type != protocolType { return fail(.inconsistentGroupProtocol) }
        if let name = request.protocolName, name != protocolName { return fail(.inconsistentGroupProtocol) }
        switch state {
        case .empty, .dead:
            fail(.unknownMemberId)
        case .preparingRebalance:
            fail(.rebalanceInProgress)
        case .stable:
            refreshSession(request.memberId, nowMs: nowMs)
            effects.reply(token, .sync(syncResponse(for: request.memberId)))
        case .completingRebalance:
            var replaced: ReplyToken?
            update(request.memberId) {
                replaced = $0.awaitingSync
                $0.awaitingSync = token
                $0.sessionDeadlineMs = nowMs + Int64($0.sessionTimeoutMs)
            }
            if let replaced { effects.reply(replaced, .sync(SyncGroupResponse(errorCode: KafkaErrorCode.rebalanceInProgress.rawValue))) }
            guard request.memberId == leaderId else { return }
            let assignments = Dictionary(request.assignments.map { ($0.memberId, $0.assignment) }, uniquingKeysWith: { first, _ in first })
            for memberId in memberOrder {
                update(memberId) { $0.assignment = assignments[memberId] ?? ByteBuffer() }
            }
            transition(to: .stable, nowMs: nowMs)
            // The assignment is stored before anyone learns it (the runtime sends these replies
            // once the record is durable).
            effects.records.append(metadataRecord())
            for memberId in memberOrder {
                guard let parked = members[memberId]?.awaitingSync else { continue }
                effects.reply(parked, .sync(syncResponse(for: memberId)))
                update(memberId) { $0.awaitingSync = nil }
            }
        }
    }

    // MARK: Heartbeat and LeaveGroup

    mutating func heartbeat(request: HeartbeatRequest, nowMs: Int64) -> KafkaErrorCode {
        guard state != .dead else { return .coordinatorNotAvailable }
        if let error = validateMember(request.memberId, instanceId: request.groupInstanceId) { return error }
        guard members[request.memberId] != nil, state != .empty else { return .unknownMemberId }
        switch state {
        case .preparingRebalance:
            refreshSession(request.memberId, nowMs: nowMs)
            return .rebalanceInProgress
        case .completingRebalance, .stable:
            guard request.generationId == generationId else { return .illegalGeneration }
            refreshSession(request.memberId, nowMs: nowMs)
            return .none
        case .empty, .dead:
            return .unknownMemberId
        }
    }

    /// One leaving member (LeaveGroup v3+ names several; a static one may be named by instance id
    /// alone, as admin clients do).
    mutating func leave(
        memberId: String, instanceId: String?, nowMs: Int64, settings: GroupCoordinatorSettings, effects: inout GroupEffects
    ) -> KafkaErrorCode {
        if let instanceId {
            guard let holder = staticMembers[instanceId] else { return .unknownMemberId }
            if !memberId.isEmpty, holder != memberId { return .fencedInstanceId }
            removeMemberAndUpdateGroup(holder, nowMs: nowMs, settings: settings, effects: &effects)
            return .none
        }
        if pendingMembers.removeValue(forKey: memberId) != nil {
            tryCompleteJoin(nowMs: nowMs, settings: settings, effects: &effects)
            return .none
        }
        guard members[memberId] != nil else { return .unknownMemberId }
        removeMemberAndUpdateGroup(memberId, nowMs: nowMs, settings: settings, effects: &effects)
        return .none
    }

    mutating func removeMemberAndUpdateGroup(
        _ memberId: String, nowMs: Int64, settings: GroupCoordinatorSettings, effects: inout GroupEffects
    ) {
        guard let member = remove(memberId) else { return }
        if let parked = member.awaitingJoin {
            effects.reply(parked.token, .join(Self.joinError(.unknownMemberId, memberId: memberId, version: parked.version)))
        }
        if let parked = member.awaitingSync { effects.reply(parked, .sync(SyncGroupResponse(errorCode: KafkaErrorCode.unknownMemberId.rawValue))) }
        switch state {
        case .stable, .completingRebalance:
            maybePrepareRebalance(nowMs: nowMs, settings: settings, effects: &effects)
            tryCompleteJoin(nowMs: nowMs, settings: settings, effects: &effects)
        case .preparingRebalance:
            tryCompleteJoin(nowMs: nowMs, settings: settings, effects: &effects)
        case .empty, .dead:
            break
        }
    }

    // MARK: Timers

    /// Drops members whose session ran out (members parked in a join or sync are alive: they are
    /// waiting for us), lapses unused member ids, and ends a join phase at its deadline.
    mutating func expire(nowMs: Int64, settings: GroupCoordinatorSettings, effects: inout GroupEffects) {
        for (memberId, deadline) in pendingMembers where deadline <= nowMs {
            pendingMembers.removeValue(forKey: memberId)
        }
        for member in orderedMembers where member.awaitingJoin == nil && member.awaitingSync == nil && member.sessionDeadlineMs <= nowMs {
            removeMemberAndUpdateGroup(member.memberId, nowMs: nowMs, settings: settings, effects: &effects)
        }
        tryCompleteJoin(nowMs: nowMs, settings: settings, effects: &effects)
    }

    /// The earliest time ``expire(nowMs:settings:effects:)`` has something to do.
    var nextDeadlineMs: Int64? {
        var deadlines = Array(pendingMembers.values)
        deadlines += members.values.filter { $0.awaitingJoin == nil && $0.awaitingSync == nil }.map(\.sessionDeadlineMs)
        if state == .preparingRebalance, let joinDeadlineMs { deadlines.append(joinDeadlineMs) }
        return deadlines.min()
    }

    // MARK: Helpers

    /// FENCED_INSTANCE_ID when the instance id belongs to another member now.
    func validateMember(_ memberId: String, instanceId: String?) -> KafkaErrorCode? {
        if let instanceId, let holder = staticMembers[instanceId], holder != memberId { return .fencedInstanceId }
        return nil
    }

    mutating func refreshSession(_ memberId: String, sessionTimeoutMs: Int32? = nil, nowMs: Int64) {
        update(memberId) {
            if let sessionTimeoutMs { $0.sessionTimeoutMs = sessionTimeoutMs }
            $0.sessionDeadlineMs = nowMs + Int64($0.sessionTimeoutMs)
        }
    }

    func joinResponse(for memberId: String, version: Int16, skipAssignment: Bool = false) -> JoinGroupResponse {
        let isLeader = memberId == leaderId
        let chosen = protocolName ?? ""
        return JoinGroupResponse(
            errorCode: 0, generationId: generationId, protocolType: protocolType,
            protocolName: protocolName ?? (version >= 7 ? nil : ""), leader: leaderId ?? "", skipAssignment: isLeader && skipAssignment,
            memberId: memberId,
            members: isLeader
                ? orderedMembers.map { .init(memberId: $0.memberId, groupInstanceId: $0.groupInstanceId, metadata: $0.metadata(for: chosen)) }
                : [])
    }

    static func joinError(_ code: KafkaErrorCode, memberId: String, version: Int16) -> JoinGroupResponse {
        JoinGroupResponse(errorCode: code.rawValue, generationId: -1, protocolName: version >= 7 ? nil : "", memberId: memberId)
    }

    func syncResponse(for memberId: String) -> SyncGroupResponse {
        SyncGroupResponse(errorCode: 0, protocolType: protocolType, protocolName: protocolName, assignment: members[memberId]?.assignment ?? ByteBuffer())
    }

    /// The group as `__consumer_offsets` stores it (Kafka's GroupMetadataValue).
    func metadataRecord() -> CoordinatorRecord {
        let chosen = protocolName ?? ""
        return .groupMetadata(group: groupId, value: GroupMetadataValue(
            protocolType: protocolType ?? "", generation: generationId, protocol: protocolName, leader: leaderId,
            currentStateTimestamp: stateTimestampMs,
            members: orderedMembers.map {
                .init(
                    memberId: $0.memberId, groupInstanceId: $0.groupInstanceId, clientId: $0.clientId, clientHost: $0.clientHost,
                    rebalanceTimeout: $0.rebalanceTimeoutMs, sessionTimeout: $0.sessionTimeoutMs,
                    subscription: $0.metadata(for: chosen), assignment: $0.assignment)
            }))
    }

    /// Rebuilds a group from its stored metadata: members come back Stable and must heartbeat
    /// within their session timeout from now.
    init(loading value: GroupMetadataValue, groupId: String, nowMs: Int64) {
        self.init(groupId: groupId, nowMs: value.currentStateTimestamp >= 0 ? value.currentStateTimestamp : nowMs)
        generationId = value.generation
        protocolName = value.protocol
        for stored in value.members {
            add(ClassicGroupMember(
                memberId: stored.memberId, groupInstanceId: stored.groupInstanceId, clientId: stored.clientId,
                clientHost: stored.clientHost, rebalanceTimeoutMs: stored.rebalanceTimeout, sessionTimeoutMs: stored.sessionTimeout,
                protocolType: value.protocolType, protocols: [(name: value.protocol ?? "", metadata: stored.subscription)],
                assignment: stored.assignment, sessionDeadlineMs: nowMs + Int64(stored.sessionTimeout)))
        }
        protocolType = value.protocolType.isEmpty ? nil : value.protocolType
        leaderId = value.leader ?? memberOrder.first
        state = members.isEmpty ? .empty : .stable
    }
}
