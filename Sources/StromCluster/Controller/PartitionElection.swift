/// One change the controller decided for a partition: the new state to write (with the compare on the old
/// partition epoch) and how the leader was chosen.
public struct PartitionDecision: Sendable, Hashable {
    /// The partition as it should be written; its `partitionEpoch` is one above the one it replaces.
    public var assignment: PartitionAssignment
    /// The leader came from outside the in-sync replicas: committed records may be lost, and the in-sync
    /// replicas restart as just the new leader.
    public var isUnclean: Bool
    /// The leader changed (possibly to none, -1); `leaderEpoch` is one above the old one.
    public var leaderChanged: Bool

    public init(assignment: PartitionAssignment, isUnclean: Bool, leaderChanged: Bool) {
        self.assignment = assignment
        self.isUnclean = isUnclean
        self.leaderChanged = leaderChanged
    }
}

/// Why the controller refused a leader's AlterPartition (its ISR change), with Kafka's error for each.
public enum AlterPartitionRefusal: Error, Sendable, Hashable {
    /// The sender is not the partition's leader (`NOT_LEADER_OR_FOLLOWER`).
    case notLeader
    /// The sender's leader epoch is not the current one (`FENCED_LEADER_EPOCH`): leadership moved on.
    case fencedLeaderEpoch
    /// The sender's partition epoch is not the current one (`INVALID_UPDATE_VERSION`): it changed the
    /// partition from a stale view and must learn the current state first.
    case invalidUpdateVersion
    /// The new ISR adds a replica that is not alive or not a replica of the partition (`INELIGIBLE_REPLICA`).
    case ineligibleReplica(Int32)
    /// The new ISR is empty, repeats a replica or leaves out the leader (`INVALID_REQUEST`).
    case invalidRequest
}

/// The controller's decisions for one partition, as Kafka's KRaft `PartitionChangeBuilder` makes them:
/// who leads after a broker dies or returns, preferred and unclean elections, and whether a leader's ISR
/// change is accepted.
///
/// Every function is pure: it gets the partition as last written and the set of live (unfenced) brokers,
/// and returns the partition to write, or nil when nothing changes. A change of leader raises
/// `leaderEpoch` by one; any change raises `partitionEpoch` by one, which is the version the write compares
/// against.
public enum PartitionElection {
    /// A broker died (its lease expired): it leaves the ISR and, if it led, another in-sync replica takes
    /// over.
    ///
    /// The last in-sync replica stays in the ISR even when it dies: it holds every committed record, so
    /// when it returns it can be elected cleanly (see ``brokerUnfenced(_:in:liveBrokers:uncleanElectionAllowed:)``).
    /// A new leader is the first replica, in `replicas` order, that is in the new ISR and alive; failing
    /// that, with unclean election allowed, the first live replica (its ISR becomes just itself); failing
    /// that, no leader (-1).
    ///
    /// - Returns: The change to write, or nil when the broker neither was in the ISR nor led.
    public static func brokerFenced(
        _ brokerId: Int32, in assignment: PartitionAssignment, liveBrokers: Set<Int32>, uncleanElectionAllowed: Bool
    ) -> PartitionDecision? {
        var live = liveBrokers
        live.remove(brokerId)
        var inSyncReplicas = assignment.inSyncReplicas
        if inSyncReplicas.count > 1 { inSyncReplicas.removeAll { $0 == brokerId } }
        let needsLeader = assignment.leader == brokerId || !live.contains(assignment.leader)
        return decide(
            assignment, inSyncReplicas: inSyncReplicas, electLeader: needsLeader, liveBrokers: live,
            uncleanElectionAllowed: uncleanElectionAllowed)
    }

    /// A broker (re)registered. A partition without a live leader gets one if an in-sync replica is now
    /// alive (normally this broker); with unclean election allowed and no live in-sync replica, the first
    /// live replica leads. Otherwise nothing changes: the broker follows, and the leader adds it back to
    /// the ISR once it has caught up.
    public static func brokerUnfenced(
        _ brokerId: Int32, in assignment: PartitionAssignment, liveBrokers: Set<Int32>, uncleanElectionAllowed: Bool
    ) -> PartitionDecision? {
        var live = liveBrokers
        live.insert(brokerId)
        guard !live.contains(assignment.leader), assignment.replicas.contains(brokerId) else { return nil }
        return decide(
            assignment, inSyncReplicas: assignment.inSyncReplicas, electLeader: true, liveBrokers: live,
            uncleanElectionAllowed: uncleanElectionAllowed)
    }

