import KafkaProtocol
import NIOCore
import Testing
@testable import StromBroker

/// The classic group protocol driven through the pure state machine with a fake clock: every
/// input names its time, and replies come back as effects.
@Suite struct GroupStateMachineTests {
    var machine: GroupStateMachine
    var nextToken: ReplyToken = 1
    var nextMemberNumber = 1

    init() {
        var settings = GroupCoordinatorSettings()
        settings.initialRebalanceDelayMs = 100
        settings.offsetsRetentionMs = 60_000
        settings.offsetsRetentionCheckIntervalMs = 1_000
        machine = GroupStateMachine(settings: settings, nowMs: 0)
    }

    static let subscription = ByteBuffer(bytes: [0, 1, 2])

    mutating func token() -> ReplyToken {
        defer { nextToken += 1 }
        return nextToken
    }

    /// Sends a JoinGroup; returns its token and the effects.
    mutating func join(
        _ memberId: String = "", instance: String? = nil, version: Int16 = 5, protocols: [String] = ["range"],
        metadata: ByteBuffer = subscription, session: Int32 = 10_000, rebalance: Int32 = 30_000, at nowMs: Int64
    ) -> (ReplyToken, GroupEffects) {
        let token = token()
        defer { nextMemberNumber += 1 }
        let request = JoinGroupRequest(
            groupId: "g", sessionTimeoutMs: session, rebalanceTimeoutMs: rebalance, memberId: memberId, groupInstanceId: instance,
            protocolType: "consumer", protocols: protocols.map { .init(name: $0, metadata: metadata) })
        let effects = machine.join(.init(
            token: token, version: version, request: request, clientId: "client", clientHost: "/127.0.0.1",
            newMemberId: "member-\(nextMemberNumber)", nowMs: nowMs))
        return (token, effects)
    }

    mutating func sync(_ memberId: String, generation: Int32, assignments: [String: String] = [:], at nowMs: Int64) -> (ReplyToken, GroupEffects) {
        let token = token()
        let request = SyncGroupRequest(
            groupId: "g", generationId: generation, memberId: memberId,
            assignments: assignments.sorted { $0.key < $1.key }.map { .init(memberId: $0.key, assignment: ByteBuffer(string: $0.value)) })
        return (token, machine.sync(token: token, version: 3, request: request, nowMs: nowMs))
    }

    mutating func heartbeat(_ memberId: String, generation: Int32, instance: String? = nil, at nowMs: Int64) -> KafkaErrorCode {
        let token = token()
        let effects = machine.heartbeat(token: token, request: HeartbeatRequest(groupId: "g", generationId: generation, memberId: memberId, groupInstanceId: instance), nowMs: nowMs)
        guard case .heartbeat(let response) = effects.reply(for: token) else { return .unknownServerError }
        return KafkaErrorCode(rawValue: response.errorCode)
    }

    mutating func commit(_ memberId: String = "", generation: Int32 = -1, offset: Int64 = 10, metadata: String = "", at nowMs: Int64) -> (KafkaErrorCode, GroupEffects) {
        let token = token()
        let request = OffsetCommitRequest(
            groupId: "g", generationIdOrMemberEpoch: generation, memberId: memberId,
            topics: [.init(name: "t", partitions: [.init(partitionIndex: 0, committedOffset: offset, committedMetadata: metadata)])])
        let effects = machine.commitOffsets(token: token, request: request, nowMs: nowMs) { topic, partition in topic == "t" && partition < 2 }
        guard case .offsetCommit(let response) = effects.reply(for: token) else { return (.unknownServerError, effects) }
        return (KafkaErrorCode(rawValue: response.topics[0].partitions[0].errorCode), effects)
    }

    var group: ClassicGroup { machine.groups["g"]! }

    /// One member joined, synced and stable at generation 1 (at time 100).
    mutating func stableWithOneMember() -> String {
        let (_, required) = join(at: 0)
        guard case .join(let first) = required.replies.first?.reply else { return "" }
        _ = join(first.memberId, at: 0)
        _ = machine.tick(nowMs: 100)
        _ = sync(first.memberId, generation: 1, assignments: [first.memberId: "p0,p1"], at: 100)
        return first.memberId
    }

