public import KafkaProtocol
import NIOCore
import Synchronization

/// The durable log of one partition: an ordered list of segments in `<data>/<topic>-<partition>/`.
///
/// Appends are serialised by this log's own lock; different partitions never share one. Blocking
/// file I/O happens on the caller's thread (the partition owner's), never on an event loop.
/// fsync happens outside the lock (see ``flush()``), so appenders keep going while the disk syncs.
public final class PartitionLog: Sendable {
    public let topicPartition: TopicPartition
    public let directory: String
    /// Internal, not private: the log cleaner (LogCleaner.swift) writes and swaps segment files.
    let fileSystem: any StorageFileSystem
    /// Internal, not private: the replication methods (PartitionLog+Replication.swift) use it.
    let state: Mutex<State>
    /// Serialises what writes to the active segment (appends, rolls, closing): an append holds
    /// it across its pwrite, while the state lock is held only around it. Taken before `state`.
    let appendOrder = Mutex(())
    /// Writers of `leader-epoch-checkpoint` take turns (a flush and a truncation may both write it).
    private let epochCheckpointWrites = Mutex(())
    /// Flushes take turns writing `.txnindex` entries and producer snapshots (PartitionLog+Transactions.swift).
    let transactionFileWrites = Mutex(())

    struct State: Sendable {
        var config: LogConfig
        var segments: [LogSegment]
        var offsets: PartitionOffsets
        /// Everything below this offset is known to be on disk.
        var recoveryPoint: Int64
        var leaderEpoch: Int32
        /// Where each leader epoch began (Kafka's leader-epoch cache), persisted in
        /// `leader-epoch-checkpoint`; replicas use it to find where their logs diverge.
        var epochEntries: [EpochEntry] = []
        var unflushedRecordCount: Int64 = 0
        /// Told when the high watermark moves, outside the lock (wakes long-polling fetches).
        var highWatermarkListener: (@Sendable (TopicPartition, Int64) -> Void)?
        /// Counts segment files created or removed; a flush that sees it ahead of
        /// `directorySyncedGeneration` syncs the directory, since a new segment's directory
        /// entry, not only its data, must reach the disk before data in it counts as durable.
        /// A counter rather than a flag: two flushes may run at once (``GroupCommit`` has two
        /// threads), and neither may skip the directory sync the other has not finished yet.
        var directoryGeneration = 0
        var directorySyncedGeneration = 0
        /// Counts changes to `epochEntries`; a flush that sees it ahead of `epochSyncedGeneration`
        /// writes `leader-epoch-checkpoint` (synced) before data counts as durable. A new leader
        /// epoch thus costs no sync until data written in it must be durable (Kafka syncs at once:
        /// a broker taking over thousands of partitions spent its failover in those syncs); data
        /// that was not flushed has its epochs rebuilt from its batches when the log opens.
        var epochGeneration = 0
        var epochSyncedGeneration = 0
        var lastFlushMs: Int64
        /// Set when an I/O error or corruption makes the log unsafe to serve.
        var offlineReason: String?
        /// Log compaction's checkpoint and the clean in progress (see LogCleaner.swift).
        var cleaner = LogCleanerState()
        /// Producers' sequences and open transactions, rebuilt from the newest snapshot and the
        /// batches after it when the log opens (PartitionLog+Transactions.swift).
        var producers = ProducerStates()
        /// Every aborted transaction of the log, by marker offset.
        var abortedTransactions: [AbortedTransaction] = []
        /// Aborted transactions (with their segment's base offset) not yet in a `.txnindex`.
        var unindexedAborts: [(Int64, AbortedTransaction)] = []
        /// How many entries each segment's `.txnindex` holds.
        var indexedAbortCounts: [Int64: Int] = [:]
        /// The producer state at the last roll, written as a snapshot by the next flush.
        var pendingSnapshot: (offset: Int64, producers: [Int64: ProducerStates.Producer])?
        /// Whether replication decides the high watermark (a partition with replicas on other
        /// brokers): then neither an append nor a flush moves it, ``updateHighWatermark(_:)`` does.
        var replicated = false
        /// Told, outside the lock, how far the log is durable after each flush of a replicated log
        /// (a leader's own end counts toward the high watermark only once it is on its disk).
        var durabilityListener: (@Sendable (TopicPartition, Int64) -> Void)?
        /// Whether copies from a leader may be appended: false from the moment this replica leads
        /// (``setLeaderEpoch(_:)``) until it follows again — a fetch answered by the old leader and
        /// applied late must not land after the new epoch began.
        var acceptsFollowerAppends = true
        var activeSegment: LogSegment { segments[segments.count - 1] }
    }

