/// The first offset a leader epoch wrote: one entry of a partition's leader epoch history.
///
/// Kafka's `EpochEntry`. The history answers OffsetsForLeaderEpoch (where did epoch N end?), which followers
/// and consumers use to find the point where their log diverged from the leader's.
public struct EpochEntry: Hashable, Sendable, CustomStringConvertible {
    public var epoch: Int32
    public var startOffset: Int64

    public init(epoch: Int32, startOffset: Int64) {
        self.epoch = epoch
        self.startOffset = startOffset
    }

    public var description: String { "EpochEntry(epoch=\(self.epoch), startOffset=\(self.startOffset))" }
}

/// A partition's `leader-epoch-checkpoint` file, in Kafka's checkpoint format: the partition's leader epoch
/// history.
///
/// The file (UTF-8, each line ending in `\n`), in the partition's directory:
///
///     0               version
///     2               number of entries
///     0 0             epoch, start offset — separated by a single space
///     3 1500
///
/// Entries are kept in the order given, which for a well-formed history is ascending epoch and start offset;
/// this file only stores the history, the leader epoch cache keeps it ordered.
///
/// ``write(_:)`` replaces the file atomically: the new contents go to `<path>.tmp`, are fsynced, and are
/// renamed over `path`, then the directory is fsynced; a crash leaves the old file or the new one, never a
/// mix. ``read()`` reports a damaged file as ``CheckpointError/malformed(path:line:reason:)`` rather than
/// guessing. One owner writes each file; concurrent writes to the same path are not supported.
public struct LeaderEpochCheckpointFile: Sendable {
    /// Kafka's name for the file, in each partition directory.
    public static let fileName = "leader-epoch-checkpoint"

    private let file: CheckpointTextFile

    /// The checkpoint's path.
    public var path: String { self.file.path }

    /// - Parameters:
    ///   - path: The checkpoint file, e.g. `<data>/<topic>-<partition>/leader-epoch-checkpoint`. Nothing is
    ///     opened yet.
    ///   - fileSystem: How to reach the disk.
    public init(path: String, fileSystem: any StorageFileSystem) {
        self.file = CheckpointTextFile(path: path, fileSystem: fileSystem)
    }

    /// The file of the partition directory `directory`.
    public init(directory: String, fileSystem: any StorageFileSystem) {
        self.init(path: "\(directory)/\(Self.fileName)", fileSystem: fileSystem)
    }

    /// Reads the history.
    ///
    /// - Returns: The entries in file order; empty if the file doesn't exist or is empty.
    /// - Throws: ``CheckpointError/malformed(path:line:reason:)`` if the file is damaged: wrong version, an entry
    ///   count that doesn't match, a line that isn't `epoch startOffset` with a single space, a negative epoch
    ///   or offset, or a last line without its newline; ``CheckpointError/io(_:)`` if the file can't be read.
    public func read() throws(CheckpointError) -> [EpochEntry] {
        try self.file.read { line throws(CheckpointError) -> EpochEntry in
            EpochEntry(
                epoch: try line.integer(at: 0, of: 2, named: "epoch", min: Int32(0)),
                startOffset: try line.integer(at: 1, of: 2, named: "start offset", min: Int64(0))
            )
        }
    }

    /// Replaces the history with `entries`, atomically and durably (see the type's documentation).
    ///
    /// - Parameter entries: The history, in order. Epochs and start offsets must be non-negative; anything
    ///   else is a Strom bug and stops the process.
    /// - Throws: ``CheckpointError/io(_:)`` if a file operation fails; the old file is then left in place.
    public func write(_ entries: [EpochEntry]) throws(CheckpointError) {
        let lines = entries.map { entry in
            precondition(entry.epoch >= 0 && entry.startOffset >= 0, "negative value in checkpoint: \(entry)")
            return "\(entry.epoch) \(entry.startOffset)"
        }
        try self.file.write(entryLines: lines)
    }
}
