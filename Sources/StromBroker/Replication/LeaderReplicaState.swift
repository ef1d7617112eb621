/// The leader's view of one partition's replicas: where each follower is, which are in sync, the high
/// watermark, and the one ISR change waiting for the controller's answer (Kafka's `Partition.scala`).
///
/// A value with mutating methods and no clock: every method that depends on time takes `nowMs`, and the
/// leader's log end offset comes in as an argument (Strom passes its *durable* end, so the high watermark
/// never passes what the leader itself could lose in a crash). The runtime owning the partition calls
/// ``recordFetch(replica:fetchOffset:nowMs:leaderLogEndOffset:)`` for every follower fetch, then
/// ``updateHighWatermark(leaderLogEndOffset:nowMs:)``, and on a timer ``outOfSyncReplicas(leaderLogEndOffset:nowMs:)``.
///
/// Safety rule: the high watermark is never above the log end offset of a member of the *maximal* ISR
/// (the committed ISR plus a replica whose addition is pending), so every offset below it is on every
/// replica that could be elected cleanly, whichever way the pending change ends.
struct LeaderReplicaState: Sendable, Hashable {
    /// What the leader knows of one follower.
    struct FollowerState: Sendable, Hashable {
        var replica: Int32
        /// The offset of the follower's last fetch, which is its log end (a follower fetches from its end);
        /// -1 until it first fetches from this leader.
        var logEndOffset: Int64 = -1
        /// The last time the follower had everything the leader had (0: not since this leadership began).
        var lastCaughtUpTimeMs: Int64 = 0
        /// When the follower last fetched (0: not yet).
        var lastFetchTimeMs: Int64 = 0
        /// The leader's log end offset at the follower's previous fetch (-1: none yet).
        var lastFetchLeaderLogEndOffset: Int64 = -1

        /// Kafka's `isCaughtUp`: the follower has the leader's whole log, or had it within the lag limit.
        func isCaughtUp(leaderLogEndOffset: Int64, nowMs: Int64, replicaLagTimeMaxMs: Int64) -> Bool {
            leaderLogEndOffset == logEndOffset || nowMs - lastCaughtUpTimeMs <= replicaLagTimeMaxMs
        }
    }

    /// The ISR change sent to the controller and not answered yet (Kafka's `PendingExpandIsr` and
    /// `PendingShrinkIsr`). At most one is in flight.
    enum PendingChange: Sendable, Hashable {
        case expansion(replica: Int32, proposedInSyncReplicas: [Int32])
        case shrink(replicas: [Int32], proposedInSyncReplicas: [Int32])

        var proposedInSyncReplicas: [Int32] {
            switch self {
            case .expansion(_, let proposed), .shrink(_, let proposed): proposed
            }
        }
    }

    /// This broker, the leader.
    let localReplica: Int32
    /// Every replica of the partition, the leader included, preferred leader first.
    private(set) var replicas: [Int32]
    /// The ISR as the controller last committed it.
    private(set) var inSyncReplicas: [Int32]
    private(set) var leaderEpoch: Int32
    /// The partition epoch of the committed state; an AlterPartition names it.
    private(set) var partitionEpoch: Int32
    /// The log end offset when this leadership began: a follower is in sync only once it has everything
    /// earlier leaders wrote (KIP-101), or an unclean history could be counted as replicated.
    let leaderEpochStartOffset: Int64
    /// Every offset below it is on every member of the maximal ISR; it only moves forward.
    private(set) var highWatermark: Int64
    /// `replica.lag.time.max.ms`: how long a follower may stay behind before it leaves the ISR.
    let replicaLagTimeMaxMs: Int64
    /// One entry per replica other than the leader.
    private(set) var followers: [Int32: FollowerState]
    private(set) var pendingChange: PendingChange?

    /// Starts a leadership.
    ///
    /// Followers in the ISR start as caught up now (Kafka resets them this way when a broker becomes
    /// leader, so they get `replicaLagTimeMaxMs` to fetch before they can be shrunk out); the others as
    /// never caught up. No follower's log end offset is known yet, so the high watermark cannot move
    /// until every in-sync follower has fetched.
    init(
        localReplica: Int32, replicas: [Int32], inSyncReplicas: [Int32], leaderEpoch: Int32, partitionEpoch: Int32,
        leaderEpochStartOffset: Int64, highWatermark: Int64, nowMs: Int64, replicaLagTimeMaxMs: Int64
    ) {
        self.localReplica = localReplica
        self.replicas = replicas
        self.inSyncReplicas = inSyncReplicas
        self.leaderEpoch = leaderEpoch
        self.partitionEpoch = partitionEpoch
        self.leaderEpochStartOffset = leaderEpochStartOffset
        self.highWatermark = highWatermark
        self.replicaLagTimeMaxMs = replicaLagTimeMaxMs
        var followers: [Int32: FollowerState] = [:]
        for replica in replicas where replica != localReplica {
            var state = FollowerState(replica: replica)
            if inSyncReplicas.contains(replica) { state.lastCaughtUpTimeMs = nowMs }
            followers[replica] = state
        }
        self.followers = followers
    }

    /// The ISR the high watermark must respect: the committed one plus a replica being added. A replica
    /// being removed still counts until the removal is committed.
    var maximalInSyncReplicas: [Int32] {
        guard case .expansion(let replica, _) = pendingChange, !inSyncReplicas.contains(replica) else { return inSyncReplicas }
        return inSyncReplicas + [replica]
    }

    /// Whether the committed ISR is large enough for `acks=all` (`min.insync.replicas`).
    func hasEnoughInSyncReplicas(min minInSyncReplicas: Int) -> Bool {
        inSyncReplicas.count >= minInSyncReplicas
    }

