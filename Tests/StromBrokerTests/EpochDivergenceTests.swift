import PropertyBased
import StromStorage
import Testing

@testable import StromBroker

/// Leader-epoch arithmetic: the OffsetsForLeaderEpoch lookup, the follower's truncation point, and
/// the leader's diverging-epoch check on Fetch.
@Suite struct EpochDivergenceTests {
    /// Epoch 1 from offset 0, 3 from 10, 5 from 20; the log ends at 30.
    static let entries = [EpochEntry(epoch: 1, startOffset: 0), EpochEntry(epoch: 3, startOffset: 10), EpochEntry(epoch: 5, startOffset: 20)]

    static func lookup(_ epoch: Int32, _ entries: [EpochEntry] = entries, logEndOffset: Int64 = 30) -> [Int64] {
        let answer = LeaderEpochLookup.endOffset(forEpoch: epoch, entries: entries, logEndOffset: logEndOffset)
        return [Int64(answer.epoch), answer.endOffset]
    }

    @Test func lookup() {
        #expect(Self.lookup(-1) == [-1, -1])
        // The latest epoch runs to the log end.
        #expect(Self.lookup(5) == [5, 30])
        // An earlier epoch ends where the next one starts.
        #expect(Self.lookup(3) == [3, 20])
        #expect(Self.lookup(1) == [1, 10])
        // An epoch the log skipped: the largest epoch below it, ending where the next one starts.
        #expect(Self.lookup(4) == [3, 20])
        #expect(Self.lookup(2) == [1, 10])
        // Below every epoch: the asked epoch, ending where the log's first epoch starts.
        #expect(Self.lookup(0) == [0, 0])
        // Above every epoch: unknown.
        #expect(Self.lookup(6) == [-1, -1])
        #expect(Self.lookup(2, []) == [-1, -1])
    }

    static let followerEntries = [EpochEntry(epoch: 1, startOffset: 0), EpochEntry(epoch: 3, startOffset: 10), EpochEntry(epoch: 4, startOffset: 18)]

    static func truncation(
        leaderEpoch: Int32, leaderEndOffset: Int64, entries: [EpochEntry] = followerEntries, logEndOffset: Int64 = 25
    ) -> TruncationDecision {
        EpochDivergence.truncation(
            leaderEpoch: leaderEpoch, leaderEndOffset: leaderEndOffset, followerEntries: entries,
            followerLogEndOffset: logEndOffset, followerHighWatermark: 7)
    }

    @Test func truncation() {
        // The leader knows nothing: back to the high watermark.
        #expect(Self.truncation(leaderEpoch: -1, leaderEndOffset: -1) == TruncationDecision(offset: 7, isComplete: true))
        #expect(Self.truncation(leaderEpoch: 3, leaderEndOffset: -1) == TruncationDecision(offset: 7, isComplete: true))
        // An offset without an epoch.
        #expect(Self.truncation(leaderEpoch: -1, leaderEndOffset: 15) == TruncationDecision(offset: 15, isComplete: true))
        #expect(Self.truncation(leaderEpoch: -1, leaderEndOffset: 40) == TruncationDecision(offset: 25, isComplete: true))
        // Both have epoch 3 (the follower's ends at 18): the earlier end.
        #expect(Self.truncation(leaderEpoch: 3, leaderEndOffset: 15) == TruncationDecision(offset: 15, isComplete: true))
        #expect(Self.truncation(leaderEpoch: 3, leaderEndOffset: 22) == TruncationDecision(offset: 18, isComplete: true))
        #expect(Self.truncation(leaderEpoch: 4, leaderEndOffset: 30) == TruncationDecision(offset: 25, isComplete: true))
        // The follower lacks epoch 2: drop from its first later epoch (3 at 10) and ask again.
        #expect(Self.truncation(leaderEpoch: 2, leaderEndOffset: 12) == TruncationDecision(offset: 10, isComplete: false))
        // No history: the high watermark.
        #expect(Self.truncation(leaderEpoch: 3, leaderEndOffset: 15, entries: [], logEndOffset: 0) == TruncationDecision(offset: 7, isComplete: true))
        // Every follower epoch is above the leader's: nothing before the follower's first epoch is shared.
        #expect(Self.truncation(leaderEpoch: 2, leaderEndOffset: 8, entries: [EpochEntry(epoch: 4, startOffset: 5)], logEndOffset: 9)
            == TruncationDecision(offset: 5, isComplete: true))
    }

    static func diverging(fetchOffset: Int64, lastFetchedEpoch: Int32) -> [Int64]? {
        EpochDivergence.divergingEpoch(fetchOffset: fetchOffset, lastFetchedEpoch: lastFetchedEpoch, entries: entries, logEndOffset: 30)
            .map { [Int64($0.epoch), $0.endOffset] }
    }

    @Test func divergingEpoch() {
        // No epoch given (Fetch before v12, or an empty follower): nothing to check.
        #expect(Self.diverging(fetchOffset: 25, lastFetchedEpoch: -1) == nil)
        #expect(Self.diverging(fetchOffset: 25, lastFetchedEpoch: 5) == nil)
        #expect(Self.diverging(fetchOffset: 20, lastFetchedEpoch: 3) == nil)
        #expect(Self.diverging(fetchOffset: 15, lastFetchedEpoch: 3) == nil)
        // The follower has more of epoch 3 than the leader wrote.
        #expect(Self.diverging(fetchOffset: 22, lastFetchedEpoch: 3) == [3, 20])
        // The follower has an epoch the leader never had.
        #expect(Self.diverging(fetchOffset: 12, lastFetchedEpoch: 4) == [3, 20])
        #expect(Self.diverging(fetchOffset: 12, lastFetchedEpoch: 7) == [-1, -1])
    }
}

