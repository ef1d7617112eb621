import Synchronization

/// Every partition log of one data directory, and the files that describe them as a whole:
///
/// - `recovery-point-offset-checkpoint`: per partition, the offset below which data was flushed;
///   after a crash only what lies past it is scanned.
/// - `log-start-offset-checkpoint`: per partition, the first offset consumers may read (moved by
///   retention and DeleteRecords).
/// - `.strom-clean-shutdown`: present only between a clean shutdown and the next start; its
///   absence at start means a crash, so logs past their recovery points are checked.
///
/// Checkpoints use Kafka's text format and are replaced atomically (see ``OffsetCheckpointFile``).
public final class LogManager: Sendable {
    public static let cleanShutdownMarker = ".strom-clean-shutdown"
    public static let recoveryPointCheckpoint = "recovery-point-offset-checkpoint"
    public static let logStartOffsetCheckpoint = "log-start-offset-checkpoint"

    public let dataDirectory: String
    /// Internal, not private: the cleaner checkpoint (LogCleaner.swift) is written beside the others.
    let fileSystem: any StorageFileSystem
    private let logs: Mutex<[TopicPartition: PartitionLog]>
    /// Where the background scrub continues (LogManager+Scrub.swift).
    let scrubCursor = ScrubCursor()

    /// What opening the directory found, for the broker's start-up log line.
    public struct OpenReport: Sendable {
        public var cleanShutdown: Bool
        public var partitionCount: Int
        public var recoveredSegmentCount: Int
        public var truncatedBytes: Int64
    }

    private init(dataDirectory: String, fileSystem: any StorageFileSystem, logs: [TopicPartition: PartitionLog]) {
        self.dataDirectory = dataDirectory
        self.fileSystem = fileSystem
        self.logs = Mutex(logs)
    }

    /// Opens every partition directory under `dataDirectory` (creating the directory if needed).
    /// - Parameter config: the log configuration of a topic, by name.
    public static func open(
        dataDirectory: String, fileSystem: any StorageFileSystem, nowMs: Int64, config: (String) -> LogConfig
    ) throws -> (LogManager, OpenReport) {
        try fileSystem.createDirectory(dataDirectory)
        let markerPath = "\(dataDirectory)/\(cleanShutdownMarker)"
        let cleanShutdown = fileSystem.exists(markerPath)
        let recoveryPoints = try OffsetCheckpointFile(path: "\(dataDirectory)/\(recoveryPointCheckpoint)", fileSystem: fileSystem).read()
        let logStartOffsets = try OffsetCheckpointFile(path: "\(dataDirectory)/\(logStartOffsetCheckpoint)", fileSystem: fileSystem).read()
        var report = OpenReport(cleanShutdown: cleanShutdown, partitionCount: 0, recoveredSegmentCount: 0, truncatedBytes: 0)
        var logs: [TopicPartition: PartitionLog] = [:]
        for name in try fileSystem.list(dataDirectory).sorted() {
            guard let topicPartition = TopicPartition(directoryName: name) else { continue }
            let (log, logReport) = try PartitionLog.open(
                directory: "\(dataDirectory)/\(name)", topicPartition: topicPartition, config: config(topicPartition.topic),
                fileSystem: fileSystem, recoveryPoint: recoveryPoints[topicPartition] ?? 0,
                logStartOffset: logStartOffsets[topicPartition], cleanShutdown: cleanShutdown, nowMs: nowMs)
            logs[topicPartition] = log
            report.recoveredSegmentCount += logReport.recoveredSegmentCount
            report.truncatedBytes += logReport.truncatedBytes
        }
        report.partitionCount = logs.count
        let manager = LogManager(dataDirectory: dataDirectory, fileSystem: fileSystem, logs: logs)
        // Where each compacted log's dirty part starts, so a restart does not clean from scratch.
        try manager.restoreCleanerCheckpoints()
        if cleanShutdown {
            // From now on a crash must be noticed: the marker goes, durably, before any write.
            try fileSystem.remove(markerPath)
            try fileSystem.syncDirectory(dataDirectory)
        } else {
            try manager.checkpoint()
        }
        return (manager, report)
    }