    /// What ``open(directory:topicPartition:config:fileSystem:recoveryPoint:logStartOffset:cleanShutdown:nowMs:)`` found.
    public struct OpenReport: Sendable, Equatable {
        public var segmentCount: Int
        public var recoveredSegmentCount: Int
        public var truncatedBytes: Int64
        public var removedSegmentCount: Int
        /// Why the log opened offline: flushed (acknowledged) data is missing or damaged.
        public var damage: String?
    }

    private init(topicPartition: TopicPartition, directory: String, fileSystem: any StorageFileSystem, state: State) {
        self.topicPartition = topicPartition
        self.directory = directory
        self.fileSystem = fileSystem
        self.state = Mutex(state)
    }

    // MARK: Opening

    /// Opens (or creates) the log in `directory`.
    ///
    /// - Parameters:
    ///   - recoveryPoint: offsets below it were flushed before the last stop; segments entirely
    ///     below it are trusted, later ones are scanned batch by batch (CRC checked) and a torn or
    ///     corrupt tail is truncated. Ignored after a clean shutdown, when nothing is scanned.
    ///   - logStartOffset: from the log-start-offset checkpoint, if any.
    public static func open(
        directory: String, topicPartition: TopicPartition, config: LogConfig, fileSystem: any StorageFileSystem,
        recoveryPoint: Int64 = 0, logStartOffset: Int64? = nil, cleanShutdown: Bool, nowMs: Int64
    ) throws(StorageIOError) -> (PartitionLog, OpenReport) {
        try fileSystem.createDirectory(directory)
        // A compaction cut short by a crash leaves `.cleaned` or `.swap` files: discard or finish
        // its swap first (LogCleaner.swift); the segments it swapped get their indexes rebuilt.
        let swappedBaseOffsets = try LogCleaner.finishInterruptedSwaps(directory: directory, fileSystem: fileSystem)
        var baseOffsets: [Int64] = []
        for name in try fileSystem.list(directory) {
            if let base = LogSegment.baseOffset(fromLogFileName: name) {
                baseOffsets.append(base)
            } else if name.hasSuffix(".tmp") {
                // Half-written checkpoint or cleaner output from before a crash.
                try fileSystem.remove("\(directory)/\(name)")
            }
        }
        baseOffsets.sort()
        var report = OpenReport(segmentCount: 0, recoveredSegmentCount: 0, truncatedBytes: 0, removedSegmentCount: 0)
        var damage: String?
        var segments: [LogSegment] = []
        var previousRecovered = false
        var unflushed: [LogSegment] = []
        for (index, base) in baseOffsets.enumerated() {
            let segment = try LogSegment.open(
                directory: directory, baseOffset: base, fileSystem: fileSystem,
                indexIntervalBytes: config.indexIntervalBytes, nowMs: nowMs)
            let nextBase = index + 1 < baseOffsets.count ? baseOffsets[index + 1] : Int64.max
            if swappedBaseOffsets.contains(base) {
                // A cleaned segment: flushed before its swap, so trusted, but compaction may have
                // left offset gaps in it, hence no contiguity check.
                report.truncatedBytes += try segment.recover(expectedFirstOffset: base, contiguous: false)
                report.recoveredSegmentCount += 1
                segments.append(segment)
                previousRecovered = false
                continue
            }
            if cleanShutdown || nextBase <= recoveryPoint {
                let cut = try segment.loadIndexes()
                // Only the newest segment may legitimately end in bytes that are not batches
                // (a write cut short); any other flushed segment that needed cutting lost data.
                if cut > 0 && index < baseOffsets.count - 1 {
                    damage = "flushed segment \(base) was cut by \(cut) bytes at \(segment.sizeBytes): truncated or damaged file"
                }
                report.truncatedBytes += cut
                segments.append(segment)
                previousRecovered = false
                continue
            }
            // Unflushed segments must form one contiguous run: if the crash cut the previous
            // segment short, this one (and every later one) holds data written after the loss.
            let hole = previousRecovered && segments.last.map { $0.nextOffset != base } ?? false
            let truncated = hole ? 0 : try segment.recover(expectedFirstOffset: base, contiguous: true)
            report.recoveredSegmentCount += 1
            report.truncatedBytes += truncated
            if !hole {
                segments.append(segment)
                unflushed.append(segment)
            }
            previousRecovered = true
            if hole || truncated > 0 {
                // Whatever follows a hole or a torn point cannot be trusted: it was written after it.
                for later in baseOffsets[(hole ? index : index + 1)...] {
                    let orphan = later == base ? segment : try LogSegment.open(
                        directory: directory, baseOffset: later, fileSystem: fileSystem,
                        indexIntervalBytes: config.indexIntervalBytes, nowMs: nowMs)
                    report.truncatedBytes += orphan.sizeBytes
                    try orphan.delete()
                    report.removedSegmentCount += 1
                }
                break
            }
        }
        if segments.isEmpty {
            let first = max(0, logStartOffset ?? 0)
            segments.append(try LogSegment.open(
                directory: directory, baseOffset: first, fileSystem: fileSystem,
                indexIntervalBytes: config.indexIntervalBytes, nowMs: nowMs))
        }
        report.segmentCount = segments.count
        let logEnd = segments[segments.count - 1].nextOffset
        let start = min(max(logStartOffset ?? segments[0].baseOffset, segments[0].baseOffset), logEnd)
        if logEnd < recoveryPoint {
            damage = "flushed data lost: the log ends at offset \(logEnd), below its recovery point \(recoveryPoint) (truncated or removed segment files)"
        }
        report.damage = damage
        // What survived the stop is on disk now (recovery read it back); sync it so the
        // recovery point and high watermark can start at the log end.
        if !cleanShutdown {
            for segment in segments { try segment.flush() }
            try fileSystem.syncDirectory(directory)
        }
        // Indexes are in memory now; their files reopen when entries are next written.
        for segment in segments { segment.releaseIndexFiles() }
        let offsets = PartitionOffsets(logStartOffset: start, lastStableOffset: logEnd, highWatermark: logEnd, logEndOffset: logEnd)
        // Epochs that start past the recovered end describe data the crash took; drop them.
        let epochFile = LeaderEpochCheckpointFile(directory: directory, fileSystem: fileSystem)
        let storedEntries = (try? epochFile.read()) ?? []
        var epochEntries = storedEntries.filter { $0.startOffset <= logEnd }
        // The checkpoint is written by flushes: batches that were never flushed may carry epochs
        // it does not have. They are taken from the batches themselves, as Kafka's recovery does.
        for segment in unflushed {
            try segment.forEachBatchHeader { header in
                if header.partitionLeaderEpoch >= 0, header.partitionLeaderEpoch > (epochEntries.last?.epoch ?? -1) {
                    epochEntries.append(EpochEntry(epoch: header.partitionLeaderEpoch, startOffset: header.baseOffset))
                }
            }
        }
        var state = State(
            config: config, segments: segments, offsets: offsets, recoveryPoint: logEnd,
            leaderEpoch: epochEntries.last?.epoch ?? 0, lastFlushMs: nowMs)
        state.epochEntries = epochEntries
        // Served offline (KAFKA_STORAGE_ERROR) rather than with a silent hole; the files stay as
        // they are for the operator.
        state.offlineReason = damage
        // A failed write is retried by the first flush.
        if epochEntries != storedEntries, (try? epochFile.write(epochEntries)) == nil { state.epochGeneration = 1 }
        try rebuildProducerState(&state, directory: directory, fileSystem: fileSystem, logEnd: logEnd)
        refreshLastStable(&state)
        return (PartitionLog(topicPartition: topicPartition, directory: directory, fileSystem: fileSystem, state: state), report)
    }

