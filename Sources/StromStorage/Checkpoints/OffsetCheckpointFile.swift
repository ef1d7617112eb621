/// A per-data-directory file mapping partitions to offsets, in Kafka's checkpoint format, so that a Kafka
/// operator's tools and habits work on Strom's data directories.
///
/// Kafka keeps several of these in each data directory, all in this format: ``recoveryPointFileName`` (up to
/// where each log is known to be flushed, so recovery after a crash scans only past it),
/// ``logStartOffsetFileName`` (each log's start offset, moved by retention and DeleteRecords),
/// ``replicationOffsetFileName`` (each partition's high watermark) and ``cleanerOffsetFileName`` (how far
/// compaction has cleaned).
///
/// The file (UTF-8, each line ending in `\n`):
///
///     0                       version
///     2                       number of entries
///     orders 0 1500           topic, partition, offset — separated by single spaces
///     orders.eu-west 3 0
///
/// Entries are written sorted by topic, then partition, so the same map always gives the same bytes. Topic
/// names never contain spaces (Kafka allows only ASCII letters, digits, `.`, `_` and `-`), which is what lets
/// the format separate fields with spaces.
///
/// ``write(_:)`` replaces the file atomically: the new contents go to `<path>.tmp`, are fsynced, and are
/// renamed over `path`, then the directory is fsynced; a crash leaves the old file or the new one, never a
/// mix. ``read()`` reports a damaged file as ``CheckpointError/malformed(path:line:reason:)`` rather than
/// guessing. One owner writes each file; concurrent writes to the same path are not supported.
public struct OffsetCheckpointFile: Sendable {
    /// Kafka's name for the recovery point checkpoint.
    public static let recoveryPointFileName = "recovery-point-offset-checkpoint"
    /// Kafka's name for the log start offset checkpoint.
    public static let logStartOffsetFileName = "log-start-offset-checkpoint"
    /// Kafka's name for the high watermark checkpoint.
    public static let replicationOffsetFileName = "replication-offset-checkpoint"
    /// Kafka's name for the log cleaner's checkpoint.
    public static let cleanerOffsetFileName = "cleaner-offset-checkpoint"

    private let file: CheckpointTextFile

    /// The checkpoint's path.
    public var path: String { self.file.path }

    /// - Parameters:
    ///   - path: The checkpoint file, e.g. `<data>/recovery-point-offset-checkpoint`. Nothing is opened yet.
    ///   - fileSystem: How to reach the disk.
    public init(path: String, fileSystem: any StorageFileSystem) {
        self.file = CheckpointTextFile(path: path, fileSystem: fileSystem)
    }

    /// Reads the checkpoint.
    ///
    /// - Returns: The offset of each partition listed; empty if the file doesn't exist or is empty (Kafka
    ///   creates it empty before the first write).
    /// - Throws: ``CheckpointError/malformed(path:line:reason:)`` if the file is damaged: wrong version, an entry
    ///   count that doesn't match, a line that isn't `topic partition offset` with single spaces, a negative
    ///   partition or offset, a partition listed twice, or a last line without its newline;
    ///   ``CheckpointError/io(_:)`` if the file can't be read.
    public func read() throws(CheckpointError) -> [TopicPartition: Int64] {
        var offsets: [TopicPartition: Int64] = [:]
        let entries = try self.file.read { line throws(CheckpointError) -> (TopicPartition, Int64, CheckpointLine) in
            let topic = try line.string(at: 0, of: 3, named: "topic")
            let partition = try line.integer(at: 1, of: 3, named: "partition", min: Int32(0))
            let offset = try line.integer(at: 2, of: 3, named: "offset", min: Int64(0))
            return (TopicPartition(topic: topic, partition: partition), offset, line)
        }
        offsets.reserveCapacity(entries.count)
        for (topicPartition, offset, line) in entries {
            // Kafka writes from a map, so a repeated partition means the file was damaged or hand-edited.
            guard offsets.updateValue(offset, forKey: topicPartition) == nil else {
                throw line.malformed("\(topicPartition) is listed twice")
            }
        }
        return offsets
    }

    /// Replaces the checkpoint with `entries`, atomically and durably (see the type's documentation).
    ///
    /// - Parameter entries: The offset of each partition. Topics must be non-empty and free of whitespace and
    ///   partitions and offsets non-negative: the broker validates topic names when topics are created and
    ///   offsets are never negative, so anything else is a Strom bug and stops the process.
    /// - Throws: ``CheckpointError/io(_:)`` if a file operation fails; the old file is then left in place.
    public func write(_ entries: [TopicPartition: Int64]) throws(CheckpointError) {
        let lines = entries.sorted(by: { $0.key < $1.key }).map { topicPartition, offset in
            precondition(
                !topicPartition.topic.isEmpty
                    && !topicPartition.topic.unicodeScalars.contains(where: \.properties.isWhitespace),
                "topic name unfit for a checkpoint file: \"\(topicPartition.topic)\""
            )
            precondition(topicPartition.partition >= 0, "negative partition in checkpoint: \(topicPartition)")
            precondition(offset >= 0, "negative offset \(offset) for \(topicPartition) in checkpoint")
            return "\(topicPartition.topic) \(topicPartition.partition) \(offset)"
        }
        try self.file.write(entryLines: lines)
    }
}
