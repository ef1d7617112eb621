import KafkaProtocol
import Testing
@testable import StromBroker

/// Share-group membership in the group state machine (ShareGroupHeartbeat, the simple assignor,
/// session expiry, records and loading, one namespace with other groups), share sessions, and the
/// group configs' checks — without sockets, on a fake clock.
@Suite struct ShareGroupTests {
    let orders = TopicCatalog.Topic(id: KafkaUUID(high: 1, low: 1), name: "orders", partitionCount: 2)
    let audit = TopicCatalog.Topic(id: KafkaUUID(high: 2, low: 2), name: "audit", partitionCount: 1)
    var topics: TopicCatalog { TopicCatalog([orders, audit]) }
    let settings = GroupCoordinatorSettings()

    func heartbeat(
        _ machine: inout GroupStateMachine, member: String, epoch: Int32, topics subscribed: [String]? = nil, nowMs: Int64 = 0
    ) -> (ShareGroupHeartbeatResponse, [CoordinatorRecord]) {
        let (response, effects) = machine.shareHeartbeat(.init(
            request: ShareGroupHeartbeatRequest(groupId: "queue", memberId: member, memberEpoch: epoch, subscribedTopicNames: subscribed),
            clientId: "client", clientHost: "/127.0.0.1", topics: topics, sessionTimeoutMs: 45_000, heartbeatIntervalMs: 5_000, nowMs: nowMs))
        return (response, effects.records)
    }

    func assigned(_ response: ShareGroupHeartbeatResponse) -> [KafkaUUID: [Int32]]? {
        response.assignment.map { Dictionary(uniqueKeysWithValues: $0.topicPartitions.map { ($0.topicId, $0.partitions) }) }
    }

    @Test func membersJoinShareThePartitionsAndLeave() {
        var machine = GroupStateMachine(settings: settings, nowMs: 0)
        let (first, records) = heartbeat(&machine, member: "a", epoch: 0, topics: ["orders"])
        #expect(first.errorCode == 0 && first.memberId == "a" && first.memberEpoch == 1 && first.heartbeatIntervalMs == 5_000)
        #expect(assigned(first) == [orders.id: [0, 1]])
        #expect(!records.isEmpty, "the join is stored")
        let (second, _) = heartbeat(&machine, member: "b", epoch: 0, topics: ["orders"])
        #expect(assigned(second) == [orders.id: [1]])
        // A third member on a 2-partition topic shares a partition with another.
        let (third, _) = heartbeat(&machine, member: "c", epoch: 0, topics: ["orders"])
        #expect(assigned(third) == [orders.id: [0]])
        // "a" learns its smaller assignment at its next heartbeat; then nothing changes.
        let (again, _) = heartbeat(&machine, member: "a", epoch: first.memberEpoch)
        #expect(assigned(again) == [orders.id: [0]] && again.memberEpoch == third.memberEpoch)
        let (quiet, quietRecords) = heartbeat(&machine, member: "a", epoch: again.memberEpoch)
        #expect(quiet.assignment == nil && quietRecords.isEmpty)
        let (stale, _) = heartbeat(&machine, member: "a", epoch: first.memberEpoch)
        #expect(stale.errorCode == KafkaErrorCode.fencedMemberEpoch.rawValue)
        let (left, _) = heartbeat(&machine, member: "c", epoch: -1)
        #expect(left.errorCode == 0 && left.memberEpoch == -1)
        #expect(machine.describeShareGroup("queue").members.map(\.memberId) == ["a", "b"])
        #expect(heartbeat(&machine, member: "", epoch: 0, topics: ["orders"]).0.errorCode == KafkaErrorCode.invalidRequest.rawValue)
        #expect(heartbeat(&machine, member: "z", epoch: 3).0.errorCode == KafkaErrorCode.unknownMemberId.rawValue)
    }