    /// ElectLeaders with `PREFERRED`: the first replica leads again, if it is alive, in sync and not
    /// already the leader. The ISR is unchanged.
    public static func preferredLeader(in assignment: PartitionAssignment, liveBrokers: Set<Int32>) -> PartitionDecision? {
        guard let preferred = assignment.replicas.first, preferred != assignment.leader, liveBrokers.contains(preferred),
            assignment.inSyncReplicas.contains(preferred)
        else { return nil }
        var next = assignment
        next.leader = preferred
        next.leaderEpoch += 1
        next.partitionEpoch += 1
        return PartitionDecision(assignment: next, isUnclean: false, leaderChanged: true)
    }

    /// ElectLeaders for a partition without a live leader: a clean election among the live in-sync
    /// replicas, then (with `unclean`, Kafka's `UNCLEAN` election type) the first live replica.
    ///
    /// - Returns: nil when a live leader exists or nobody can lead.
    public static func electLeader(in assignment: PartitionAssignment, liveBrokers: Set<Int32>, unclean: Bool) -> PartitionDecision? {
        guard !liveBrokers.contains(assignment.leader) else { return nil }
        return decide(
            assignment, inSyncReplicas: assignment.inSyncReplicas, electLeader: true, liveBrokers: liveBrokers,
            uncleanElectionAllowed: unclean)
    }

    /// The leader's AlterPartition: it asks to change the ISR (shrink a lagging follower out, add a
    /// caught-up one back), naming the leader and partition epochs it read.
    ///
    /// A stale sender is refused so that two writers never both succeed: the leader id and leader epoch
    /// must be the current ones, and the partition epoch must match exactly. The new ISR must hold the
    /// leader, no duplicates, and add only live replicas of the partition.
    ///
    /// - Returns: The partition with the new ISR (in the order given) and `partitionEpoch + 1`, or the
    ///   partition unchanged when the new ISR is the same set as the current one.
    public static func alterInSyncReplicas(
        in assignment: PartitionAssignment, requestedBy leaderId: Int32, leaderEpoch: Int32, partitionEpoch: Int32,
        newInSyncReplicas: [Int32], liveBrokers: Set<Int32>
    ) -> Result<PartitionAssignment, AlterPartitionRefusal> {
        guard leaderId == assignment.leader else { return .failure(.notLeader) }
        guard leaderEpoch == assignment.leaderEpoch else { return .failure(.fencedLeaderEpoch) }
        guard partitionEpoch == assignment.partitionEpoch else { return .failure(.invalidUpdateVersion) }
        let requested = Set(newInSyncReplicas)
        guard !newInSyncReplicas.isEmpty, requested.count == newInSyncReplicas.count else { return .failure(.invalidRequest) }
        let current = Set(assignment.inSyncReplicas)
        for replica in newInSyncReplicas where !current.contains(replica) {
            guard assignment.replicas.contains(replica), liveBrokers.contains(replica) else {
                return .failure(.ineligibleReplica(replica))
            }
        }
        guard requested.contains(leaderId) else { return .failure(.invalidRequest) }
        guard requested != current else { return .success(assignment) }
        var next = assignment
        next.inSyncReplicas = newInSyncReplicas
        next.partitionEpoch += 1
        return .success(next)
    }

    // MARK: Private

    /// Builds the change from the target ISR, electing a leader when asked to; nil when the result equals
    /// `assignment`.
    private static func decide(
        _ assignment: PartitionAssignment, inSyncReplicas: [Int32], electLeader: Bool, liveBrokers: Set<Int32>,
        uncleanElectionAllowed: Bool
    ) -> PartitionDecision? {
        var next = assignment
        next.inSyncReplicas = inSyncReplicas
        var isUnclean = false
        if electLeader {
            if let clean = assignment.replicas.first(where: { inSyncReplicas.contains($0) && liveBrokers.contains($0) }) {
                next.leader = clean
            } else if uncleanElectionAllowed, let unclean = assignment.replicas.first(where: { liveBrokers.contains($0) }) {
                next.leader = unclean
                next.inSyncReplicas = [unclean]
                isUnclean = true
            } else {
                next.leader = -1
            }
        }
        let leaderChanged = next.leader != assignment.leader
        guard leaderChanged || next.inSyncReplicas != assignment.inSyncReplicas else { return nil }
        if leaderChanged { next.leaderEpoch += 1 }
        next.partitionEpoch += 1
        return PartitionDecision(assignment: next, isUnclean: isUnclean, leaderChanged: leaderChanged)
    }
}