    // MARK: State

    public var offsets: PartitionOffsets { state.withLock { $0.offsets } }
    public var recoveryPoint: Int64 { state.withLock { $0.recoveryPoint } }
    public var config: LogConfig { state.withLock { $0.config } }
    public var segmentBaseOffsets: [Int64] { state.withLock { $0.segments.map(\.baseOffset) } }
    public var sizeBytes: Int64 { state.withLock { $0.segments.reduce(0) { $0 + $1.sizeBytes } } }
    public var segmentCount: Int { state.withLock { $0.segments.count } }
    public var offlineReason: String? { state.withLock { $0.offlineReason } }

    public func updateConfig(_ config: LogConfig) {
        state.withLock { $0.config = config }
    }

    public var leaderEpoch: Int32 { state.withLock { $0.leaderEpoch } }
    /// This log's `leader-epoch-checkpoint`.
    var epochCheckpoint: LeaderEpochCheckpointFile { LeaderEpochCheckpointFile(directory: directory, fileSystem: fileSystem) }
    public var epochEntries: [EpochEntry] { state.withLock { $0.epochEntries } }

    /// Starts a new leader epoch at the current log end: later batches carry it, and the
    /// leader-epoch checkpoint records where it began (written atomically before returning).
    public func setLeaderEpoch(_ epoch: Int32) {
        // Under `appendOrder`, so that no follower append is half done when the epoch starts, and
        // none lands after it (a leader's log takes no copies: see ``becomeFollower()``).
        appendOrder.withLock { _ in state.withLock { state in
            state.acceptsFollowerAppends = false
            guard epoch > state.leaderEpoch || state.epochEntries.isEmpty else { return }
            state.leaderEpoch = epoch
            state.epochEntries.removeAll { $0.startOffset >= state.offsets.logEndOffset }
            state.epochEntries.append(EpochEntry(epoch: epoch, startOffset: state.offsets.logEndOffset))
            // Written by the next flush, before anything of this epoch counts as durable.
            state.epochGeneration += 1
        } }
    }