    @Test func theSimpleAssignorCoversEveryPartitionAndEveryMember() {
        for memberCount in 1...7 {
            for partitionCount in 1...7 {
                let topic = TopicCatalog.Topic(id: KafkaUUID(high: 9, low: UInt64(partitionCount)), name: "t", partitionCount: Int32(partitionCount))
                let members = (0..<memberCount).map { (memberId: "m\($0)", topics: Set(["t"])) }
                let assignment = ShareGroup.simpleAssignment(members: members, topics: ["t": topic])
                let covered = assignment.values.reduce(into: Set<Int32>()) { $0.formUnion($1[topic.id] ?? []) }
                #expect(covered == Set(0..<Int32(partitionCount)), "\(memberCount) members, \(partitionCount) partitions")
                let counts = assignment.values.map { $0[topic.id]?.count ?? 0 }
                #expect(counts.min()! >= 1 && counts.max()! - counts.min()! <= 1, "balanced: \(counts)")
            }
        }
    }

    @Test func aSilentMemberExpiresAndAReloadedGroupIsTheSame() {
        var machine = GroupStateMachine(settings: settings, nowMs: 0)
        var log: [CoordinatorRecord] = []
        log += heartbeat(&machine, member: "a", epoch: 0, topics: ["orders", "audit"]).1
        log += heartbeat(&machine, member: "b", epoch: 0, topics: ["orders"], nowMs: 40_000).1
        #expect(machine.nextDeadlineMs == 45_000)
        log += machine.tick(nowMs: 45_000).records
        #expect(machine.describeShareGroup("queue").members.map(\.memberId) == ["b"])
        var loaded = GroupStateMachine(settings: settings, nowMs: 50_000)
        for record in log {
            let (key, value) = try! record.encoded()
            loaded.replay(try! CoordinatorRecord.decode(key: key, value: value), nowMs: 50_000)
        }
        var reloaded = loaded.describeShareGroup("queue")
        var live = machine.describeShareGroup("queue")
        reloaded.members = reloaded.members.map { var member = $0; member.assignment.topicPartitions = member.assignment.topicPartitions.map { var topic = $0; topic.topicName = ""; return topic }; return member }
        live.members = live.members.map { var member = $0; member.assignment.topicPartitions = member.assignment.topicPartitions.map { var topic = $0; topic.topicName = ""; return topic }; return member }
        #expect(reloaded == live)
        // Deleting needs an empty group, and removes every record.
        #expect(loaded.deleteGroup("queue").0 == .nonEmptyGroup)
        _ = heartbeat(&loaded, member: "b", epoch: -1)
        let (code, effects) = loaded.deleteGroup("queue")
        #expect(code == .none && effects.records.allSatisfy { (try? $0.encoded().value) == .some(nil) })
    }

    @Test func groupIdsAreOneNamespace() {
        var machine = GroupStateMachine(settings: settings, nowMs: 0)
        _ = heartbeat(&machine, member: "a", epoch: 0, topics: ["orders"])
        let (consumer, _) = machine.consumerHeartbeat(.init(
            request: ConsumerGroupHeartbeatRequest(groupId: "queue", memberId: "x", memberEpoch: 0, rebalanceTimeoutMs: 1000, subscribedTopicNames: ["orders"]),
            version: 1, clientId: "c", clientHost: "h", newMemberId: "x", topics: topics, nowMs: 0))
        #expect(consumer.errorCode == KafkaErrorCode.groupIdNotFound.rawValue)
        #expect(machine.listGroups(statesFilter: [], typesFilter: ["share"]).map(\.groupId) == ["queue"])
        #expect(machine.listGroups(statesFilter: [], typesFilter: ["consumer"]).isEmpty)
        _ = machine.consumerHeartbeat(.init(
            request: ConsumerGroupHeartbeatRequest(groupId: "pubsub", memberId: "x", memberEpoch: 0, rebalanceTimeoutMs: 1000, subscribedTopicNames: ["orders"]),
            version: 1, clientId: "c", clientHost: "h", newMemberId: "x", topics: topics, nowMs: 0))
        let (response, _) = machine.shareHeartbeat(.init(
            request: ShareGroupHeartbeatRequest(groupId: "pubsub", memberId: "y", memberEpoch: 0, subscribedTopicNames: ["orders"]),
            clientId: "c", clientHost: "h", topics: topics, sessionTimeoutMs: 45_000, heartbeatIntervalMs: 5_000, nowMs: 0))
        #expect(response.errorCode == KafkaErrorCode.groupIdNotFound.rawValue)
    }

