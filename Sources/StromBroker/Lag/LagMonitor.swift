public import StromStorage
import Synchronization

/// Consumer lag of the groups this broker coordinates (and only those: on a cluster each group is
/// judged once, by its coordinator), evaluated as Burrow does. Samples come from the coordinator's
/// committed offsets: a commit newer than the last one seen (by its commit time, so a commit of an
/// unchanged offset counts too) joins the partition's window with the log end offset at sampling.
public final class LagMonitor: Sendable {
    public struct Key: Hashable, Sendable, Comparable {
        public var group: String
        public var topic: String
        public var partition: Int32

        public init(group: String, topic: String, partition: Int32) {
            self.group = group
            self.topic = topic
            self.partition = partition
        }

        var topicPartition: TopicPartition { TopicPartition(topic: topic, partition: partition) }

        public static func < (lhs: Key, rhs: Key) -> Bool {
            (lhs.group, lhs.topic, lhs.partition) < (rhs.group, rhs.topic, rhs.partition)
        }
    }

    /// A committed offset as the coordinator holds it.
    public struct Commit: Sendable, Equatable {
        public var key: Key
        public var offset: Int64
        public var commitTimestampMs: Int64
        /// Records after `offset` already done (a share group's acknowledged records past its start
        /// offset); 0 for consumer groups.
        public var completedAfter: Int64

        public init(key: Key, offset: Int64, commitTimestampMs: Int64, completedAfter: Int64 = 0) {
            self.key = key
            self.offset = offset
            self.commitTimestampMs = commitTimestampMs
            self.completedAfter = completedAfter
        }
    }

    /// One partition of a group, now.
    public struct PartitionLag: Sendable, Equatable {
        public var key: Key
        public var committedOffset: Int64
        public var logEndOffset: Int64
        /// Records not read yet.
        public var lag: Int64
        /// How old the oldest record not read yet is (0 without lag); nil when its time is unknown.
        public var timeLagMs: Int64?
        public var status: PartitionLagStatus
    }

    private struct Tracked {
        var window: LagWindow
        var lastCommitMs: Int64
        var committedOffset: Int64
        var completedAfter: Int64 = 0
    }

    private let tracked = Mutex<[Key: Tracked]>([:])
    private let windowCapacity: Int
    private let minimumDistanceMs: Int64

    public init(windowCapacity: Int = 10, minimumDistanceMs: Int64 = 1_000) {
        self.windowCapacity = windowCapacity
        self.minimumDistanceMs = minimumDistanceMs
    }

    /// Takes the coordinator's committed offsets. Partitions whose log end is unknown here are left
    /// out; keys missing from `commits` are forgotten (the group moved, was deleted or expired).
    public func sample(_ commits: [Commit], logEndOffset: (TopicPartition) -> Int64?) {
        tracked.withLock { tracked in
            var seen = Set<Key>()
            for commit in commits {
                guard let logEnd = logEndOffset(commit.key.topicPartition) else { continue }
                seen.insert(commit.key)
                var entry = tracked[commit.key] ?? Tracked(
                    window: LagWindow(capacity: windowCapacity, minimumDistanceMs: minimumDistanceMs), lastCommitMs: .min,
                    committedOffset: commit.offset)
                if commit.commitTimestampMs > entry.lastCommitMs {
                    entry.window.record(.init(offset: commit.offset, logEndOffset: logEnd, timeMs: commit.commitTimestampMs))
                    entry.lastCommitMs = commit.commitTimestampMs
                }
                entry.committedOffset = commit.offset
                entry.completedAfter = commit.completedAfter
                tracked[commit.key] = entry
            }
            for key in tracked.keys where !seen.contains(key) { tracked[key] = nil }
        }
    }

    /// Every tracked partition's lag and status, sorted by group, topic and partition.
    /// - Parameter timestamp: the write time of the record at an offset (``PartitionLog/batchTimestamp(at:)``).
    public func evaluate(
        logEndOffset: (TopicPartition) -> Int64?, timestamp: (TopicPartition, Int64) -> Int64?, nowMs: Int64
    ) -> [PartitionLag] {
        let entries = tracked.withLock { $0 }
        return entries.keys.sorted().compactMap { key in
            let entry = entries[key]!
            guard let logEnd = logEndOffset(key.topicPartition) else { return nil }
            let lag = max(0, logEnd - entry.committedOffset - entry.completedAfter)
            let timeLagMs: Int64? = lag == 0 ? 0 : timestamp(key.topicPartition, entry.committedOffset).map { max(0, nowMs - $0) }
            return PartitionLag(
                key: key, committedOffset: entry.committedOffset, logEndOffset: logEnd, lag: lag, timeLagMs: timeLagMs,
                status: LagEvaluator.status(of: entry.window, logEndOffset: logEnd, nowMs: nowMs))
        }
    }
}
