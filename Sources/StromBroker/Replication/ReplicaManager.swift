import KafkaProtocol
import StromCluster
import StromStorage
import Synchronization

/// This broker's replicas in a cluster: the partitions it leads, each with its
/// ``LeaderReplicaState``, and the ones it follows, with the leader it fetches from.
///
/// The cluster runtime moves partitions between roles as the metadata says; handlers ask it
/// whether this broker may answer for a partition, and report follower fetches to it. The high
/// watermark of a led partition is the leader state's: recomputed when a follower fetches and
/// when the leader's own log becomes durable further, and pushed to the log, which wakes long
/// polls and acks=all waiters.
final class ReplicaManager: Sendable {
    let nodeId: Int32
    let replicaLagTimeMaxMs: Int64
    let clock: @Sendable () -> Int64

    /// This broker's part in one partition.
    enum Role: Sendable, Equatable {
        case leader(epoch: Int32)
        /// `leader` is -1 while the partition has none.
        case follower(leader: Int32, epoch: Int32)
    }

    struct Led: Sendable {
        var replicaState: LeaderReplicaState
        /// The partition's state as committed in the metadata (what an ISR change compares).
        var assignment: PartitionAssignment
        var topic: String
        let log: PartitionLog
        /// When this broker began leading at this epoch.
        var sinceMs: Int64
    }

    struct Followed: Sendable {
        var assignment: PartitionAssignment
        let log: PartitionLog
    }

    private struct State {
        var led: [TopicPartition: Led] = [:]
        var followed: [TopicPartition: Followed] = [:]
        /// By follower: partitions this broker began leading within ``newLeaderGapGraceMs`` that
        /// the follower has not fetched yet (see ``awaitsNewPartition(follower:fetched:)``).
        var unfetchedNewLeads: [Int32: Set<TopicPartition>] = [:]
    }

    private let state = Mutex(State())
    /// Whether this broker may act as a leader at all: false while its registration is not surely
    /// alive, or the metadata applied is older than its current registration (a zombie leader,
    /// paused past its lease, must not acknowledge anything as leader when it resumes).
    private let mayLead: @Sendable () -> Bool

    init(nodeId: Int32, replicaLagTimeMaxMs: Int64, clock: @escaping @Sendable () -> Int64, mayLead: @escaping @Sendable () -> Bool = { true }) {
        self.nodeId = nodeId
        self.replicaLagTimeMaxMs = replicaLagTimeMaxMs
        self.clock = clock
        self.mayLead = mayLead
    }

    func role(of topicPartition: TopicPartition) -> Role? {
        state.withLock { state in
            if let led = state.led[topicPartition] { return .leader(epoch: led.assignment.leaderEpoch) }
            if let followed = state.followed[topicPartition] {
                return .follower(leader: followed.assignment.leader, epoch: followed.assignment.leaderEpoch)
            }
            return nil
        }
    }

    /// Why this broker may not answer a client for `topicPartition` as its leader, or nil if it
    /// may: NOT_LEADER_OR_FOLLOWER when it does not lead it, FENCED_LEADER_EPOCH when the client
    /// knows an older leader epoch, UNKNOWN_LEADER_EPOCH when a newer one (KIP-320). -1: unchecked.
    func leaderError(_ topicPartition: TopicPartition, currentLeaderEpoch: Int32) -> KafkaErrorCode? {
        guard mayLead() else { return .notLeaderOrFollower }
        return state.withLock { state in
            guard let led = state.led[topicPartition] else { return .notLeaderOrFollower }
            if currentLeaderEpoch >= 0 && currentLeaderEpoch < led.assignment.leaderEpoch { return .fencedLeaderEpoch }
            if currentLeaderEpoch > led.assignment.leaderEpoch { return .unknownLeaderEpoch }
            return nil
        }
    }

    /// How long a new leader answers a producer's sequence gap NOT_LEADER_OR_FOLLOWER rather than
    /// OUT_OF_ORDER_SEQUENCE_NUMBER (see ``isNewLeader(_:)``).
    static let newLeaderGapGraceMs: Int64 = 5_000

    /// Whether this broker began leading `topicPartition` within ``newLeaderGapGraceMs``. During a
    /// leader change a client's pipelined batches can straddle it: this broker refuses the first as
    /// not yet leader and takes the next as leader, which then looks like a sequence gap. Answered
    /// OUT_OF_ORDER_SEQUENCE_NUMBER, librdkafka recovers by bumping its producer epoch and resends
    /// every unacknowledged batch of every partition under new sequence numbers — duplicating those
    /// that were written but whose answers were lost (found by the cluster fault harness). Answered
    /// NOT_LEADER_OR_FOLLOWER, it resends both batches in order; a real gap still meets
    /// OUT_OF_ORDER_SEQUENCE_NUMBER once the grace is over.
    func isNewLeader(_ topicPartition: TopicPartition) -> Bool {
        let nowMs = clock()
        return state.withLock { state in state.led[topicPartition].map { nowMs - $0.sinceMs < Self.newLeaderGapGraceMs } ?? false }
    }

