import Testing

@testable import StromCluster

/// The controller's per-partition decisions: elections when brokers die and return, preferred and
/// unclean elections, and the AlterPartition rule.
@Suite struct PartitionElectionTests {
    /// Replicas 1, 2, 3 (1 preferred), all in sync, 1 leading at leader epoch 5, partition epoch 10.
    static let healthy = PartitionAssignment(
        partition: 0, replicas: [1, 2, 3], leader: 1, leaderEpoch: 5, inSyncReplicas: [1, 2, 3], partitionEpoch: 10)

    static func assignment(leader: Int32, inSyncReplicas: [Int32]) -> PartitionAssignment {
        var assignment = healthy
        assignment.leader = leader
        assignment.inSyncReplicas = inSyncReplicas
        return assignment
    }

    // MARK: Broker fenced

    @Test func leaderDiesFirstLiveInSyncReplicaLeads() throws {
        let decision = try #require(PartitionElection.brokerFenced(
            1, in: Self.healthy, liveBrokers: [2, 3], uncleanElectionAllowed: false))
        #expect(decision.assignment == PartitionAssignment(
            partition: 0, replicas: [1, 2, 3], leader: 2, leaderEpoch: 6, inSyncReplicas: [2, 3], partitionEpoch: 11))
        #expect(decision.leaderChanged)
        #expect(!decision.isUnclean)
    }

    /// The next leader is chosen in `replicas` order, not ISR order.
    @Test func newLeaderFollowsReplicaOrder() throws {
        let assignment = Self.assignment(leader: 1, inSyncReplicas: [1, 3, 2])
        let decision = try #require(PartitionElection.brokerFenced(1, in: assignment, liveBrokers: [2, 3], uncleanElectionAllowed: false))
        #expect(decision.assignment.leader == 2)
        #expect(decision.assignment.inSyncReplicas == [3, 2])
    }

    /// A dead in-sync replica that does not lead leaves the ISR; leadership and its epoch stay.
    @Test func followerDiesLeavesTheInSyncReplicas() throws {
        let decision = try #require(PartitionElection.brokerFenced(
            3, in: Self.healthy, liveBrokers: [1, 2], uncleanElectionAllowed: false))
        #expect(decision.assignment.inSyncReplicas == [1, 2])
        #expect(decision.assignment.leader == 1)
        #expect(decision.assignment.leaderEpoch == 5)
        #expect(decision.assignment.partitionEpoch == 11)
        #expect(!decision.leaderChanged)
    }

    @Test func brokerOutsideTheInSyncReplicasChangesNothing() {
        let assignment = Self.assignment(leader: 1, inSyncReplicas: [1, 2])
        #expect(PartitionElection.brokerFenced(3, in: assignment, liveBrokers: [1, 2], uncleanElectionAllowed: true) == nil)
    }

    /// The last in-sync replica stays in the ISR when it dies, so that it can lead cleanly when it returns.
    @Test func lastInSyncReplicaIsKept() throws {
        let assignment = Self.assignment(leader: 1, inSyncReplicas: [1])
        let decision = try #require(PartitionElection.brokerFenced(1, in: assignment, liveBrokers: [2, 3], uncleanElectionAllowed: false))
        #expect(decision.assignment.inSyncReplicas == [1])
        #expect(decision.assignment.leader == -1)
        #expect(decision.assignment.leaderEpoch == 6)
        #expect(decision.assignment.partitionEpoch == 11)
        #expect(decision.leaderChanged)
        #expect(!decision.isUnclean)
    }

    @Test func noLiveInSyncReplicaWithUncleanElection() throws {
        let assignment = Self.assignment(leader: 1, inSyncReplicas: [1])
        let decision = try #require(PartitionElection.brokerFenced(1, in: assignment, liveBrokers: [3, 2], uncleanElectionAllowed: true))
        #expect(decision.assignment.leader == 2)
        #expect(decision.assignment.inSyncReplicas == [2])
        #expect(decision.assignment.leaderEpoch == 6)
        #expect(decision.isUnclean)
    }

    /// No live replica at all: no leader, even with unclean election allowed.
    @Test func nobodyAliveMeansNoLeader() throws {
        let decision = try #require(PartitionElection.brokerFenced(1, in: Self.healthy, liveBrokers: [], uncleanElectionAllowed: true))
        #expect(decision.assignment.leader == -1)
        #expect(decision.assignment.inSyncReplicas == [2, 3])
        #expect(!decision.isUnclean)
    }

    // MARK: Broker unfenced

    @Test func returningInSyncReplicaLeadsALeaderlessPartition() throws {
        let leaderless = PartitionAssignment(
            partition: 0, replicas: [1, 2, 3], leader: -1, leaderEpoch: 6, inSyncReplicas: [1], partitionEpoch: 11)
        let decision = try #require(PartitionElection.brokerUnfenced(1, in: leaderless, liveBrokers: [2, 3], uncleanElectionAllowed: false))
        #expect(decision.assignment == PartitionAssignment(
            partition: 0, replicas: [1, 2, 3], leader: 1, leaderEpoch: 7, inSyncReplicas: [1], partitionEpoch: 12))
        #expect(!decision.isUnclean)
    }

    @Test func returningOutOfSyncReplicaWaitsUnlessUnclean() throws {
        let leaderless = PartitionAssignment(
            partition: 0, replicas: [1, 2, 3], leader: -1, leaderEpoch: 6, inSyncReplicas: [1], partitionEpoch: 11)
        #expect(PartitionElection.brokerUnfenced(2, in: leaderless, liveBrokers: [], uncleanElectionAllowed: false) == nil)
        let decision = try #require(PartitionElection.brokerUnfenced(2, in: leaderless, liveBrokers: [], uncleanElectionAllowed: true))
        #expect(decision.assignment.leader == 2)
        #expect(decision.assignment.inSyncReplicas == [2])
        #expect(decision.isUnclean)
    }

    @Test func returningBrokerFollowsALiveLeader() {
        let assignment = Self.assignment(leader: 2, inSyncReplicas: [2, 3])
        #expect(PartitionElection.brokerUnfenced(1, in: assignment, liveBrokers: [2, 3], uncleanElectionAllowed: true) == nil)
    }

    @Test func returningNonReplicaChangesNothing() {
        let leaderless = Self.assignment(leader: -1, inSyncReplicas: [1])
        #expect(PartitionElection.brokerUnfenced(9, in: leaderless, liveBrokers: [], uncleanElectionAllowed: true) == nil)
    }

    // MARK: ElectLeaders

    @Test func preferredElection() throws {
        let assignment = Self.assignment(leader: 2, inSyncReplicas: [1, 2, 3])
        let decision = try #require(PartitionElection.preferredLeader(in: assignment, liveBrokers: [1, 2, 3]))
        #expect(decision.assignment.leader == 1)
        #expect(decision.assignment.inSyncReplicas == [1, 2, 3])
        #expect(decision.assignment.leaderEpoch == 6)
        #expect(decision.assignment.partitionEpoch == 11)
        // Already leading, dead, or out of sync: nothing to do.
        #expect(PartitionElection.preferredLeader(in: Self.healthy, liveBrokers: [1, 2, 3]) == nil)
        #expect(PartitionElection.preferredLeader(in: assignment, liveBrokers: [2, 3]) == nil)
        #expect(PartitionElection.preferredLeader(in: Self.assignment(leader: 2, inSyncReplicas: [2, 3]), liveBrokers: [1, 2, 3]) == nil)
    }

    @Test func uncleanElectLeaders() throws {
        let leaderless = Self.assignment(leader: -1, inSyncReplicas: [1])
        #expect(PartitionElection.electLeader(in: Self.healthy, liveBrokers: [1, 2, 3], unclean: true) == nil)
        #expect(PartitionElection.electLeader(in: leaderless, liveBrokers: [3], unclean: false) == nil)
        let unclean = try #require(PartitionElection.electLeader(in: leaderless, liveBrokers: [3], unclean: true))
        #expect(unclean.assignment.leader == 3)
        #expect(unclean.assignment.inSyncReplicas == [3])
        #expect(unclean.isUnclean)
        // A live in-sync replica is preferred to an unclean choice.
        let clean = try #require(PartitionElection.electLeader(in: leaderless, liveBrokers: [1, 2], unclean: true))
        #expect(clean.assignment.leader == 1)
        #expect(!clean.isUnclean)
    }

    // MARK: AlterPartition

    func alter(
        _ newInSyncReplicas: [Int32], by leaderId: Int32 = 1, leaderEpoch: Int32 = 5, partitionEpoch: Int32 = 10,
        live: Set<Int32> = [1, 2, 3], in assignment: PartitionAssignment = Self.assignment(leader: 1, inSyncReplicas: [1, 2])
    ) -> Result<PartitionAssignment, AlterPartitionRefusal> {
        PartitionElection.alterInSyncReplicas(
            in: assignment, requestedBy: leaderId, leaderEpoch: leaderEpoch, partitionEpoch: partitionEpoch,
            newInSyncReplicas: newInSyncReplicas, liveBrokers: live)
    }

    @Test func alterPartitionAccepted() throws {
        let expanded = try alter([1, 2, 3]).get()
        #expect(expanded.inSyncReplicas == [1, 2, 3])
        #expect(expanded.partitionEpoch == 11)
        #expect(expanded.leaderEpoch == 5)
        let shrunk = try alter([1]).get()
        #expect(shrunk.inSyncReplicas == [1])
        #expect(shrunk.partitionEpoch == 11)
        // The order given is kept.
        #expect(try alter([3, 1, 2]).get().inSyncReplicas == [3, 1, 2])
        // The same set: nothing to write.
        let assignment = Self.assignment(leader: 1, inSyncReplicas: [1, 2])
        #expect(try alter([2, 1]).get() == assignment)
    }

    @Test func alterPartitionRefusals() {
        #expect(alter([1, 2, 3], by: 2) == .failure(.notLeader))
        #expect(alter([1, 2, 3], leaderEpoch: 4) == .failure(.fencedLeaderEpoch))
        #expect(alter([1, 2, 3], leaderEpoch: 6) == .failure(.fencedLeaderEpoch))
        #expect(alter([1, 2, 3], partitionEpoch: 9) == .failure(.invalidUpdateVersion))
        #expect(alter([1, 2, 3], live: [1, 2]) == .failure(.ineligibleReplica(3)))
        #expect(alter([1, 2, 4]) == .failure(.ineligibleReplica(4)))
        #expect(alter([2, 3]) == .failure(.invalidRequest))
        #expect(alter([]) == .failure(.invalidRequest))
        #expect(alter([1, 2, 2]) == .failure(.invalidRequest))
    }

    /// A current member that died may stay (only additions must be live); the controller removes it
    /// itself when it fences the broker.
    @Test func alterPartitionKeepsExistingMembersEvenIfDead() throws {
        #expect(try alter([1, 2], live: [1]).get() == Self.assignment(leader: 1, inSyncReplicas: [1, 2]))
    }
}
