import KafkaProtocol
import NIOCore
import Testing
@testable import StromBroker

/// KIP-848 consumer groups through the pure state machine: epochs, server-side assignors, and
/// reconciliation that revokes before it assigns.
@Suite struct ConsumerGroupTests {
    var machine = GroupStateMachine(settings: GroupCoordinatorSettings(), nowMs: 0)
    static let orders = KafkaUUID(high: 7, low: 1)
    static let catalog = TopicCatalog([.init(id: orders, name: "orders", partitionCount: 4)])

    /// Every record the heartbeats wrote, in order.
    var written: [CoordinatorRecord] = []

    mutating func heartbeat(
        _ memberId: String, epoch: Int32, topics: [String]? = nil, owned: [Int32]? = nil, assignor: String? = nil, at nowMs: Int64 = 0,
        catalog: TopicCatalog = catalog
    ) -> ConsumerGroupHeartbeatResponse {
        let (response, effects) = machine.consumerHeartbeat(.init(
            request: ConsumerGroupHeartbeatRequest(
                groupId: "g", memberId: memberId, memberEpoch: epoch, rebalanceTimeoutMs: 30_000, subscribedTopicNames: topics,
                serverAssignor: assignor, topicPartitions: owned.map { [.init(topicId: Self.orders, partitions: $0)] }),
            version: 1, clientId: "client", clientHost: "/127.0.0.1", newMemberId: "generated", topics: catalog, nowMs: nowMs))
        written += effects.records
        return response
    }

    mutating func staticHeartbeat(_ memberId: String, epoch: Int32, instance: String, at nowMs: Int64 = 0) -> ConsumerGroupHeartbeatResponse {
        let (response, effects) = machine.consumerHeartbeat(.init(
            request: ConsumerGroupHeartbeatRequest(
                groupId: "g", memberId: memberId, memberEpoch: epoch, instanceId: instance, rebalanceTimeoutMs: 30_000,
                subscribedTopicNames: epoch == 0 ? ["orders"] : nil, topicPartitions: epoch == 0 ? [] : nil),
            version: 1, clientId: "client", clientHost: "/127.0.0.1", newMemberId: "generated-\(memberId)", topics: Self.catalog, nowMs: nowMs))
        written += effects.records
        return response
    }

    static func partitions(_ response: ConsumerGroupHeartbeatResponse) -> [Int32]? {
        response.assignment.map { $0.topicPartitions.flatMap(\.partitions).sorted() }
    }

    @Test mutating func theFirstMemberGetsEveryPartition() throws {
        let joined = heartbeat("a", epoch: 0, topics: ["orders"])
        #expect(joined.errorCode == 0 && joined.memberId == "a")
        #expect(Self.partitions(joined) == [0, 1, 2, 3])
        #expect(joined.memberEpoch == machine.consumerGroups["g"]!.groupEpoch && joined.memberEpoch > 0)
        #expect(joined.heartbeatIntervalMs == 5_000)
        let steady = heartbeat("a", epoch: joined.memberEpoch, owned: [0, 1, 2, 3])
        #expect(steady.errorCode == 0 && steady.assignment == nil, "nothing changed: no assignment resent")
        #expect(machine.consumerGroups["g"]!.state == .stable)
    }

    @Test mutating func aPartitionIsRevokedBeforeItIsAssignedElsewhere() throws {
        let first = heartbeat("a", epoch: 0, topics: ["orders"])
        _ = heartbeat("a", epoch: first.memberEpoch, owned: [0, 1, 2, 3])

        let second = heartbeat("b", epoch: 0, topics: ["orders"])
        #expect(second.errorCode == 0)
        #expect(Self.partitions(second) == [], "a still owns everything: nothing is free for b yet")
        #expect(machine.consumerGroups["g"]!.state == .reconciling)

        // a is told to give two partitions back; its epoch waits until it has.
        let revoke = heartbeat("a", epoch: first.memberEpoch, owned: [0, 1, 2, 3])
        let kept = try #require(Self.partitions(revoke))
        #expect(kept.count == 2 && revoke.memberEpoch == first.memberEpoch)
        #expect(heartbeat("b", epoch: second.memberEpoch, owned: []).assignment == nil, "still nothing free")

        let acknowledged = heartbeat("a", epoch: first.memberEpoch, owned: kept)
        #expect(acknowledged.memberEpoch == second.memberEpoch, "a reaches the new epoch once it revoked")
        let granted = heartbeat("b", epoch: second.memberEpoch, owned: [])
        let given = try #require(Self.partitions(granted))
        #expect(Set(given).union(kept) == [0, 1, 2, 3] && Set(given).isDisjoint(with: kept))
        _ = heartbeat("b", epoch: second.memberEpoch, owned: given)
        #expect(machine.consumerGroups["g"]!.state == .stable)
    }