    @Test mutating func memberIdRequiredThenInitialDelayThenLeaderSync() throws {
        let (firstToken, required) = join(at: 0)
        let first = try #require(required.joinResponse(for: firstToken))
        #expect(first.errorCode == KafkaErrorCode.memberIdRequired.rawValue && first.memberId == "member-1")
        #expect(group.pendingMembers.keys.contains("member-1"))

        let (joinToken, joined) = join("member-1", at: 10)
        #expect(joined.replies.isEmpty, "the first rebalance waits group.initial.rebalance.delay.ms")
        #expect(group.state == .preparingRebalance)
        #expect(machine.tick(nowMs: 50).replies.isEmpty)

        let completed = machine.tick(nowMs: 110)
        let response = try #require(completed.joinResponse(for: joinToken))
        #expect(response.errorCode == 0 && response.generationId == 1 && response.leader == "member-1")
        #expect(response.protocolName == "range" && response.members.map(\.memberId) == ["member-1"])
        #expect(group.state == .completingRebalance)

        let (syncToken, synced) = sync("member-1", generation: 1, assignments: ["member-1": "all"], at: 120)
        #expect(synced.records.count == 1, "the assignment is stored before it is handed out")
        let assignment = try #require(synced.syncResponse(for: syncToken))
        #expect(String(buffer: assignment.assignment) == "all")
        #expect(group.state == .stable)
    }

    @Test mutating func aNewMemberRebalancesTheGroupAndFollowersWaitForTheLeader() throws {
        let leader = stableWithOneMember()
        let (newToken, joined) = join(version: 3, at: 200)  // v3: no MEMBER_ID_REQUIRED round
        #expect(joined.replies.isEmpty && group.state == .preparingRebalance)
        #expect(heartbeat(leader, generation: 1, at: 210) == .rebalanceInProgress)

        let (leaderToken, rejoined) = join(leader, at: 220)
        let leaderResponse = try #require(rejoined.joinResponse(for: leaderToken))
        let followerResponse = try #require(rejoined.joinResponse(for: newToken))
        #expect(leaderResponse.generationId == 2 && followerResponse.generationId == 2)
        #expect(leaderResponse.members.count == 2 && followerResponse.members.isEmpty)
        #expect(followerResponse.leader == leader)

        let follower = followerResponse.memberId
        let (followerSync, waiting) = sync(follower, generation: 2, at: 230)
        #expect(waiting.replies.isEmpty, "a follower's SyncGroup waits for the leader's")
        let (leaderSync, done) = sync(leader, generation: 2, assignments: [leader: "p0", follower: "p1"], at: 240)
        #expect(String(buffer: try #require(done.syncResponse(for: followerSync)).assignment) == "p1")
        #expect(String(buffer: try #require(done.syncResponse(for: leaderSync)).assignment) == "p0")
        #expect(heartbeat(follower, generation: 2, at: 250) == .none)
    }

    @Test mutating func generationsAndMembersAreFenced() {
        let member = stableWithOneMember()
        #expect(heartbeat(member, generation: 0, at: 200) == .illegalGeneration)
        #expect(heartbeat("stranger", generation: 1, at: 200) == .unknownMemberId)
        let (token, effects) = sync(member, generation: 7, at: 200)
        #expect(effects.syncResponse(for: token)?.errorCode == KafkaErrorCode.illegalGeneration.rawValue)
        #expect(commit(member, generation: 0, at: 200).0 == .illegalGeneration)
        #expect(commit("stranger", generation: 1, at: 200).0 == .unknownMemberId)
        #expect(commit(at: 200).0 == .unknownMemberId, "a group with members refuses commits from outside: the committer is no member (Kafka)")
        #expect(commit(member, generation: 1, at: 200).0 == .none)
        // Rejoining members see the rebalance; commits wait until the group settles.
        _ = join(version: 3, at: 300)
        _ = join(member, at: 300)
        #expect(group.state == .completingRebalance)
        #expect(commit(member, generation: 2, at: 310).0 == .rebalanceInProgress)
    }

