import PropertyBased
import Testing

@testable import StromBroker

/// The leader's replica bookkeeping with a fake clock: the high watermark, the ISR shrinking and
/// growing, and the pending ISR change.
@Suite struct LeaderReplicaStateTests {
    static let replicaLagTimeMaxMs: Int64 = 10_000
    /// Far from 0 so that "never caught up" (0) is long ago.
    var nowMs: Int64 = 1_000_000
    var leaderLogEndOffset: Int64 = 120
    var state: LeaderReplicaState

    /// Broker 1 leads replicas 1, 2, 3; the leadership began at offset 100 with the high watermark at 90.
    init() {
        state = Self.leader(inSyncReplicas: [1, 2, 3], nowMs: nowMs)
    }

    static func leader(inSyncReplicas: [Int32], nowMs: Int64) -> LeaderReplicaState {
        LeaderReplicaState(
            localReplica: 1, replicas: [1, 2, 3], inSyncReplicas: inSyncReplicas, leaderEpoch: 4, partitionEpoch: 7,
            leaderEpochStartOffset: 100, highWatermark: 90, nowMs: nowMs, replicaLagTimeMaxMs: replicaLagTimeMaxMs)
    }

    mutating func fetch(_ replica: Int32, from offset: Int64) {
        state.recordFetch(replica: replica, fetchOffset: offset, nowMs: nowMs, leaderLogEndOffset: leaderLogEndOffset)
    }

    mutating func updateHighWatermark() -> Bool {
        state.updateHighWatermark(leaderLogEndOffset: leaderLogEndOffset, nowMs: nowMs)
    }

    @Test mutating func highWatermarkIsTheMinimumOverTheInSyncReplicas() {
        #expect(state.followers[2]?.lastCaughtUpTimeMs == nowMs)
        // No follower has fetched from this leader yet: nothing is known to be replicated.
        #expect(!updateHighWatermark())
        #expect(state.highWatermark == 90)
        fetch(2, from: 110)
        #expect(!updateHighWatermark())
        fetch(3, from: 105)
        #expect(updateHighWatermark())
        #expect(state.highWatermark == 105)
        fetch(3, from: 120)
        #expect(updateHighWatermark())
        #expect(state.highWatermark == 110)
        fetch(2, from: 120)
        #expect(updateHighWatermark())
        #expect(state.highWatermark == 120)
        #expect(!updateHighWatermark())
    }

    @Test mutating func highWatermarkNeverMovesBack() {
        fetch(2, from: 120)
        fetch(3, from: 120)
        #expect(updateHighWatermark())
        // A follower that restarted and truncated fetches from lower down.
        fetch(3, from: 95)
        #expect(!updateHighWatermark())
        #expect(state.highWatermark == 120)
    }

    @Test func fetchesFromNonReplicasAreIgnored() {
        var state = Self.leader(inSyncReplicas: [1, 2, 3], nowMs: 1_000_000)
        let before = state
        state.recordFetch(replica: 9, fetchOffset: 120, nowMs: 1_000_000, leaderLogEndOffset: 120)
        state.recordFetch(replica: 1, fetchOffset: 120, nowMs: 1_000_000, leaderLogEndOffset: 120)
        #expect(state == before)
    }

    @Test mutating func laggingFollowerLeavesAfterTheLagTimeAndNotBefore() {
        let startMs = nowMs
        fetch(2, from: 120)
        fetch(3, from: 100)
        nowMs = startMs + 5_000
        // Fetching from below where the leader's end was at its last fetch: not caught up.
        fetch(3, from: 110)
        nowMs = startMs + Self.replicaLagTimeMaxMs
        #expect(state.outOfSyncReplicas(leaderLogEndOffset: leaderLogEndOffset, nowMs: nowMs).isEmpty)
        nowMs += 1
        // Follower 2 has the leader's whole log, so it stays however long ago it fetched.
        #expect(state.outOfSyncReplicas(leaderLogEndOffset: leaderLogEndOffset, nowMs: nowMs) == [3])
        #expect(state.proposeShrink([3]) == [1, 2])
        // Pending shrink: follower 3 still holds the high watermark back.
        #expect(state.maximalInSyncReplicas == [1, 2, 3])
        #expect(updateHighWatermark())
        #expect(state.highWatermark == 110)
        let committed = state.commitInSyncReplicas([1, 2], partitionEpoch: 8)
        #expect(committed)
        #expect(state.inSyncReplicas == [1, 2])
        #expect(state.partitionEpoch == 8)
        #expect(state.pendingChange == nil)
        #expect(updateHighWatermark())
        #expect(state.highWatermark == 120)
    }