    @Test mutating func rangeAssignsContiguousPartitions() throws {
        let five = TopicCatalog([.init(id: Self.orders, name: "orders", partitionCount: 5)])
        let a = heartbeat("a", epoch: 0, topics: ["orders"], assignor: "range", catalog: five)
        _ = heartbeat("a", epoch: a.memberEpoch, owned: Self.partitions(a), catalog: five)
        _ = heartbeat("b", epoch: 0, topics: ["orders"], assignor: "range", catalog: five)
        let target = machine.consumerGroups["g"]!.targetAssignment
        #expect(target["a"]?[Self.orders] == [0, 1, 2] && target["b"]?[Self.orders] == [3, 4])
        #expect(machine.consumerGroups["g"]!.assignorName == "range")
    }

    @Test mutating func epochsAndMembersAreFencedAndLeavingRebalances() {
        let a = heartbeat("a", epoch: 0, topics: ["orders"])
        #expect(heartbeat("a", epoch: a.memberEpoch + 5, owned: []).errorCode == KafkaErrorCode.fencedMemberEpoch.rawValue)
        #expect(heartbeat("stranger", epoch: 3, owned: []).errorCode == KafkaErrorCode.unknownMemberId.rawValue)
        #expect(heartbeat("c", epoch: 0, topics: ["orders"], assignor: "fancy").errorCode == KafkaErrorCode.unsupportedAssignor.rawValue)
        let epochBefore = machine.consumerGroups["g"]!.groupEpoch
        let left = heartbeat("a", epoch: -1)
        #expect(left.errorCode == 0 && left.memberEpoch == -1)
        #expect(machine.consumerGroups["g"]!.members.isEmpty && machine.consumerGroups["g"]!.groupEpoch > epochBefore)
    }

    @Test mutating func silentMembersExpireAfterTheSessionTimeout() {
        _ = heartbeat("a", epoch: 0, topics: ["orders"], at: 0)
        _ = machine.tick(nowMs: 44_999)
        #expect(machine.consumerGroups["g"]!.members["a"] != nil)
        _ = machine.tick(nowMs: 45_000)
        #expect(machine.consumerGroups["g"]!.members.isEmpty)
    }

    @Test mutating func offsetCommitsNeedTheMembersCurrentEpoch() {
        let a = heartbeat("a", epoch: 0, topics: ["orders"])
        func commit(_ memberId: String, _ epoch: Int32) -> Int16 {
            let effects = machine.commitOffsets(token: 1, request: OffsetCommitRequest(
                groupId: "g", generationIdOrMemberEpoch: epoch, memberId: memberId,
                topics: [.init(name: "orders", partitions: [.init(partitionIndex: 0, committedOffset: 5)])]), nowMs: 0) { _, _ in true }
            guard case .offsetCommit(let response) = effects.replies.first?.reply else { return -99 }
            return response.topics[0].partitions[0].errorCode
        }
        #expect(commit("a", a.memberEpoch) == 0)
        #expect(commit("a", a.memberEpoch - 1) == KafkaErrorCode.staleMemberEpoch.rawValue)
        #expect(commit("nobody", 1) == KafkaErrorCode.unknownMemberId.rawValue)
        #expect(commit("", -1) == KafkaErrorCode.unknownMemberId.rawValue, "not while the group has members")
        #expect(machine.fetchOffsets(groupId: "g", topics: nil).first?.partitions.first?.1?.offset == 5)
    }