/// A model of replication over three replicas: leaders change, append, and followers copy prefixes
/// of the leader's log, so followers are left with stale and diverged tails. A follower joining a new
/// leader runs the truncation protocol (by OffsetsForLeaderEpoch or by Fetch's diverging epoch) and
/// must end with a prefix of the leader's log, cut exactly where the two logs part, and never below a
/// committed offset it held.
@Suite struct EpochDivergenceModelTests {
    /// One replica: the epoch of each record (by offset) and its leader-epoch history.
    struct Replica: CustomStringConvertible {
        var log: [Int32] = []
        var entries: [EpochEntry] = []
        var logEndOffset: Int64 { Int64(log.count) }
        var latestEpoch: Int32 { entries.last?.epoch ?? -1 }

        /// As `PartitionLog.setLeaderEpoch`: the new epoch starts at the log end.
        mutating func becomeLeader(epoch: Int32) {
            let start = logEndOffset
            entries.removeAll { $0.startOffset >= start }
            entries.append(EpochEntry(epoch: epoch, startOffset: start))
        }

        /// A follower appends a record of the leader's; a new epoch starts an entry where its first record lands.
        mutating func append(epoch: Int32) {
            if epoch > latestEpoch {
                let start = logEndOffset
                entries.removeAll { $0.startOffset >= start }
                entries.append(EpochEntry(epoch: epoch, startOffset: start))
            }
            log.append(epoch)
        }

        /// Cuts the log at `offset`. The history is cut even when no record goes (as Kafka's `truncateTo`
        /// does): a replica that led an epoch without appending keeps an entry at its log end that the new
        /// leader never had, and a fetch naming that epoch would diverge forever.
        mutating func truncate(to offset: Int64) {
            let cut = min(max(0, offset), logEndOffset)
            log.removeLast(log.count - Int(cut))
            entries.removeAll { $0.startOffset >= cut }
        }

        var description: String { "log \(log), entries \(entries.map { "\($0.epoch)@\($0.startOffset)" })" }
    }

    /// One leadership: who leads (an index into the replicas that may lead cleanly), how many records it
    /// appends, and what each replica does: 0 sits out, 1 only truncates, 2 copies half the gap, 3-4 copy
    /// everything.
    struct Round: Sendable {
        var leaderChoice: Int
        var appendedRecords: Int
        var replication: [Int]
        var truncatesByFetch: Bool
    }

    static let round = zip(Gen.int(in: 0...2), Gen.int(in: 0...3), Gen.int(in: 0...4).array(of: 3), Gen.bool)
        .map { leaderChoice, appendedRecords, replication, truncatesByFetch in
            Round(leaderChoice: leaderChoice, appendedRecords: appendedRecords, replication: replication, truncatesByFetch: truncatesByFetch)
        }

    static func commonPrefixCount(_ left: [Int32], _ right: [Int32]) -> Int {
        zip(left, right).prefix { $0 == $1 }.count
    }