    // MARK: Share sessions

    @Test func shareSessionEpochsOpenAdvanceAndClose() throws {
        var sessions = ShareSessions(sessionsMax: 2)
        let a = ShareSessions.Key(groupId: "g", memberId: "a")
        let p0 = ShareTopicPartition(topicId: orders.id, partition: 0)
        let p1 = ShareTopicPartition(topicId: orders.id, partition: 1)
        #expect(try sessions.open(a, partitions: [p0, p0], connectionId: 7).get() == nil)
        #expect(throws: KafkaErrorCode.invalidShareSessionEpoch) { try sessions.advance(a, epoch: 2).get() }
        #expect(try sessions.advance(a, epoch: 1, added: [p1]).get().partitions == [p0, p1])
        #expect(try sessions.advance(a, epoch: 2, forgotten: [p0]).get().partitions == [p1])
        #expect(throws: KafkaErrorCode.shareSessionNotFound) { try sessions.advance(.init(groupId: "g", memberId: "b"), epoch: 1).get() }
        // Reopening replaces the session and hands back the old one (its records are released).
        #expect(try sessions.open(a, partitions: [p0], connectionId: 7).get()?.partitions == [p1])
        _ = try sessions.open(.init(groupId: "g", memberId: "b"), partitions: [p0], connectionId: 8).get()
        #expect(throws: KafkaErrorCode.shareSessionLimitReached) { try sessions.open(.init(groupId: "g", memberId: "c"), partitions: [], connectionId: 9).get() }
        #expect(sessions.closeConnection(7).map(\.0) == [a])
        #expect(throws: KafkaErrorCode.shareSessionNotFound) { try sessions.close(a).get() }
        #expect(ShareSessions.epoch(after: Int32.max) == 1)
    }

    // MARK: Group configs

    @Test func groupConfigsAreCheckedAgainstTheBrokersBounds() throws {
        let configs = GroupConfigs(shareGroups: ShareGroupSettings(), groups: settings)
        try configs.validate(["share.auto.offset.reset": "earliest", "share.record.lock.duration.ms": "15000", "share.isolation.level": "read_uncommitted"])
        // Not taken and ignored: share-partitions do not filter aborted transactions yet.
        #expect(throws: (any Error).self) { try configs.validate(["share.isolation.level": "read_committed"]) }
        #expect(throws: (any Error).self) { try configs.validate(["share.record.lock.duration.ms": "1000"]) }
        #expect(throws: (any Error).self) { try configs.validate(["share.auto.offset.reset": "soon"]) }
        #expect(throws: (any Error).self) { try configs.validate(["share.delivery.count.limit": "3"]) }
        #expect(GroupConfigs.autoOffsetReset("by_duration:PT1H30M") == .byDuration(5_400_000))
        #expect(GroupConfigs.autoOffsetReset("by_duration:P1DT0.5S") == .byDuration(86_400_500))
        #expect(GroupConfigs.autoOffsetReset("by_duration:PT") == nil && GroupConfigs.autoOffsetReset("by_duration:1H") == nil)
        let applied = configs.shareSettings(["share.record.lock.duration.ms": "20000", "share.auto.offset.reset": "earliest"])
        #expect(applied.partition.lockDurationMs == 20_000 && applied.autoOffsetReset == .earliest && applied.partition.deliveryCountLimit == 5)
    }
}