    /// A follower that always fetches from at least where the leader's end was at its previous fetch is
    /// keeping up with a busy leader: it counts as caught up as of that previous fetch, so it stays in
    /// sync without ever being exactly at the end.
    @Test mutating func followerKeepingUpWithABusyLeaderStaysInSync() {
        for _ in 0..<10 {
            nowMs += 6_000
            fetch(2, from: leaderLogEndOffset)
            fetch(3, from: leaderLogEndOffset - 5)
            leaderLogEndOffset += 10
            #expect(state.outOfSyncReplicas(leaderLogEndOffset: leaderLogEndOffset, nowMs: nowMs).isEmpty)
        }
        #expect(state.followers[3]?.lastCaughtUpTimeMs == nowMs - 6_000)
        // Both stop fetching: each leaves once the lag time has passed since it last caught up (follower 2
        // at its last fetch, follower 3 at the one before).
        nowMs += 4_000
        #expect(state.outOfSyncReplicas(leaderLogEndOffset: leaderLogEndOffset, nowMs: nowMs).isEmpty)
        nowMs += 1
        #expect(state.outOfSyncReplicas(leaderLogEndOffset: leaderLogEndOffset, nowMs: nowMs) == [3])
        nowMs += 6_000
        #expect(state.outOfSyncReplicas(leaderLogEndOffset: leaderLogEndOffset, nowMs: nowMs) == [2, 3])
    }

    @Test mutating func caughtUpFollowerIsAnExpansionCandidate() {
        state = Self.leader(inSyncReplicas: [1, 2], nowMs: nowMs)
        fetch(2, from: 120)
        // Above the high watermark (90) but short of the leadership's start (100).
        fetch(3, from: 95)
        #expect(!state.isExpansionCandidate(3))
        fetch(3, from: 100)
        #expect(state.expansionCandidates() == [3])
        // Follower 3 never caught up, so it does not hold the high watermark; once the high watermark
        // moves past it, it is no longer a candidate.
        #expect(updateHighWatermark())
        #expect(state.highWatermark == 120)
        #expect(state.expansionCandidates().isEmpty)
        #expect(state.proposeExpansion(3) == nil)
        fetch(3, from: 120)
        #expect(state.expansionCandidates() == [3])
        #expect(state.proposeExpansion(3) == [1, 2, 3])
        #expect(state.maximalInSyncReplicas == [1, 2, 3])
        #expect(state.inSyncReplicas == [1, 2])
        // One change at a time.
        #expect(state.proposeShrink([2]) == nil)
        #expect(state.proposeExpansion(3) == nil)
        // Pending expansion: the high watermark waits for the replica being added.
        leaderLogEndOffset = 130
        fetch(2, from: 130)
        #expect(!updateHighWatermark())
        #expect(state.highWatermark == 120)
        let committed = state.commitInSyncReplicas([1, 2, 3], partitionEpoch: 8)
        #expect(committed)
        #expect(state.inSyncReplicas == [1, 2, 3])
        #expect(!state.isExpansionCandidate(3))
    }

    /// Kafka waits for a caught-up follower outside the ISR too, so that it can join.
    @Test mutating func caughtUpFollowerOutsideTheInSyncReplicasHoldsTheHighWatermark() {
        state = Self.leader(inSyncReplicas: [1, 2], nowMs: nowMs)
        fetch(2, from: 120)
        fetch(3, from: 120)
        leaderLogEndOffset = 130
        fetch(2, from: 130)
        #expect(updateHighWatermark())
        #expect(state.highWatermark == 120)
        // Once it has been behind for longer than the lag time it no longer counts.
        nowMs += Self.replicaLagTimeMaxMs + 1
        #expect(updateHighWatermark())
        #expect(state.highWatermark == 130)
    }

    @Test mutating func refusedChangeIsAbortedAndStaleAnswersIgnored() {
        fetch(2, from: 120)
        nowMs += Self.replicaLagTimeMaxMs + 1
        #expect(state.proposeShrink(state.outOfSyncReplicas(leaderLogEndOffset: leaderLogEndOffset, nowMs: nowMs)) == [1, 2])
        state.abortPendingChange()
        #expect(state.pendingChange == nil)
        #expect(state.inSyncReplicas == [1, 2, 3])
        // The leader is never shrunk out, and removing nobody is no change.
        #expect(state.proposeShrink([1]) == nil)
        #expect(state.proposeShrink([]) == nil)
        #expect(state.proposeShrink([3]) == [1, 2])
        // A late answer to an older request.
        let applied = state.commitInSyncReplicas([1], partitionEpoch: 6)
        #expect(!applied)
        #expect(state.inSyncReplicas == [1, 2, 3])
        #expect(state.pendingChange != nil)
    }

    @Test func enoughInSyncReplicasCountsTheCommittedSet() {
        var state = Self.leader(inSyncReplicas: [1, 2], nowMs: 1_000_000)
        #expect(state.hasEnoughInSyncReplicas(min: 2))
        #expect(!state.hasEnoughInSyncReplicas(min: 3))
        state.recordFetch(replica: 3, fetchOffset: 120, nowMs: 1_000_000, leaderLogEndOffset: 120)
        _ = state.proposeExpansion(3)
        // A pending expansion does not count until committed.
        #expect(!state.hasEnoughInSyncReplicas(min: 3))
    }
}