    /// Runs the truncation protocol until it completes; nil if it does not within `roundsMax` exchanges.
    static func truncateToFollow(_ follower: inout Replica, leader: Replica, highWatermark: Int64, byFetch: Bool) -> Int? {
        let roundsMax = 32
        for exchange in 0..<roundsMax {
            let answer: (epoch: Int32, endOffset: Int64)
            if byFetch {
                guard let diverging = EpochDivergence.divergingEpoch(
                    fetchOffset: follower.logEndOffset, lastFetchedEpoch: follower.latestEpoch, entries: leader.entries,
                    logEndOffset: leader.logEndOffset)
                else { return exchange }
                answer = diverging
            } else {
                // OffsetsForLeaderEpoch for the follower's latest epoch; an empty follower has nothing to check.
                guard follower.latestEpoch >= 0 else { return exchange }
                answer = LeaderEpochLookup.endOffset(
                    forEpoch: follower.latestEpoch, entries: leader.entries, logEndOffset: leader.logEndOffset)
            }
            let decision = EpochDivergence.truncation(
                leaderEpoch: answer.epoch, leaderEndOffset: answer.endOffset, followerEntries: follower.entries,
                followerLogEndOffset: follower.logEndOffset, followerHighWatermark: min(highWatermark, follower.logEndOffset))
            follower.truncate(to: decision.offset)
            if decision.isComplete && !byFetch { return exchange + 1 }
        }
        return nil
    }

    @Test func followersEndWithAPrefixOfTheLeaderAndKeepCommittedRecords() async {
        await propertyCheck(count: 200, input: Self.round.array(of: 1...12)) { rounds in
            var replicas = [Replica(), Replica(), Replica()]
            // The committed records (their epochs): on a majority, and on whoever may lead next.
            var committed: [Int32] = []
            var leaderIndex = 0
            var history: [String] = []
            for (roundIndex, round) in rounds.enumerated() {
                let epoch = Int32(roundIndex + 1)
                // A clean election: only a replica holding every committed record may lead.
                let eligible = replicas.indices.filter { Self.commonPrefixCount(replicas[$0].log, committed) == committed.count }
                // The last leader always qualifies (followers never lose committed records, checked below).
                guard !eligible.isEmpty else {
                    Issue.record("no replica holds the committed records: \(replicas), \(history)")
                    return
                }
                leaderIndex = eligible[round.leaderChoice % eligible.count]
                replicas[leaderIndex].becomeLeader(epoch: epoch)
                for _ in 0..<round.appendedRecords { replicas[leaderIndex].log.append(epoch) }
                history.append("epoch \(epoch): leader \(leaderIndex) appends \(round.appendedRecords)")
                let leader = replicas[leaderIndex]

                for followerIndex in replicas.indices where followerIndex != leaderIndex && round.replication[followerIndex] > 0 {
                    var follower = replicas[followerIndex]
                    let before = follower
                    let exchanges = Self.truncateToFollow(
                        &follower, leader: leader, highWatermark: Int64(committed.count), byFetch: round.truncatesByFetch)
                    let context = "follower \(followerIndex) before \(before), after \(follower), leader \(leader), \(history)"
                    let completed = exchanges != nil
                    let isPrefix = follower.log == Array(leader.log.prefix(follower.log.count))
                    let cutWhereLogsPart = follower.log.count == Self.commonPrefixCount(before.log, leader.log)
                    let keptCommitted = follower.log.count >= Self.commonPrefixCount(before.log, committed)
                    #expect(completed, "truncation did not complete: \(context)")
                    #expect(isPrefix, "not a prefix of the leader: \(context)")
                    #expect(cutWhereLogsPart, "not cut where the logs part: \(context)")
                    #expect(keptCommitted, "a committed record was truncated: \(context)")
                    guard completed, isPrefix, cutWhereLogsPart, keptCommitted else { return }

                    let gap = leader.log.count - follower.log.count
                    let copied = [0, 0, (gap + 1) / 2, gap, gap][round.replication[followerIndex]]
                    for offset in follower.log.count..<(follower.log.count + copied) { follower.append(epoch: leader.log[offset]) }
                    replicas[followerIndex] = follower
                    history.append("  follower \(followerIndex) truncates to \(before.log.count)→\(follower.log.count - copied), copies \(copied)")
                }

                // Committed: what the leader and at least one other replica hold identically.
                let replicated = replicas.indices.filter { $0 != leaderIndex }
                    .map { Self.commonPrefixCount(replicas[$0].log, leader.log) }.max() ?? 0
                if replicated > committed.count { committed = Array(leader.log.prefix(replicated)) }
                history.append("  committed \(committed.count)")
            }
            // Every replica's history matches its log: each entry starts where its epoch's records start.
            for replica in replicas {
                for (offset, recordEpoch) in replica.log.enumerated() {
                    let covering = replica.entries.last { $0.startOffset <= Int64(offset) }
                    #expect(covering?.epoch == recordEpoch, "\(replica), \(history)")
                }
            }
        }
    }
}
