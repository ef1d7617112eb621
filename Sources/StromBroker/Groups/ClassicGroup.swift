import KafkaProtocol
import NIOCore

/// A parked request: the runtime keeps its continuation, the state machine only its token.
typealias ReplyToken = UInt64

/// One member of a classic (JoinGroup/SyncGroup) group.
struct ClassicGroupMember: Sendable {
    let memberId: String
    var groupInstanceId: String?
    var clientId: String
    var clientHost: String
    var rebalanceTimeoutMs: Int32
    var sessionTimeoutMs: Int32
    var protocolType: String
    /// The assignors the member supports, most preferred first, with its subscription for each.
    var protocols: [(name: String, metadata: ByteBuffer)]
    var assignment = ByteBuffer()
    /// A JoinGroup waiting for the rebalance to complete, and its request version.
    var awaitingJoin: (token: ReplyToken, version: Int16)?
    var awaitingSync: ReplyToken?
    /// When the member is dropped unless it heartbeats (or is waiting in a join or sync).
    var sessionDeadlineMs: Int64
    /// Joined during the current rebalance (Kafka's "isNew"): a new member that never rejoins is
    /// dropped at the join deadline rather than kept.
    var isNew = false

    func metadata(for protocolName: String) -> ByteBuffer {
        protocols.first { $0.name == protocolName }?.metadata ?? ByteBuffer()
    }

    func hasSameProtocols(as other: [(name: String, metadata: ByteBuffer)]) -> Bool {
        protocols.count == other.count && zip(protocols, other).allSatisfy { $0.name == $1.name && $0.metadata == $1.metadata }
    }
}

/// A classic group's state, as Kafka's group coordinator keeps it.
struct ClassicGroup: Sendable {
    enum State: String, Sendable, CaseIterable {
        case empty = "Empty"
        case preparingRebalance = "PreparingRebalance"
        case completingRebalance = "CompletingRebalance"
        case stable = "Stable"
        case dead = "Dead"
    }

    let groupId: String
    var state: State = .empty
    var stateTimestampMs: Int64
    var generationId: Int32 = 0
    var protocolType: String?
    var protocolName: String?
    var leaderId: String?
    /// Members in join order: the first becomes leader when there is none.
    private(set) var memberOrder: [String] = []
    private(set) var members: [String: ClassicGroupMember] = [:]
    /// Member ids handed out with MEMBER_ID_REQUIRED, and when they lapse unless the member joins.
    var pendingMembers: [String: Int64] = [:]
    /// group.instance.id → the member id that holds it.
    var staticMembers: [String: String] = [:]
    /// When a rebalance in progress completes even if not every member has rejoined.
    var joinDeadlineMs: Int64?
    /// Whether the join deadline is the initial delay (`group.initial.rebalance.delay.ms`), which
    /// extends while new members keep arriving, up to `initialJoinRemainingMs`.
    var isInitialJoin = false
    var initialJoinRemainingMs: Int64 = 0
    var newMemberAddedDuringInitialJoin = false

    init(groupId: String, nowMs: Int64) {
        self.groupId = groupId
        self.stateTimestampMs = nowMs
    }

    var isEmpty: Bool { members.isEmpty }
    var orderedMembers: [ClassicGroupMember] { memberOrder.compactMap { members[$0] } }

    mutating func transition(to state: State, nowMs: Int64) {
        self.state = state
        stateTimestampMs = nowMs
    }

    mutating func add(_ member: ClassicGroupMember) {
        if members.isEmpty { protocolType = member.protocolType }
        if members[member.memberId] == nil { memberOrder.append(member.memberId) }
        members[member.memberId] = member
        if let instanceId = member.groupInstanceId { staticMembers[instanceId] = member.memberId }
        if leaderId == nil { leaderId = member.memberId }
    }

    mutating func update(_ memberId: String, _ change: (inout ClassicGroupMember) -> Void) {
        guard var member = members[memberId] else { return }
        change(&member)
        members[memberId] = member
    }