    /// Writes `leader-epoch-checkpoint` (synced) if the epochs changed since it was last written.
    func syncEpochCheckpoint() throws(CheckpointError) {
        try epochCheckpointWrites.withLock { _ throws(CheckpointError) in
            // Read under the writers' turn: the last writer writes the newest epochs.
            let (entries, generation, synced) = state.withLock { ($0.epochEntries, $0.epochGeneration, $0.epochSyncedGeneration) }
            guard generation > synced else { return }
            try epochCheckpoint.write(entries)
            state.withLock { $0.epochSyncedGeneration = max($0.epochSyncedGeneration, generation) }
        }
    }

    // MARK: Appending

    /// Result of one append.
    public struct AppendInfo: Sendable, Equatable {
        public var firstOffset: Int64
        public var lastOffset: Int64
        /// The broker's time stamped into the batch for `LogAppendTime` topics, else -1.
        public var logAppendTimeMs: Int64
        public var logStartOffset: Int64
    }

    /// Appends one batch that ``RecordBatch/validate(mode:decompressedSizeBytesMax:)`` accepted,
    /// assigning its offsets (patched into `baseOffset`, outside the CRC) and the leader epoch.
    /// The bytes are stored as they are; nothing is decompressed.
    public func append(_ batch: RecordBatch, nowMs: Int64) throws(LogAppendError) -> AppendInfo {
        // Appends take turns on `appendOrder`; the state lock is held only to decide and then to
        // publish, so the pwrite in between does not stall fetches or the group-commit flusher.
        let marker = Self.marker(of: batch)
        let (info, listener, highWatermark) = try appendOrder.withLock { _ throws(LogAppendError) -> PublishedAppend in
            let plan = try state.withLock { (state: inout State) throws(LogAppendError) -> AppendPlan in
                try planAppend(batch, state: &state, nowMs: nowMs)
            }
            guard case .write(let segment, let position, let head, let rest, let header, let logAppendTimeMs) = plan else {
                guard case .duplicate(let published) = plan else { preconditionFailure("unhandled append plan") }
                return published
            }
            try write(head, rest, to: segment, at: position)
            return state.withLock { state in
                publishAppend(segment: segment, position: position, sizeBytes: head.readableBytes + rest.readableBytes,
                              header: header, marker: marker, logAppendTimeMs: logAppendTimeMs, state: &state)
            }
        }
        listener?(topicPartition, highWatermark)
        return info
    }

    /// Writes a planned batch (under `appendOrder`). A full disk fails this append only: what a
    /// partial write left is cut off and the next append may succeed once there is room. Any other
    /// I/O error takes the partition offline (the file's state is unknown).
    func write(_ head: ByteBuffer, _ rest: ByteBuffer, to segment: LogSegment, at position: Int64) throws(LogAppendError) {
        do throws(StorageIOError) {
            try segment.write(batchHead: head, rest: rest, at: position)
        } catch {
            if error.kind == .noSpace, (try? segment.discardUnpublishedTail()) != nil { throw .storage(error) }
            state.withLock { $0.offlineReason = "append failed: \(error)" }
            throw .storage(error)
        }
    }