    public func log(for topicPartition: TopicPartition) -> PartitionLog? {
        logs.withLock { $0[topicPartition] }
    }

    public var allLogs: [PartitionLog] {
        logs.withLock { Array($0.values) }
    }

    /// The log of `topicPartition`, created empty if it does not exist yet.
    public func createLog(_ topicPartition: TopicPartition, config: LogConfig, nowMs: Int64) throws -> PartitionLog {
        if let existing = log(for: topicPartition) { return existing }
        let (log, _) = try PartitionLog.open(
            directory: "\(dataDirectory)/\(topicPartition.directoryName)", topicPartition: topicPartition, config: config,
            fileSystem: fileSystem, cleanShutdown: true, nowMs: nowMs)
        try fileSystem.syncDirectory(dataDirectory)
        return logs.withLock { logs in
            if let raced = logs[topicPartition] { return raced }
            logs[topicPartition] = log
            return log
        }
    }

    /// Removes a partition's log and its directory (DeleteTopics).
    public func deleteLog(_ topicPartition: TopicPartition) throws {
        guard let log = logs.withLock({ $0.removeValue(forKey: topicPartition) }) else { return }
        try log.delete()
        try fileSystem.syncDirectory(dataDirectory)
        try checkpoint()
        // A partition created again under the same name must not inherit the old clean point.
        try writeCleanerCheckpoint()
    }

    /// Writes the recovery-point and log-start-offset checkpoints from the logs' current state.
    public func checkpoint() throws {
        let snapshot = logs.withLock { $0 }
        var recoveryPoints: [TopicPartition: Int64] = [:]
        var logStartOffsets: [TopicPartition: Int64] = [:]
        for (topicPartition, log) in snapshot {
            recoveryPoints[topicPartition] = log.recoveryPoint
            logStartOffsets[topicPartition] = log.offsets.logStartOffset
        }
        try OffsetCheckpointFile(path: "\(dataDirectory)/\(Self.recoveryPointCheckpoint)", fileSystem: fileSystem).write(recoveryPoints)
        try OffsetCheckpointFile(path: "\(dataDirectory)/\(Self.logStartOffsetCheckpoint)", fileSystem: fileSystem).write(logStartOffsets)
    }

    /// One retention round over every log, deleting at most `segmentsPerLogMax` segments per log.
    @discardableResult
    public func applyRetention(nowMs: Int64, segmentsPerLogMax: Int = 16) throws -> Int {
        var deleted = 0
        for log in allLogs { deleted += try log.applyRetention(nowMs: nowMs, segmentsMax: segmentsPerLogMax) }
        if deleted > 0 { try checkpoint() }
        return deleted
    }

    /// Flushes the logs whose `flush.messages` / `flush.ms` policy asks for it (Kafka's interval
    /// flushing; with the default policy every log with unflushed data). Called by the broker's
    /// background scheduler; acks=all waits go through ``GroupCommit`` instead.
    @discardableResult
    public func flushDueLogs(nowMs: Int64) throws -> Int {
        var flushed = 0
        for log in allLogs where log.needsIntervalFlush(nowMs: nowMs) {
            try log.flush(nowMs: nowMs)
            flushed += 1
        }
        return flushed
    }

    /// Clean shutdown: flush and close every log, write the checkpoints, then the marker that
    /// lets the next start skip recovery. The caller stops calling ``compact(nowMs:limits:)``
    /// (and ``applyRetention(nowMs:segmentsPerLogMax:)``) first: a round in progress would
    /// fail on the closed files. The marker is written last, so a crash before it
    /// still means recovery.
    public func shutdown() throws {
        for log in allLogs { try log.close() }
        try checkpoint()
        let marker = try fileSystem.open("\(dataDirectory)/\(Self.cleanShutdownMarker)", create: true)
        try marker.sync()
        try marker.close()
        try fileSystem.syncDirectory(dataDirectory)
    }
}