    /// The committed in-sync replica count of a led partition (acks=all checks it against
    /// `min.insync.replicas`); nil when this broker does not lead it.
    func inSyncReplicaCount(_ topicPartition: TopicPartition) -> Int? {
        state.withLock { $0.led[topicPartition]?.assignment.inSyncReplicas.count }
    }

    // MARK: Role changes

    /// Makes this broker the leader of `topicPartition` at `assignment.leaderEpoch`: a new epoch
    /// starts at the log end, and the log's high watermark is decided by replication from now on.
    /// An assignment that only changed the ISR or partition epoch of a partition already led
    /// updates the leader state.
    func lead(_ topicPartition: TopicPartition, topic: String, assignment: PartitionAssignment, log: PartitionLog) {
        let nowMs = clock()
        let already = state.withLock { state -> Bool in
            guard var led = state.led[topicPartition], led.assignment.leaderEpoch == assignment.leaderEpoch else { return false }
            if assignment.partitionEpoch > led.assignment.partitionEpoch {
                led.replicaState.commitInSyncReplicas(assignment.inSyncReplicas, partitionEpoch: assignment.partitionEpoch)
                led.assignment = assignment
                state.led[topicPartition] = led
            }
            return true
        }
        if already {
            recomputeHighWatermark(topicPartition)
            return
        }
        log.setReplicated(true)
        log.setLeaderEpoch(assignment.leaderEpoch)
        let replicaState = LeaderReplicaState(
            localReplica: nodeId, replicas: assignment.replicas, inSyncReplicas: assignment.inSyncReplicas,
            leaderEpoch: assignment.leaderEpoch, partitionEpoch: assignment.partitionEpoch,
            leaderEpochStartOffset: log.offsets.logEndOffset, highWatermark: log.offsets.highWatermark, nowMs: nowMs,
            replicaLagTimeMaxMs: replicaLagTimeMaxMs)
        state.withLock { state in
            state.followed[topicPartition] = nil
            state.led[topicPartition] = Led(replicaState: replicaState, assignment: assignment, topic: topic, log: log, sinceMs: nowMs)
            for follower in assignment.replicas where follower != nodeId {
                state.unfetchedNewLeads[follower, default: []].insert(topicPartition)
            }
        }
        log.setDurabilityListener { [weak self] topicPartition, _ in self?.recomputeHighWatermark(topicPartition) }
        recomputeHighWatermark(topicPartition)
    }

    /// Makes this broker a follower of `assignment.leader` (or of nobody, while it is -1).
    /// - Returns: whether the leader or its epoch changed (the fetcher must re-check divergence).
    @discardableResult
    func follow(_ topicPartition: TopicPartition, assignment: PartitionAssignment, log: PartitionLog) -> Bool {
        log.setReplicated(true)
        log.setDurabilityListener(nil)
        log.becomeFollower()
        return state.withLock { state in
            state.led[topicPartition] = nil
            let previous = state.followed[topicPartition]?.assignment
            state.followed[topicPartition] = Followed(assignment: assignment, log: log)
            return previous?.leader != assignment.leader || previous?.leaderEpoch != assignment.leaderEpoch
        }
    }

    /// Forgets `topicPartition` (its topic was deleted, or this broker holds no replica any more).
    func remove(_ topicPartition: TopicPartition) {
        let log = state.withLock { state in
            defer {
                state.led[topicPartition] = nil
                state.followed[topicPartition] = nil
            }
            return state.led[topicPartition]?.log
        }
        log?.setDurabilityListener(nil)
    }

    /// The partitions followed from `leader`, with their logs and what this broker knows of them.
    func followed(from leader: Int32) -> [(TopicPartition, Followed)] {
        state.withLock { state in state.followed.filter { $0.value.assignment.leader == leader }.map { ($0.key, $0.value) } }
    }

    /// Every leader this broker follows some partition from.
    var leadersFollowed: Set<Int32> {
        state.withLock { Set($0.followed.values.map(\.assignment.leader).filter { $0 >= 0 }) }
    }

    var ledPartitions: [TopicPartition] { state.withLock { Array($0.led.keys) } }