    private typealias PublishedAppend = (AppendInfo, (@Sendable (TopicPartition, Int64) -> Void)?, Int64)

    /// What an append does once checked: nothing (a producer's retry), or one write.
    private enum AppendPlan {
        case duplicate(PublishedAppend)
        case write(segment: LogSegment, position: Int64, head: ByteBuffer, rest: ByteBuffer, header: RecordBatchHeader, logAppendTimeMs: Int64)
    }

    /// Checks the batch, assigns its offsets and rolls the segment if needed (under the state lock).
    private func planAppend(_ batch: RecordBatch, state: inout State, nowMs: Int64) throws(LogAppendError) -> AppendPlan {
        if let reason = state.offlineReason { throw .offline(reason: reason) }
        let sizeBytes = batch.bytes.readableBytes
        guard sizeBytes <= state.config.maxMessageSizeBytes + RecordBatchHeader.logOverheadBytes else {
            throw .batchTooLarge(sizeBytes: sizeBytes, maxBytes: state.config.maxMessageSizeBytes)
        }
        if let written = try state.producers.check(batch.header) {
            // A retry of a batch already in the log: answer with where it went, append nothing.
            return .duplicate((AppendInfo(
                firstOffset: written.firstOffset, lastOffset: written.lastOffset, logAppendTimeMs: -1,
                logStartOffset: state.offsets.logStartOffset), nil, state.offsets.highWatermark))
        }
        let firstOffset = state.offsets.logEndOffset
        var bytes = batch.bytes
        var header = batch.header
        header.baseOffset = firstOffset
        header.partitionLeaderEpoch = state.leaderEpoch
        var logAppendTimeMs: Int64 = -1
        if state.config.messageTimestampType == .logAppendTime {
            logAppendTimeMs = nowMs
            Self.stampLogAppendTime(&bytes, header: &header, nowMs: nowMs)
        }
        // The offset and leader epoch are patched into a copy of the batch's first 16 bytes
        // (outside the CRC); the payload is written from the request's buffer as it is.
        let start = bytes.readerIndex
        var head = bytes.getSlice(at: start, length: Self.patchedHeadBytes)!
        head.setRecordBatchBaseOffset(firstOffset, batchAt: head.readerIndex)
        head.setRecordBatchPartitionLeaderEpoch(state.leaderEpoch, batchAt: head.readerIndex)
        let rest = bytes.getSlice(at: start + Self.patchedHeadBytes, length: sizeBytes - Self.patchedHeadBytes)!
        do throws(StorageIOError) {
            try rollIfNeeded(&state, header: header, sizeBytes: sizeBytes, nowMs: nowMs)
        } catch {
            // No room for a new segment: this append fails, the active segment stays.
            if error.kind != .noSpace { state.offlineReason = "append failed: \(error)" }
            throw .storage(error)
        }
        let segment = state.activeSegment
        return .write(segment: segment, position: segment.sizeBytes, head: head, rest: rest, header: header, logAppendTimeMs: logAppendTimeMs)
    }

    /// Makes a written batch part of the log (under the state lock): readers and the flusher
    /// see it from here on.
    private func publishAppend(
        segment: LogSegment, position: Int64, sizeBytes: Int, header: RecordBatchHeader, marker: ControlRecordType?, logAppendTimeMs: Int64,
        state: inout State
    ) -> PublishedAppend {
        segment.recordAppend(header: header, position: position, sizeBytes: sizeBytes)
        state.offsets.logEndOffset = header.lastOffset + 1
        Self.recordProducerBatch(header, marker: marker, segmentBase: segment.baseOffset, state: &state)
        state.unflushedRecordCount += Int64(header.recordCount)
        var listener: (@Sendable (TopicPartition, Int64) -> Void)? = nil
        // A replicated log's followers wait for new data in long polls: every append wakes them.
        if state.replicated { listener = state.highWatermarkListener }
        if !state.config.flushesBeforeAcknowledging && !state.replicated {
            // Kafka's default durability: visible once written, flushed by interval.
            state.offsets.highWatermark = state.offsets.logEndOffset
            Self.refreshLastStable(&state)
            listener = state.highWatermarkListener
        }
        return (AppendInfo(
            firstOffset: header.baseOffset, lastOffset: header.lastOffset, logAppendTimeMs: logAppendTimeMs,
            logStartOffset: state.offsets.logStartOffset), listener, state.offsets.highWatermark)
    }