    @Test mutating func aSilentMemberExpiresAndTheRestRebalance() throws {
        let leader = stableWithOneMember()
        let (_, joined) = join(version: 3, at: 200)
        _ = joined
        _ = join(leader, at: 200)
        let follower = try #require(group.orderedMembers.last?.memberId)
        _ = sync(follower, generation: 2, at: 210)
        _ = sync(leader, generation: 2, assignments: [leader: "p0", follower: "p1"], at: 210)
        // The leader keeps heartbeating; the follower falls silent.
        for time in stride(from: Int64(3_000), through: 9_000, by: 3_000) {
            #expect(heartbeat(leader, generation: 2, at: time) == .none)
            _ = machine.tick(nowMs: time)
        }
        _ = machine.tick(nowMs: 10_210)
        #expect(group.members[follower] == nil, "expired after session.timeout.ms")
        #expect(group.state == .preparingRebalance)
        #expect(heartbeat(leader, generation: 2, at: 10_300) == .rebalanceInProgress)
        let (token, rejoined) = join(leader, at: 10_400)
        #expect(rejoined.joinResponse(for: token)?.generationId == 3)
        #expect(group.members.count == 1)
    }

    @Test mutating func membersThatDoNotRejoinAreDroppedAtTheRebalanceTimeout() throws {
        let leader = stableWithOneMember()
        let (newcomerToken, _) = join(version: 3, rebalance: 5_000, at: 200)
        let newcomer = try #require(group.orderedMembers.last?.memberId)
        // The old leader keeps heartbeating but never rejoins: the join waits for it until the
        // longest rebalance timeout (30 s) and then completes without it.
        for time in stride(from: Int64(5_000), through: 30_000, by: 5_000) {
            #expect(heartbeat(leader, generation: 1, at: time) == .rebalanceInProgress)
            #expect(machine.tick(nowMs: time).replies.isEmpty)
        }
        let completed = machine.tick(nowMs: 200 + 30_000)
        #expect(completed.joinResponse(for: newcomerToken)?.generationId == 2)
        #expect(group.members[leader] == nil && group.leaderId == newcomer)
    }

    @Test mutating func leaveGroupNamesSeveralMembersAndEmptiesTheGroup() throws {
        let member = stableWithOneMember()
        let token = token()
        let effects = machine.leave(token: token, version: 3, request: LeaveGroupRequest(groupId: "g", members: [
            .init(memberId: member), .init(memberId: "stranger"),
        ]), nowMs: 200)
        guard case .leave(let response) = effects.reply(for: token) else { Issue.record("no leave reply"); return }
        #expect(response.errorCode == 0)
        #expect(response.members.map(\.errorCode) == [0, KafkaErrorCode.unknownMemberId.rawValue])
        #expect(group.state == .empty && group.generationId == 2)
        #expect(effects.records.count == 1, "the empty generation is stored")
    }

    @Test mutating func aStaticMemberComesBackWithoutARebalanceAndFencesItsOldId() throws {
        _ = join(instance: "instance-a", at: 0)
        let old = try #require(group.staticMembers["instance-a"])
        _ = machine.tick(nowMs: 100)
        _ = sync(old, generation: 1, assignments: [old: "p0"], at: 100)
        #expect(group.state == .stable)
        // A restart: the same instance id without a member id.
        let (token, effects) = join(instance: "instance-a", at: 500)
        let response = try #require(effects.joinResponse(for: token))
        #expect(response.errorCode == 0 && response.generationId == 1 && response.memberId != old)
        #expect(group.state == .stable && group.generationId == 1, "no rebalance")
        #expect(effects.records.count == 1, "the new member id is stored")
        #expect(heartbeat(old, generation: 1, instance: "instance-a", at: 600) == .fencedInstanceId)
        let (syncToken, synced) = sync(response.memberId, generation: 1, at: 600)
        #expect(String(buffer: try #require(synced.syncResponse(for: syncToken)).assignment) == "p0")
    }