    /// Whether a partition this broker began leading moments ago has `follower` as a replica but
    /// is not in its fetch (`fetched`): the follower takes it up from the same metadata change,
    /// possibly a moment after this broker, and its long poll must not keep the new partition
    /// waiting (acks=all produce to a new topic would stall for `replica.fetch.wait.max.ms`).
    /// `fetched` is asked for only while there are such partitions: once fetched, a partition
    /// is forgotten, so the check costs nothing in the steady state.
    func awaitsNewPartition(follower: Int32, fetched: () -> [TopicPartition]) -> Bool {
        let nowMs = clock()
        return state.withLock { state in
            guard var unfetched = state.unfetchedNewLeads[follower] else { return false }
            unfetched.subtract(fetched())
            unfetched = unfetched.filter { state.led[$0].map { nowMs - $0.sinceMs < Self.newLeaderGapGraceMs } ?? false }
            state.unfetchedNewLeads[follower] = unfetched.isEmpty ? nil : unfetched
            return !unfetched.isEmpty
        }
    }

    // MARK: The leader's side of replication

    /// A follower fetched `topicPartition` from `fetchOffset` (everything before it is on its
    /// disk). Updates the leader state and the high watermark.
    /// - Returns: an ISR expansion to commit (the state as it is and as it would be), if the
    ///   follower has caught up and no other change is in flight.
    func recordFollowerFetch(_ topicPartition: TopicPartition, replica: Int32, fetchOffset: Int64) -> PartitionStateChange? {
        let nowMs = clock()
        let expansion = state.withLock { state -> PartitionStateChange? in
            guard var led = state.led[topicPartition] else { return nil }
            led.replicaState.recordFetch(replica: replica, fetchOffset: fetchOffset, nowMs: nowMs, leaderLogEndOffset: led.log.offsets.logEndOffset)
            var change: PartitionStateChange?
            if let proposed = led.replicaState.proposeExpansion(replica) {
                var new = led.assignment
                new.inSyncReplicas = proposed
                new.partitionEpoch += 1
                change = PartitionStateChange(topic: led.topic, expected: led.assignment, new: new)
            }
            state.led[topicPartition] = led
            return change
        }
        recomputeHighWatermark(topicPartition)
        return expansion
    }

    /// Followers that fell more than `replica.lag.time.max.ms` behind, as ISR shrinks to commit
    /// (at most one change in flight per partition).
    func shrinkProposals() -> [(TopicPartition, PartitionStateChange)] {
        let nowMs = clock()
        return state.withLock { state in
            var proposals: [(TopicPartition, PartitionStateChange)] = []
            for (topicPartition, var led) in state.led {
                let outOfSync = led.replicaState.outOfSyncReplicas(leaderLogEndOffset: led.log.offsets.logEndOffset, nowMs: nowMs)
                guard !outOfSync.isEmpty, let proposed = led.replicaState.proposeShrink(outOfSync) else { continue }
                var new = led.assignment
                new.inSyncReplicas = proposed
                new.partitionEpoch += 1
                proposals.append((topicPartition, PartitionStateChange(topic: led.topic, expected: led.assignment, new: new)))
                state.led[topicPartition] = led
            }
            return proposals
        }
    }

    /// The answer to an ISR change: committed (the new state applies now, before the watch
    /// brings it) or refused (the pending change is dropped; the metadata will say why).
    func finishInSyncReplicaChange(_ topicPartition: TopicPartition, committed: PartitionAssignment?) {
        state.withLock { state in
            guard var led = state.led[topicPartition] else { return }
            if let committed, committed.leaderEpoch == led.assignment.leaderEpoch {
                led.replicaState.commitInSyncReplicas(committed.inSyncReplicas, partitionEpoch: committed.partitionEpoch)
                if committed.partitionEpoch > led.assignment.partitionEpoch { led.assignment = committed }
            } else {
                led.replicaState.abortPendingChange()
            }
            state.led[topicPartition] = led
        }
        recomputeHighWatermark(topicPartition)
    }

    /// Moves the high watermark of a led partition as far as the in-sync replicas and the
    /// leader's own durable end allow (its log end with `write.caching`).
    func recomputeHighWatermark(_ topicPartition: TopicPartition) {
        let nowMs = clock()
        let update = state.withLock { state -> (PartitionLog, Int64)? in
            guard var led = state.led[topicPartition] else { return nil }
            let logEnd = led.log.offsets.logEndOffset
            let countedEnd = led.log.config.flushesBeforeAcknowledging ? min(led.log.recoveryPoint, logEnd) : logEnd
            let moved = led.replicaState.updateHighWatermark(leaderLogEndOffset: countedEnd, nowMs: nowMs)
            state.led[topicPartition] = led
            return moved ? (led.log, led.replicaState.highWatermark) : nil
        }
        if let (log, highWatermark) = update { log.updateHighWatermark(highWatermark) }
    }
}

/// A partition state change a broker asks the metadata store to commit: the state it read and the
/// state it wants (an ISR change by the leader, an election by the controller).
struct PartitionStateChange: Sendable {
    var topic: String
    var expected: PartitionAssignment
    var new: PartitionAssignment
}
