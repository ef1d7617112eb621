import KafkaProtocol
import NIOCore

// MARK: - LogManager: the cleaner checkpoint and one round over the data directory

extension LogManager {
    /// Kafka's name for the per-data-directory cleaner checkpoint.
    public static let cleanerOffsetCheckpoint = OffsetCheckpointFile.cleanerOffsetFileName

    private var cleanerCheckpointFile: OffsetCheckpointFile {
        OffsetCheckpointFile(path: "\(dataDirectory)/\(Self.cleanerOffsetCheckpoint)", fileSystem: fileSystem)
    }

    /// Gives every compacted log that does not know its cleaner checkpoint the one in
    /// `cleaner-offset-checkpoint`, or its log start offset if the file has none (Kafka's default).
    ///
    /// Call once, right after ``open(dataDirectory:fileSystem:nowMs:config:)`` and before any
    /// compaction. Not later, and never for logs created after start-up: an entry left by a deleted
    /// partition would then pass for the new one's, and a checkpoint above what was really cleaned
    /// lets a clean drop a tombstone whose key still has an older value below it. (For the same
    /// reason a partition's deletion should rewrite the file: ``writeCleanerCheckpoint()``.) A log
    /// without a checkpoint is cleaned from its start, which is always safe.
    public func restoreCleanerCheckpoints() throws(CheckpointError) {
        let unknown = allLogs.filter { $0.config.isCompacted && $0.cleanerCheckpoint == nil }
        guard !unknown.isEmpty else { return }
        let stored = try cleanerCheckpointFile.read()
        for log in unknown { log.restoreCleanerCheckpoint(stored[log.topicPartition] ?? log.offsets.logStartOffset) }
    }

    /// Writes `cleaner-offset-checkpoint` from the logs' checkpoints (atomically, see
    /// ``OffsetCheckpointFile``). Logs that never knew one are left out.
    public func writeCleanerCheckpoint() throws(CheckpointError) {
        var entries: [TopicPartition: Int64] = [:]
        for log in allLogs {
            if let offset = log.cleanerCheckpoint { entries[log.topicPartition] = offset }
        }
        try cleanerCheckpointFile.write(entries)
    }

    /// One compaction round for the data directory: continues a clean in progress, else starts one
    /// on the filthiest compacted log (forced by `max.compaction.lag.ms` first, then the highest
    /// dirty ratio), as Kafka's cleaner thread does, so that one offset map is in memory at a time.
    /// Writes the cleaner checkpoint when a clean completes.
    ///
    /// - Returns: the log worked on and what was done; nil when no log is due.
    public func compact(nowMs: Int64, limits: LogCleanerLimits = LogCleanerLimits()) throws -> (TopicPartition, CompactionReport)? {
        var chosen: (log: PartitionLog, rank: (Int, Int, Double))?
        for log in allLogs.sorted(by: { $0.topicPartition < $1.topicPartition }) {
            guard let priority = log.compactionPriority(nowMs: nowMs) else { continue }
            let rank = (priority.inProgress ? 1 : 0, priority.forced ? 1 : 0, priority.dirtyRatio)
            if let best = chosen, best.rank >= rank { continue }
            chosen = (log, rank)
        }
        guard let log = chosen?.log else { return nil }
        // The recovery points go to disk before the log's first rewrite: see `persistRecoveryPoint`.
        let report = try log.compact(nowMs: nowMs, limits: limits, persistRecoveryPoint: { try self.checkpoint() })
        if report.outcome == .completed { try writeCleanerCheckpoint() }
        return (log.topicPartition, report)
    }
}