    @Test mutating func offsetsCommitFetchAndValidate() {
        let (code, effects) = commit(offset: 42, metadata: "m", at: 0)
        #expect(code == .none && effects.records.count == 1)
        let fetched = machine.fetchOffsets(groupId: "g", topics: nil)
        #expect(fetched.count == 1 && fetched[0].partitions[0].1?.offset == 42 && fetched[0].partitions[0].1?.metadata == "m")
        let asked = machine.fetchOffsets(groupId: "g", topics: [(name: "t", partitions: [0, 1])])
        #expect(asked[0].partitions.map { $0.1?.offset ?? -1 } == [42, -1])
        #expect(commit(metadata: String(repeating: "x", count: 5000), at: 0).0 == .offsetMetadataTooLarge)
        let token = token()
        let unknown = machine.commitOffsets(token: token, request: OffsetCommitRequest(
            groupId: "g", generationIdOrMemberEpoch: -1,
            topics: [.init(name: "missing", partitions: [.init(partitionIndex: 0, committedOffset: 1)])]), nowMs: 0) { _, _ in false }
        guard case .offsetCommit(let response) = unknown.reply(for: token) else { Issue.record("no reply"); return }
        #expect(response.topics[0].partitions[0].errorCode == KafkaErrorCode.unknownTopicOrPartition.rawValue)
    }

    @Test mutating func recordsRebuildTheSameStateAfterARestart() throws {
        var records: [CoordinatorRecord] = []
        let (_, required) = join(at: 0)
        let memberId = try #require(required.replies.first.flatMap { if case .join(let r) = $0.reply { r.memberId } else { nil } })
        records += join(memberId, at: 0).1.records
        records += machine.tick(nowMs: 100).records
        records += sync(memberId, generation: 1, assignments: [memberId: "p0"], at: 100).1.records
        records += commit(memberId, generation: 1, offset: 7, at: 150).1.records

        var restarted = GroupStateMachine(settings: machine.settings, nowMs: 1_000)
        for record in records {
            // Through the bytes, as they would come back from the log.
            let (key, value) = try record.encoded()
            restarted.replay(try CoordinatorRecord.decode(key: key, value: value), nowMs: 1_000)
        }
        let loaded = try #require(restarted.groups["g"])
        #expect(loaded.state == .stable && loaded.generationId == 1 && loaded.leaderId == memberId)
        #expect(String(buffer: loaded.members[memberId]!.assignment) == "p0")
        #expect(restarted.fetchOffsets(groupId: "g", topics: nil)[0].partitions[0].1?.offset == 7)
        // The member must heartbeat again within its session timeout, counted from the load.
        #expect(loaded.members[memberId]!.sessionDeadlineMs == 1_000 + 10_000)
    }

    @Test mutating func deleteOnlyEmptyGroupsAndExpireOffsetsOfEmptyGroups() {
        let member = stableWithOneMember()
        _ = commit(member, generation: 1, at: 200)
        #expect(machine.deleteGroup("g").0 == .nonEmptyGroup)
        #expect(machine.deleteGroup("nobody").0 == .groupIdNotFound)
        let token = token()
        _ = machine.leave(token: token, version: 0, request: LeaveGroupRequest(groupId: "g", memberId: member), nowMs: 300)
        #expect(group.state == .empty)
        // Offsets of an empty group expire offsets.retention.minutes after it became empty.
        #expect(machine.tick(nowMs: 30_000).records.isEmpty)
        let expired = machine.tick(nowMs: 61_000)
        #expect(expired.records.count == 2, "the offset tombstone, then the group's")
        #expect(machine.groups["g"] == nil)

        _ = commit(at: 70_000)
        let (code, deleted) = machine.deleteGroup("g")
        #expect(code == .none && deleted.records.count == 2)
        #expect(machine.fetchOffsets(groupId: "g", topics: nil).isEmpty)
    }

    @Test func groupsLandOnKafkasPartitions() {
        // Java: "test".hashCode() == 3556498; "polygenelubricants".hashCode() == Integer.MIN_VALUE.
        #expect(GroupCoordinator.partition(for: "test", partitionCount: 50) == 48)
        #expect(GroupCoordinator.partition(for: "polygenelubricants", partitionCount: 50) == 0)
        #expect(GroupCoordinator.partition(for: "", partitionCount: 50) == 0)
    }
}

extension GroupEffects {
    func reply(for token: ReplyToken) -> GroupReply? { replies.first { $0.token == token }?.reply }

    func joinResponse(for token: ReplyToken) -> JoinGroupResponse? {
        if case .join(let response) = reply(for: token) { return response }
        return nil
    }

    func syncResponse(for token: ReplyToken) -> SyncGroupResponse? {
        if case .sync(let response) = reply(for: token) { return response }
        return nil
    }
}