    @Test mutating func theGroupIsStoredWithKafkasRecordsAndRebuiltFromThem() throws {
        let first = heartbeat("a", epoch: 0, topics: ["orders"])
        _ = heartbeat("a", epoch: first.memberEpoch, owned: [0, 1, 2, 3])
        let second = heartbeat("b", epoch: 0, topics: ["orders"])
        let revoke = heartbeat("a", epoch: first.memberEpoch, owned: [0, 1, 2, 3])
        #expect(!written.isEmpty)
        let quiet = written.count
        _ = heartbeat("b", epoch: second.memberEpoch, owned: [])
        #expect(written.count == quiet, "a heartbeat that changes nothing writes nothing")

        var restarted = GroupStateMachine(settings: machine.settings, nowMs: 1_000)
        for record in written {
            let (key, value) = try record.encoded()
            restarted.replay(try CoordinatorRecord.decode(key: key, value: value), nowMs: 1_000)
        }
        let original = try #require(machine.consumerGroups["g"])
        let loaded = try #require(restarted.consumerGroups["g"])
        #expect(loaded.groupEpoch == original.groupEpoch && loaded.targetAssignmentEpoch == original.targetAssignmentEpoch)
        #expect(loaded.targetAssignment == original.targetAssignment)
        for memberId in ["a", "b"] {
            let (was, now) = (try #require(original.members[memberId]), try #require(loaded.members[memberId]))
            #expect(now.memberEpoch == was.memberEpoch && now.state == was.state && now.assigned == was.assigned)
            #expect(now.pendingRevocation == was.pendingRevocation && now.subscribedTopicNames == was.subscribedTopicNames)
        }
        #expect(Self.partitions(revoke)?.count == 2 && loaded.members["a"]!.state == .unrevokedPartitions)

        // A member leaving writes null values for its records.
        let beforeLeave = written.count
        _ = heartbeat("b", epoch: -1)
        let tombstones = written[beforeLeave...].filter { (try? $0.encoded().value) == .some(nil) }
        #expect(tombstones.count == 3, "member metadata, target assignment and current assignment")
    }

    @Test mutating func aGroupIdIsClassicOrConsumerNotBoth() {
        _ = heartbeat("a", epoch: 0, topics: ["orders"])
        let effects = machine.join(.init(
            token: 1, version: 5,
            request: JoinGroupRequest(groupId: "g", sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: "x", protocolType: "consumer",
                                      protocols: [.init(name: "range", metadata: ByteBuffer())]),
            clientId: "c", clientHost: "/127.0.0.1", newMemberId: "m", nowMs: 0))
        guard case .join(let response) = effects.replies.first?.reply else { Issue.record("no reply"); return }
        #expect(response.errorCode == KafkaErrorCode.inconsistentGroupProtocol.rawValue)
        #expect(machine.listGroups(statesFilter: [], typesFilter: ["consumer"]).map(\.groupId) == ["g"])
        #expect(machine.listGroups(statesFilter: [], typesFilter: ["classic"]).isEmpty)
        #expect(machine.describeConsumerGroup("other").errorCode == KafkaErrorCode.groupIdNotFound.rawValue)
    }

    @Test mutating func aStaticMembersInstanceIdIsItsOwnUntilItLeaves() throws {
        let first = staticHeartbeat("a", epoch: 0, instance: "i-1")
        #expect(first.errorCode == 0 && Self.partitions(first) == [0, 1, 2, 3])
        let intruder = staticHeartbeat("b", epoch: 0, instance: "i-1")
        #expect(intruder.errorCode == KafkaErrorCode.unreleasedInstanceId.rawValue, "the id belongs to a member still in the group")
        #expect(machine.consumerGroups["g"]!.members.keys.sorted() == ["a"])

        let left = staticHeartbeat("a", epoch: -2, instance: "i-1")
        #expect(left.errorCode == 0 && left.memberEpoch == -2)
        #expect(machine.consumerGroups["g"]!.members["a"]?.memberEpoch == -2, "a static leave keeps the member and its partitions")
        #expect(machine.consumerGroups["g"]!.members["a"]?.assigned.partitionCount == 4)

        let back = staticHeartbeat("c", epoch: 0, instance: "i-1")
        #expect(back.errorCode == 0 && back.memberEpoch == first.memberEpoch, "the same instance takes its place back")
        #expect(machine.consumerGroups["g"]!.members.keys.sorted() == ["c"])
        #expect(machine.validateOffsetFetch(groupId: "g", memberId: "c", memberEpoch: first.memberEpoch) == nil)
        #expect(machine.validateOffsetFetch(groupId: "g", memberId: "c", memberEpoch: first.memberEpoch - 1) == .staleMemberEpoch)
        #expect(machine.validateOffsetFetch(groupId: "g", memberId: "a", memberEpoch: first.memberEpoch) == .unknownMemberId)
        #expect(machine.validateOffsetFetch(groupId: "g", memberId: nil, memberEpoch: -1) == nil, "an admin names no member")
        #expect(machine.validateOffsetFetch(groupId: "other", memberId: "x", memberEpoch: 3) == nil, "no KIP-848 group")
    }

    @Test mutating func aStaticMemberThatLeftIsGoneOnceItsSessionEnds() throws {
        _ = staticHeartbeat("a", epoch: 0, instance: "i-1")
        _ = staticHeartbeat("a", epoch: -2, instance: "i-1")
        var effects = GroupEffects()
        machine.expireConsumerMembers(nowMs: Int64(GroupCoordinatorSettings().consumerSessionTimeoutMs) + 1, effects: &effects)
        #expect(machine.consumerGroups["g"]!.members.isEmpty)
        #expect(staticHeartbeat("b", epoch: 0, instance: "i-1", at: 100_000).errorCode == 0)
    }
}