    /// Removes a member; returns it. A removed leader is succeeded by the earliest member left.
    @discardableResult
    mutating func remove(_ memberId: String) -> ClassicGroupMember? {
        guard let member = members.removeValue(forKey: memberId) else { return nil }
        memberOrder.removeAll { $0 == memberId }
        if let instanceId = member.groupInstanceId, staticMembers[instanceId] == memberId {
            staticMembers.removeValue(forKey: instanceId)
        }
        if leaderId == memberId { leaderId = memberOrder.first }
        // An empty group keeps its protocol type (Kafka lists an empty consumer group as one).
        return member
    }

    /// Gives a static member's place, assignment and role to a new member id.
    mutating func replaceStaticMember(instanceId: String, oldMemberId: String, newMemberId: String) -> ClassicGroupMember? {
        guard var member = members.removeValue(forKey: oldMemberId) else { return nil }
        let old = member
        member = ClassicGroupMember(
            memberId: newMemberId, groupInstanceId: instanceId, clientId: old.clientId, clientHost: old.clientHost,
            rebalanceTimeoutMs: old.rebalanceTimeoutMs, sessionTimeoutMs: old.sessionTimeoutMs, protocolType: old.protocolType,
            protocols: old.protocols, assignment: old.assignment, sessionDeadlineMs: old.sessionDeadlineMs)
        if let index = memberOrder.firstIndex(of: oldMemberId) { memberOrder[index] = newMemberId }
        members[newMemberId] = member
        staticMembers[instanceId] = newMemberId
        if leaderId == oldMemberId { leaderId = newMemberId }
        return old
    }

    /// Whether a member with these protocols may join: the group's protocol type, and at least one
    /// assignor every member (and it) supports.
    func supports(protocolType: String, protocols: [(name: String, metadata: ByteBuffer)]) -> Bool {
        if members.isEmpty { return !protocolType.isEmpty && !protocols.isEmpty }
        guard protocolType == self.protocolType else { return false }
        let candidates = Set(protocols.map(\.name))
        return !candidateProtocols.intersection(candidates).isEmpty
    }

    /// The assignors every member supports.
    var candidateProtocols: Set<String> {
        var candidates: Set<String>?
        for member in members.values {
            let names = Set(member.protocols.map(\.name))
            candidates = candidates.map { $0.intersection(names) } ?? names
        }
        return candidates ?? []
    }

    /// Kafka's choice: among the assignors all members support, each member votes for its most
    /// preferred; most votes wins (ties go to the one the earliest member prefers).
    func selectProtocol() -> String? {
        let candidates = candidateProtocols
        var votes: [String: Int] = [:]
        for member in orderedMembers {
            if let vote = member.protocols.first(where: { candidates.contains($0.name) })?.name { votes[vote, default: 0] += 1 }
        }
        let best = votes.values.max() ?? 0
        for member in orderedMembers {
            if let vote = member.protocols.first(where: { candidates.contains($0.name) })?.name, votes[vote] == best { return vote }
        }
        return nil
    }

    var membersAwaitingJoinCount: Int { members.values.count { $0.awaitingJoin != nil } }
    var allMembersJoined: Bool { membersAwaitingJoinCount == members.count && pendingMembers.isEmpty }
    /// The longest rebalance timeout of the members: how long a rebalance may wait for rejoins.
    var rebalanceTimeoutMs: Int64 { Int64(members.values.map(\.rebalanceTimeoutMs).max() ?? 0) }

    /// The topics the members subscribe to under the chosen protocol ("consumer" groups only).
    func subscribedTopics() -> Set<String>? {
        guard protocolType == "consumer", let protocolName else { return nil }
        var topics: Set<String> = []
        for member in members.values {
            var metadata = member.metadata(for: protocolName)
            // Newer versions only add fields at the end: read what this codec knows.
            guard let version = try? metadata.readKafkaInt16(), version >= 0,
                  let subscription = try? ConsumerProtocolSubscription(
                      from: &metadata, version: min(version, ConsumerProtocolSubscription.validVersions.upperBound))
            else { return nil }
            topics.formUnion(subscription.topics)
        }
        return topics
    }
}