/// Random runs of fetches, appends, clock ticks and ISR changes against the high watermark's safety
/// rules: it never goes back, never passes the leader's end, and (once it has moved) is never above
/// what any member of the committed ISR holds.
@Suite struct LeaderReplicaStatePropertyTests {
    enum Step: Sendable, CustomStringConvertible {
        case append(records: Int64)
        /// The follower fetches from its end, then receives up to `records` more (seen at its next fetch).
        case fetch(replica: Int32, records: Int64)
        case tick(milliseconds: Int64)
        case shrinkOutOfSync
        case shrink(replica: Int32)
        case expand(replica: Int32)
        case commit
        case abort

        var description: String {
            switch self {
            case .append(let records): "append(\(records))"
            case .fetch(let replica, let records): "fetch(\(replica), +\(records))"
            case .tick(let milliseconds): "tick(\(milliseconds))"
            case .shrinkOutOfSync: "shrinkOutOfSync"
            case .shrink(let replica): "shrink(\(replica))"
            case .expand(let replica): "expand(\(replica))"
            case .commit: "commit"
            case .abort: "abort"
            }
        }
    }

    static let step = zip(Gen.int(in: 0...9), Gen.int(in: 2...3), Gen.int(in: 0...8)).map { kind, replica, amount -> Step in
        let replica = Int32(replica)
        switch kind {
        case 0: return .append(records: Int64(amount))
        case 1, 2, 3: return .fetch(replica: replica, records: Int64(amount))
        case 4: return .tick(milliseconds: Int64(amount) * 2_000)
        case 5: return .shrinkOutOfSync
        case 6: return .shrink(replica: replica)
        case 7: return .expand(replica: replica)
        case 8: return .commit
        default: return .abort
        }
    }

    @Test func highWatermarkStaysSafe() async {
        let initialIsr = Gen.element(of: [[1], [1, 2], [1, 3], [1, 2, 3]] as [[Int32]]).map { $0 ?? [1] }
        await propertyCheck(count: 300, input: initialIsr, Gen.int64(in: 80...100), Self.step.array(of: 0...60)) { isr, followerStart, steps in
            let replicaLagTimeMaxMs: Int64 = 10_000
            var nowMs: Int64 = 1_000_000
            let initialHighWatermark: Int64 = 80
            var leaderLogEndOffset: Int64 = 100
            // Where each follower really is; the leader learns it at the follower's next fetch.
            var followerPositions: [Int32: Int64] = [2: followerStart, 3: followerStart]
            var state = LeaderReplicaState(
                localReplica: 1, replicas: [1, 2, 3], inSyncReplicas: isr, leaderEpoch: 1, partitionEpoch: 0,
                leaderEpochStartOffset: 100, highWatermark: initialHighWatermark, nowMs: nowMs,
                replicaLagTimeMaxMs: replicaLagTimeMaxMs)
            var previousHighWatermark = state.highWatermark
            for (index, step) in steps.enumerated() {
                switch step {
                case .append(let records):
                    leaderLogEndOffset += records
                case .fetch(let replica, let records):
                    let position = followerPositions[replica]!
                    state.recordFetch(replica: replica, fetchOffset: position, nowMs: nowMs, leaderLogEndOffset: leaderLogEndOffset)
                    followerPositions[replica] = min(leaderLogEndOffset, position + records)
                case .tick(let milliseconds):
                    nowMs += milliseconds
                case .shrinkOutOfSync:
                    _ = state.proposeShrink(state.outOfSyncReplicas(leaderLogEndOffset: leaderLogEndOffset, nowMs: nowMs))
                case .shrink(let replica):
                    _ = state.proposeShrink([replica])
                case .expand(let replica):
                    _ = state.proposeExpansion(replica)
                case .commit:
                    if let pending = state.pendingChange {
                        state.commitInSyncReplicas(pending.proposedInSyncReplicas, partitionEpoch: state.partitionEpoch + 1)
                    }
                case .abort:
                    state.abortPendingChange()
                }
                _ = state.updateHighWatermark(leaderLogEndOffset: leaderLogEndOffset, nowMs: nowMs)

                var violations: [String] = []
                if state.highWatermark < previousHighWatermark { violations.append("moved back from \(previousHighWatermark)") }
                if state.highWatermark > leaderLogEndOffset { violations.append("above the leader's end \(leaderLogEndOffset)") }
                if !state.inSyncReplicas.allSatisfy(state.maximalInSyncReplicas.contains) { violations.append("maximal ISR misses a member") }
                // Until it first moves, the high watermark is the one inherited from the previous leader.
                if state.highWatermark != initialHighWatermark {
                    for member in state.inSyncReplicas where member != 1 {
                        let known = state.followers[member]!.logEndOffset
                        if state.highWatermark > known { violations.append("ISR member \(member) holds only \(known)") }
                        if known > followerPositions[member]! { violations.append("leader thinks \(member) has more than it does") }
                    }
                }
                #expect(violations.isEmpty, "after step \(index) \(step): \(violations), \(state)")
                guard violations.isEmpty else { return }
                previousHighWatermark = state.highWatermark
            }
        }
    }
}