    // MARK: Fetches and the high watermark

    /// A follower fetched from `fetchOffset` (Kafka's `updateFetchState`). Fetches from brokers that are
    /// not replicas are ignored.
    ///
    /// A follower is caught up now if it fetched from the leader's end; if it fetched from at least where
    /// the leader's end was at its previous fetch, it was caught up at that previous fetch. This lets a
    /// follower that keeps up with a busy leader stay in the ISR although it is never exactly at the end.
    mutating func recordFetch(replica: Int32, fetchOffset: Int64, nowMs: Int64, leaderLogEndOffset: Int64) {
        guard var state = followers[replica] else { return }
        if fetchOffset >= leaderLogEndOffset {
            state.lastCaughtUpTimeMs = max(state.lastCaughtUpTimeMs, nowMs)
        } else if fetchOffset >= state.lastFetchLeaderLogEndOffset {
            state.lastCaughtUpTimeMs = max(state.lastCaughtUpTimeMs, state.lastFetchTimeMs)
        }
        state.logEndOffset = fetchOffset
        // Kafka keeps the larger of the two: a leader end seen earlier is not forgotten.
        state.lastFetchLeaderLogEndOffset = max(state.lastFetchLeaderLogEndOffset, leaderLogEndOffset)
        state.lastFetchTimeMs = nowMs
        followers[replica] = state
    }

    /// Moves the high watermark to the smallest log end offset among the leader and the followers that
    /// count: every member of the maximal ISR, and any follower that is caught up although not in the ISR
    /// (Kafka waits for those so that they can join without the high watermark running ahead of them).
    ///
    /// - Returns: Whether the high watermark moved (it never moves back).
    mutating func updateHighWatermark(leaderLogEndOffset: Int64, nowMs: Int64) -> Bool {
        let maximal = maximalInSyncReplicas
        var candidate = leaderLogEndOffset
        for state in followers.values where state.logEndOffset < candidate {
            let counts = maximal.contains(state.replica)
                || state.isCaughtUp(leaderLogEndOffset: leaderLogEndOffset, nowMs: nowMs, replicaLagTimeMaxMs: replicaLagTimeMaxMs)
            if counts { candidate = state.logEndOffset }
        }
        guard candidate > highWatermark else { return false }
        highWatermark = candidate
        return true
    }

    // MARK: ISR changes

    /// The committed ISR's followers that have not been caught up for longer than `replicaLagTimeMaxMs`:
    /// what the leader proposes to shrink out (Kafka's `getOutOfSyncReplicas`).
    func outOfSyncReplicas(leaderLogEndOffset: Int64, nowMs: Int64) -> [Int32] {
        inSyncReplicas.filter { replica in
            guard replica != localReplica, let state = followers[replica] else { return false }
            return !state.isCaughtUp(leaderLogEndOffset: leaderLogEndOffset, nowMs: nowMs, replicaLagTimeMaxMs: replicaLagTimeMaxMs)
        }
    }

    /// Whether `replica` may join the ISR: a follower outside it that has reached both the high
    /// watermark and the start of this leader epoch (Kafka's `isFollowerInSync`).
    func isExpansionCandidate(_ replica: Int32) -> Bool {
        guard !inSyncReplicas.contains(replica), let state = followers[replica] else { return false }
        return state.logEndOffset >= highWatermark && state.logEndOffset >= leaderEpochStartOffset
    }

    /// Every follower that may join the ISR now, in `replicas` order.
    func expansionCandidates() -> [Int32] {
        replicas.filter { isExpansionCandidate($0) }
    }

    /// Proposes adding `replica` to the ISR and marks the change pending.
    ///
    /// - Returns: The ISR to send to the controller, or nil when a change is already pending or the
    ///   replica is not an ``isExpansionCandidate(_:)``.
    mutating func proposeExpansion(_ replica: Int32) -> [Int32]? {
        guard pendingChange == nil, isExpansionCandidate(replica) else { return nil }
        let proposed = inSyncReplicas + [replica]
        pendingChange = .expansion(replica: replica, proposedInSyncReplicas: proposed)
        return proposed
    }

    /// Proposes removing `outOfSync` (normally ``outOfSyncReplicas(leaderLogEndOffset:nowMs:)``) from the
    /// ISR and marks the change pending. The leader itself is never removed.
    ///
    /// - Returns: The ISR to send to the controller, or nil when a change is already pending or no
    ///   member would be removed.
    mutating func proposeShrink(_ outOfSync: [Int32]) -> [Int32]? {
        guard pendingChange == nil else { return nil }
        let removed = inSyncReplicas.filter { $0 != localReplica && outOfSync.contains($0) }
        guard !removed.isEmpty else { return nil }
        let proposed = inSyncReplicas.filter { !removed.contains($0) }
        pendingChange = .shrink(replicas: removed, proposedInSyncReplicas: proposed)
        return proposed
    }

    /// Applies the ISR the controller committed and clears the pending change.
    ///
    /// - Returns: false (and nothing changes) when `partitionEpoch` is older than the one already
    ///   known: a late answer to an earlier request.
    @discardableResult
    mutating func commitInSyncReplicas(_ committed: [Int32], partitionEpoch: Int32) -> Bool {
        guard partitionEpoch >= self.partitionEpoch else { return false }
        inSyncReplicas = committed
        self.partitionEpoch = partitionEpoch
        pendingChange = nil
        return true
    }

    /// The controller refused the pending change (or it must be sent again from a fresh state): forget it.
    mutating func abortPendingChange() {
        pendingChange = nil
    }
}