    /// Base offset (8), batch length (4) and partition leader epoch (4): the bytes the log patches.
    static let patchedHeadBytes = 16

    /// LogAppendTime topics carry the broker's time in `maxTimestamp` and attribute bit 3, both
    /// inside the CRC, so the CRC is recomputed (Kafka does the same).
    private static func stampLogAppendTime(_ bytes: inout ByteBuffer, header: inout RecordBatchHeader, nowMs: Int64) {
        let start = bytes.readerIndex
        var attributes = header.attributes
        attributes.rawValue |= 1 << 3
        header.attributes = attributes
        header.maxTimestamp = nowMs
        bytes.setInteger(attributes.rawValue, at: start + 21, endianness: .big)
        bytes.setInteger(nowMs, at: start + 35, endianness: .big)
        let crc = bytes.withUnsafeReadableBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[21...])) }
        bytes.setInteger(crc, at: start + 17, endianness: .big)
        header.crc = crc
    }

    func rollIfNeeded(_ state: inout State, header: RecordBatchHeader, sizeBytes: Int, nowMs: Int64) throws(StorageIOError) {
        let active = state.activeSegment
        let config = state.config
        let full = !active.canHold(
            lastOffset: header.lastOffset, additionalBytes: sizeBytes, segmentSizeBytes: Int64(config.segmentSizeBytes),
            indexSizeBytesMax: config.segmentIndexSizeBytes)
        let old = active.sizeBytes > 0 && nowMs - active.rollingTimestampMs > config.segmentMs
        guard full || old else { return }
        try roll(&state, nowMs: nowMs)
    }

    private func roll(_ state: inout State, nowMs: Int64) throws(StorageIOError) {
        let active = state.activeSegment
        guard active.sizeBytes > 0 else { return }
        try active.flushIndexes()
        let next = try LogSegment.open(
            directory: directory, baseOffset: state.offsets.logEndOffset, fileSystem: fileSystem,
            indexIntervalBytes: state.config.indexIntervalBytes, nowMs: nowMs)
        state.segments.append(next)
        state.directoryGeneration += 1
        // The producer state as of the new segment's start: a later open replays from here.
        state.pendingSnapshot = (next.baseOffset, state.producers.producers)
    }

    /// Starts a new segment now (tests, and an operator forcing a roll).
    public func roll(nowMs: Int64) throws(StorageIOError) {
        try appendOrder.withLock { _ throws(StorageIOError) in
            try state.withLock { (state: inout State) throws(StorageIOError) in try roll(&state, nowMs: nowMs) }
        }
    }

    // MARK: Durability

    /// Syncs every unflushed segment and moves the recovery point (and, when the flush policy
    /// holds acknowledgement for durability, the high watermark) to the log end seen at the start.
    /// The fsync runs outside the lock, so appends continue meanwhile. Returns the durable offset.
    @discardableResult
    public func flush(nowMs: Int64 = 0) throws(StorageIOError) -> Int64 {
        let captured = state.withLock { (state: inout State) in
            let dirty = state.segments.filter { $0.nextOffset > state.recoveryPoint || $0 === state.activeSegment }
            // Index entries go to their files with the data they describe (not synced: indexes
            // are rebuilt when they disagree with the log). They are caches: on a full disk they
            // stay pending for a later flush, and the data is made durable all the same — failing
            // here would refuse records that are in the log and served after the next flush.
            for segment in dirty { try? segment.writePendingIndexEntries() }
            // A new snapshot or `.txnindex` file is durable only once the directory is synced.
            if state.pendingSnapshot != nil || !state.unindexedAborts.isEmpty { state.directoryGeneration += 1 }
            let generation = state.directoryGeneration > state.directorySyncedGeneration ? state.directoryGeneration : nil
            return (state.offsets.logEndOffset, dirty, generation)
        }
        let (target, dirty, directoryGeneration) = captured
        do throws(StorageIOError) {
            do throws(CheckpointError) {
                try syncEpochCheckpoint()
            } catch {
                // Writing raises only I/O errors (malformed is a reading error).
                guard case .io(let io) = error else { throw StorageIOError(kind: .other, operation: "\(error)", path: directory) }
                throw io
            }
            writeTransactionFiles()
            for segment in dirty { try segment.flush() }
            // A new segment's directory entry must be durable too, or a power cut could lose the file.
            if let directoryGeneration {
                try fileSystem.syncDirectory(directory)
                state.withLock { $0.directorySyncedGeneration = max($0.directorySyncedGeneration, directoryGeneration) }
            }
        } catch {
            state.withLock { $0.offlineReason = "flush failed: \(error)" }
            throw error
        }
        let (durable, listener, reported) = state.withLock { state in
            if target > state.recoveryPoint {
                state.recoveryPoint = target
                state.unflushedRecordCount = 0
            }
            state.lastFlushMs = nowMs
            var listener: (@Sendable (TopicPartition, Int64) -> Void)? = nil
            if state.replicated {
                listener = state.durabilityListener
            } else if state.config.flushesBeforeAcknowledging && target > state.offsets.highWatermark {
                state.offsets.highWatermark = target
                Self.refreshLastStable(&state)
                listener = state.highWatermarkListener
            }
            return (state.recoveryPoint, listener, state.replicated ? state.recoveryPoint : state.offsets.highWatermark)
        }
        listener?(topicPartition, reported)
        return durable
    }

    /// Registers who to tell when the high watermark moves (the broker's long-poll fetches).
    /// Called outside the log's lock, possibly on the group-commit thread: keep it short.
    public func setHighWatermarkListener(_ listener: (@Sendable (TopicPartition, Int64) -> Void)?) {
        state.withLock { $0.highWatermarkListener = listener }
    }

    /// Whether Kafka's interval policy (`flush.messages`, `flush.ms`) asks for a flush now.
    public func needsIntervalFlush(nowMs: Int64) -> Bool {
        state.withLock { state in
            guard state.offsets.logEndOffset > state.recoveryPoint else { return false }
            if state.config.flushesBeforeAcknowledging { return true }
            return state.unflushedRecordCount >= state.config.flushIntervalMessages
                || nowMs - state.lastFlushMs >= state.config.flushIntervalMs
        }
    }

    // MARK: Reading

    public struct ReadInfo: Sendable {
        /// Whole batches, in order; empty when nothing is readable yet.
        public var slices: [FileSlice]
        public var offsets: PartitionOffsets
        /// For a read of committed data: the aborted transactions its records overlap.
        public var abortedTransactions: [AbortedTransaction]?
        public var sizeBytes: Int { slices.reduce(0) { $0 + $1.lengthBytes } }
    }

    /// The batches from `offset` on, up to `maxBytes` (KIP-74: the first batch is returned whole
    /// even when larger, if `minOneBatch`), never past the high watermark (or the log end for
    /// replicas reading with `upToLogEnd`, the last stable offset for read_committed consumers
    /// reading with `committedOnly`).
    public func read(
        from offset: Int64, maxBytes: Int, minOneBatch: Bool = true, upToLogEnd: Bool = false, committedOnly: Bool = false
    ) throws(LogReadError) -> ReadInfo {
        try state.withLock { (state: inout State) throws(LogReadError) -> ReadInfo in
            if let reason = state.offlineReason { throw .offline(reason: reason) }
            let offsets = state.offsets
            guard offset >= offsets.logStartOffset, offset <= offsets.logEndOffset else {
                throw .offsetOutOfRange(requested: offset, logStartOffset: offsets.logStartOffset, logEndOffset: offsets.logEndOffset)
            }
            let end = upToLogEnd ? offsets.logEndOffset : committedOnly ? offsets.lastStableOffset : offsets.highWatermark
            var slices: [FileSlice] = []
            var remaining = maxBytes
            var position = offset
            // Start with the last segment whose base offset is ≤ the requested offset.
            var index = state.segments.lastIndex { $0.baseOffset <= offset } ?? 0
            do throws(StorageIOError) {
                // Consecutive batches only: stop at the first segment that cannot contribute
                // whole, or the reader would see a gap.
                while index < state.segments.count, position < end {
                    let segment = state.segments[index]
                    if segment.nextOffset > position {
                        guard let (slice, next) = try segment.read(
                            from: position, maxBytes: max(remaining, 0), endOffsetExclusive: end, minOneBatch: minOneBatch && slices.isEmpty)
                        else { break }
                        slices.append(slice)
                        remaining -= slice.lengthBytes
                        position = next
                        if remaining <= 0 || position < segment.nextOffset { break }
                    }
                    index += 1
                }
            } catch {
                throw .storage(error)
            }
            let aborted = committedOnly ? Self.abortedTransactions(state, from: offset, to: position) : nil
            return ReadInfo(slices: slices, offsets: offsets, abortedTransactions: aborted)
        }
    }

    /// The earliest offset whose record timestamp is ≥ `timestampMs` (ListOffsets by time), with
    /// that record's timestamp; nil when every record is older.
    public func offset(forTimestamp timestampMs: Int64, decompressedSizeBytesMax: Int = 64 << 20) throws(LogReadError) -> (offset: Int64, timestampMs: Int64)? {
        let (segments, offsets) = state.withLock { ($0.segments, $0.offsets) }
        do {
            for segment in segments where segment.largestTimestampMs >= timestampMs {
                let startOffset = max(segment.timeIndex.lookup(timestampMs: timestampMs), offsets.logStartOffset)
                guard let (position, _) = try segment.locate(offset: startOffset) else { continue }
                var found: (Int64, Int64)? = nil
                try segment.forEachBatch(from: position) { _, batch in
                    guard batch.header.baseOffset < offsets.highWatermark else { return false }
                    guard batch.header.maxTimestamp >= timestampMs else { return true }
                    var records = try batch.records(decompressedSizeBytesMax: decompressedSizeBytesMax)
                    while let record = try records.next() {
                        let offset = batch.header.baseOffset + Int64(record.offsetDelta)
                        let timestamp = batch.header.attributes.timestampType == .logAppendTime
                            ? batch.header.maxTimestamp : batch.header.baseTimestamp + record.timestampDelta
                        if offset >= offsets.logStartOffset && timestamp >= timestampMs {
                            found = (offset, timestamp)
                            return false
                        }
                    }
                    return true
                }
                if let found { return found }
            }
        } catch let error as StorageIOError {
            throw .storage(error)
        } catch {
            throw .offline(reason: "unreadable batch while searching by timestamp: \(error)")
        }
        return nil
    }

    /// The largest timestamp below the high watermark and the offset of the first record that
    /// holds it (ListOffsets MAX_TIMESTAMP, KIP-734): a record's own offset, not its batch's last
    /// (Kafka's KAFKA-16310).
    public func maxTimestamp(decompressedSizeBytesMax: Int = 64 << 20) throws(LogReadError) -> (offset: Int64, timestampMs: Int64)? {
        let largest = state.withLock { $0.segments.map(\.largestTimestampMs).max() ?? -1 }
        guard largest >= 0 else { return nil }
        // No record is later than `largest`, so the first at or after it is the first that holds it.
        return try offset(forTimestamp: largest, decompressedSizeBytesMax: decompressedSizeBytesMax)
    }

    // MARK: Start offset and truncation

    /// DeleteRecords: moves the log start offset forward (never past the high watermark).
    /// Whole segments below it are removed by the next retention round.
    public func advanceLogStartOffset(to offset: Int64) throws(LogReadError) -> Int64 {
        try state.withLock { (state: inout State) throws(LogReadError) -> Int64 in
            guard offset <= state.offsets.highWatermark else {
                throw .offsetOutOfRange(requested: offset, logStartOffset: state.offsets.logStartOffset, logEndOffset: state.offsets.highWatermark)
            }
            if offset > state.offsets.logStartOffset { state.offsets.logStartOffset = offset }
            return state.offsets.logStartOffset
        }
    }

    // MARK: Closing

    /// Flushes and closes every file (clean shutdown).
    public func close() throws(StorageIOError) {
        try appendOrder.withLock { _ throws(StorageIOError) in
            // A clean stop leaves the producer state at the log end: the next open replays nothing.
            state.withLock { $0.pendingSnapshot = ($0.offsets.logEndOffset, $0.producers.producers) }
            try flush()
            try state.withLock { (state: inout State) throws(StorageIOError) in
                for segment in state.segments {
                    try segment.flushIndexes()
                    segment.close()
                }
            }
        }
    }

    /// Removes the partition's directory (DeleteTopics).
    public func delete() throws(StorageIOError) {
        appendOrder.withLock { _ in
            state.withLock { state in
                for segment in state.segments { segment.close() }
                state.offlineReason = "deleted"
            }
        }
        try fileSystem.removeTree(directory)
    }

    // MARK: For retention and compaction

    func withState<Result, Failure: Error>(_ body: (inout State) throws(Failure) -> Result) throws(Failure) -> Result {
        try state.withLock { (state: inout State) throws(Failure) -> Result in try body(&state) }
    }
}
