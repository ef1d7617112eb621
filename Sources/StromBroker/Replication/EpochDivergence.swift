public import StromStorage

/// Where a leader epoch ended in a log, from its leader-epoch history (Kafka's
/// `LeaderEpochFileCache.endOffsetFor`): the answer to OffsetsForLeaderEpoch, and the leader's check of a
/// follower's `lastFetchedEpoch`.
public enum LeaderEpochLookup {
    /// The largest epoch not above `requested` that this log knows, and the offset where the log moved on
    /// past it (the start of the next higher epoch, or the log end offset for the latest epoch).
    ///
    /// - Parameters:
    ///   - requested: The epoch asked about; -1 asks about nothing.
    ///   - entries: The log's leader-epoch history, ascending by epoch and start offset.
    ///   - logEndOffset: The log's end offset, the end of the latest epoch.
    /// - Returns: `(-1, -1)` when the epoch is undefined or above every epoch the log knows; `(requested,
    ///   start of the first higher epoch)` when the log knows no epoch at or below it.
    public static func endOffset(forEpoch requested: Int32, entries: [EpochEntry], logEndOffset: Int64) -> (epoch: Int32, endOffset: Int64) {
        guard requested != -1 else { return (-1, -1) }
        if let latest = entries.last, latest.epoch == requested { return (requested, logEndOffset) }
        guard let higher = entries.first(where: { $0.epoch > requested }) else { return (-1, -1) }
        guard let floor = entries.last(where: { $0.epoch <= requested }) else { return (requested, higher.startOffset) }
        return (floor.epoch, higher.startOffset)
    }
}

/// Where a follower cuts its log after comparing leader-epoch histories with the leader (KIP-101, KIP-279).
public struct TruncationDecision: Sendable, Hashable {
    /// Truncate the log to this offset (keep everything below it).
    public var offset: Int64
    /// False when the follower must ask again, with its latest epoch after this truncation: the leader
    /// answered for an epoch the follower does not have, so the divergence may be earlier still.
    public var isComplete: Bool

    public init(offset: Int64, isComplete: Bool) {
        self.offset = offset
        self.isComplete = isComplete
    }
}

/// The leader-epoch arithmetic of replication: how a follower finds the point where its log left the
/// leader's, and how a leader tells a fetching follower that it diverged.
public enum EpochDivergence {
    /// The follower's truncation point from the leader's answer (Kafka's
    /// `AbstractFetcherThread.getOffsetTruncationState`).
    ///
    /// - Parameters:
    ///   - leaderEpoch: The epoch the leader answered with (its largest epoch not above the one asked).
    ///   - leaderEndOffset: Where that epoch ends in the leader's log.
    ///   - followerEntries: The follower's leader-epoch history.
    ///   - followerLogEndOffset: The follower's log end offset.
    ///   - followerHighWatermark: The follower's high watermark, the fallback when histories say nothing.
    public static func truncation(
        leaderEpoch: Int32, leaderEndOffset: Int64, followerEntries: [EpochEntry], followerLogEndOffset: Int64,
        followerHighWatermark: Int64
    ) -> TruncationDecision {
        // The leader knows nothing of the epoch: only the high watermark is known to be shared.
        guard leaderEndOffset != -1 else { return TruncationDecision(offset: followerHighWatermark, isComplete: true) }
        // An offset without an epoch (an old-style answer): cut at it.
        guard leaderEpoch != -1 else {
            return TruncationDecision(offset: min(leaderEndOffset, followerLogEndOffset), isComplete: true)
        }
        let follower = LeaderEpochLookup.endOffset(
            forEpoch: leaderEpoch, entries: followerEntries, logEndOffset: followerLogEndOffset)
        guard follower.endOffset != -1 else {
            return TruncationDecision(offset: followerHighWatermark, isComplete: true)
        }
        if follower.epoch == leaderEpoch {
            // Both logs have the epoch: they agree up to the earlier of its two ends.
            return TruncationDecision(offset: min(leaderEndOffset, follower.endOffset, followerLogEndOffset), isComplete: true)
        }
        // The follower lacks the leader's epoch: drop everything from its first later epoch and ask again
        // with what remains.
        return TruncationDecision(offset: min(follower.endOffset, followerLogEndOffset), isComplete: false)
    }

    /// The leader's check of a Fetch (v12+) that names the epoch of the last batch the follower holds.
    ///
    /// - Parameters:
    ///   - fetchOffset: The follower's fetch offset (its log end).
    ///   - lastFetchedEpoch: The epoch of the follower's last batch; negative when not given.
    ///   - entries: The leader's leader-epoch history.
    ///   - logEndOffset: The leader's log end offset.
    /// - Returns: nil when the follower's log agrees with the leader's up to `fetchOffset`; otherwise the
    ///   leader's `(epoch, endOffset)` for `lastFetchedEpoch`, returned as the diverging epoch, which the
    ///   follower passes to ``truncation(leaderEpoch:leaderEndOffset:followerEntries:followerLogEndOffset:followerHighWatermark:)``.
    public static func divergingEpoch(
        fetchOffset: Int64, lastFetchedEpoch: Int32, entries: [EpochEntry], logEndOffset: Int64
    ) -> (epoch: Int32, endOffset: Int64)? {
        guard lastFetchedEpoch >= 0 else { return nil }
        let leader = LeaderEpochLookup.endOffset(forEpoch: lastFetchedEpoch, entries: entries, logEndOffset: logEndOffset)
        if leader.epoch == lastFetchedEpoch && leader.endOffset >= fetchOffset { return nil }
        return leader
    }
}
