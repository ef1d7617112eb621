import KafkaProtocol
import NIOCore

// Log compaction (`cleanup.policy=compact` and `compact,delete`), after Kafka's log cleaner
// (`LogCleaner.scala`, `LogCleanerManager.scala`): keep the latest record of every key, at its
// original offset, in the part of the log that no longer changes.
//
// ## Where a clean runs
//
// The log splits into a *clean* part `[logStartOffset, firstDirtyOffset)`, compacted before, and a
// *dirty* part after it. `firstDirtyOffset` is Kafka's cleaner checkpoint: kept in
// ``LogCleanerState`` and persisted per data directory in `cleaner-offset-checkpoint`
// (``LogManager/writeCleanerCheckpoint()``). A clean covers the dirty part up to the first segment it
// must not touch: the active segment, a segment holding records above the last stable offset (the
// high watermark, until transactions), or a segment whose largest timestamp is within
// `min.compaction.lag.ms` of now. It starts only when dirty bytes / (clean + dirty bytes) ≥
// `min.cleanable.dirty.ratio` (Kafka: >), or when the oldest dirty segment began more than
// `max.compaction.lag.ms` ago. The log is flushed past the clean's end first if needed: a clean must
// not drop an old value for a newer one that a power cut could still take away.
//
// ## One clean
//
// 1. Build an offset map, key → latest offset, over the dirty part. The map is bounded
//    (``LogCleanerLimits/cleanerOffsetMapEntriesMax``); when it fills, the clean stops at the first
//    record whose key did not fit, like Kafka's dedupe buffer, and the rest waits for the next clean.
// 2. Rewrite every segment from the log start to that end offset, oldest first. A record goes
//    when the map holds a later offset for its key, or when it is a tombstone (null value) whose
//    time is up (see "Tombstones"). Records at or past the end offset, records without a key and
//    control batches stay. A batch that keeps all its records is copied byte for byte; one that
//    loses some is rebuilt from the surviving records' bytes, copied unchanged, under the original
//    header fields (base offset, `lastOffsetDelta`, base timestamp, producer id/epoch/sequence,
//    attributes, so codec, timestamp type and transactional flag) with a new record count,
//    maximum timestamp (CreateTime) and CRC. A batch that loses every record is dropped, and a
//    segment that loses every batch is deleted. Offsets never change; gaps are allowed.
// 3. When every segment is done, move `firstDirtyOffset` to the end offset.
//
// By induction this leaves at most one record per key in the clean part, which is what lets a
// tombstone there be dropped without an older value of its key reappearing.
//
// A clean can be longer than one call: ``PartitionLog/compact(nowMs:limits:persistRecoveryPoint:)`` scans or rewrites
// at most ``LogCleanerLimits/segmentsPerRoundMax`` segments, then keeps the clean (and its map) in
// ``LogCleanerState`` for the next call. Nothing is lost if the process stops in between: the
// checkpoint moves only once the whole clean is durable, and a redone clean finds nothing new to drop.
//
// ## Tombstones
//
// Kafka (KIP-534) stamps a "delete horizon" (now + `delete.retention.ms`) into a batch the first
// time it cleans a tombstone in it, and drops the tombstone after that horizon. Stamping rewrites the
// batch's base timestamp and so every record's timestamp delta; Strom copies record bytes unchanged
// instead, so it approximates: a tombstone survives the clean that first sees it (it lies in the dirty
// part) and goes in a later clean once now − (its record timestamp) > `delete.retention.ms`. It can
// therefore go sooner after its first clean than in Kafka when its timestamp was already old then,
// never before `delete.retention.ms` after its own timestamp. A batch that already carries a Kafka
// delete horizon (attribute bit 6) is honoured exactly.
//
// ## Records without a key
//
// The broker refuses them on a compacted topic (ProduceHandler, as Kafka does), so only records
// written before the topic became compacted can have none. Kafka's cleaner drops those; Strom's
// keeps them: they are never superseded, so they stay until `compact,delete` retention removes
// their segment.
//
// ## Transactions
//
// A clean ends before the last stable offset, so every transaction it sees has ended. Batches of
// aborted transactions (the log's aborted-transaction index: the producer's transactional batches
// between the transaction's first offset and its ABORT marker) are dropped whole and never enter
// the offset map, so an aborted value never supersedes a committed one. Committed transactional
// records are compacted like any other. Control batches (the markers) are kept: Kafka drops a
// marker once its transaction has no records left and the delete horizon passed; keeping it is
// always safe (a read_committed reader only needs markers of data it can see) and costs one small
// batch per transaction.
//
// ## The on-disk swap
//
// A rewritten segment `<base>` replaces the old one crash-safely, in four steps; `<base>` is the
// 20-digit base offset, and the old segment's files stay in use until the last step.
//
// 1. Write `<base>.log.cleaned`, `<base>.index.cleaned` and `<base>.timeindex.cleaned` (the same
//    formats as the live files) and fsync all three. A crash now leaves only `.cleaned` files,
//    which the next open deletes: the old segment is intact.
// 2. Under the log's lock: rename each to `.swap` (the log last), then fsync the directory. This is
//    the commit point: from here on the next open completes the swap.
// 3. Rename each `.swap` over its live name (indexes first, the log last), fsync the directory.
// 4. Open the new segment, load the indexes written in step 1, and put it in the log's segment list
//    in place of the old one, still under the lock, so readers see one or the other.
//
// Opening a log (``LogCleaner/finishInterruptedSwaps(directory:fileSystem:)``) deletes every
// `.cleaned` file. For a base offset with any `.swap` file left, it deletes that segment's index
// files (live and `.swap`: they may belong to either content), fsyncs the directory, renames a
// `<base>.log.swap` over `<base>.log`, fsyncs again, and has the segment recovered (indexes rebuilt
// from the log with CRC checks). The directory fsync between the two keeps the order on file
// systems that do not journal directory changes in order: a live index never survives beside a log
// it does not describe. A `.swap` file exists only after step 2's fsync, when every `.swap` file's
// content is durable, so the completed segment is always the complete cleaned one.
//
// Compaction leaves offset gaps, while `PartitionLog.open` recovers the segments past the recovery
// point it is given as unflushed data, which must be contiguous (a gap there means data written
// after a loss). So before a clean rewrites or deletes anything, the log is flushed past the clean's
// end and the caller persists the recovery point (`persistRecoveryPoint`; ``LogManager`` writes
// `recovery-point-offset-checkpoint`): a cleaned segment is then always below the recovery point
// the next open uses, and is trusted as it is.
//
// Readers holding a ``FileSlice`` of the old segment keep reading it: its file is renamed over,
// never closed, and its data goes when the last reference does. The swap runs under the lock so
// that retention cannot delete the segment in the middle of it; a segment retention removed while
// it was being cleaned is not swapped in (its `.cleaned` files are deleted instead).

/// Bounds on one log's compaction: memory for the offset map and work per call. Kafka sizes the
/// map in bytes (`log.cleaner.dedupe.buffer.size`, 128 MiB, 24 bytes an entry as it keeps only a key
/// hash); Strom keeps whole keys, so that a crafted hash collision cannot drop another key's latest
/// value, and bounds the entries and the key bytes separately.
public struct LogCleanerLimits: Sendable, Hashable {
    /// Most distinct keys in the offset map of one clean. About 32 bytes of bookkeeping each
    /// (offset, hash, key position, length, and the slot table at ≤ 75 % load) plus the key:
    /// 2^20 entries ≈ 32 MiB plus keys.
    public var cleanerOffsetMapEntriesMax: Int
    /// Most key bytes the offset map stores (a single key larger than this still fits into an
    /// empty map, so that every clean makes progress).
    public var cleanerOffsetMapKeyBytesMax: Int
    /// Most segments one ``PartitionLog/compact(nowMs:limits:persistRecoveryPoint:)`` call scans (for the map) or
    /// rewrites; each is at most `segment.bytes`, so this bounds the I/O of one call.
    public var segmentsPerRoundMax: Int
    /// Most bytes one batch may decompress to. Larger batches stop the clean with an error.
    public var decompressedBatchSizeBytesMax: Int

    /// - Parameters:
    ///   - cleanerOffsetMapEntriesMax: default 2^20 (about 1M keys).
    ///   - cleanerOffsetMapKeyBytesMax: default 64 MiB.
    ///   - segmentsPerRoundMax: default 4.
    ///   - decompressedBatchSizeBytesMax: default 64 MiB, as `PartitionLog.offset(forTimestamp:)`.
    public init(
        cleanerOffsetMapEntriesMax: Int = 1 << 20, cleanerOffsetMapKeyBytesMax: Int = 64 << 20,
        segmentsPerRoundMax: Int = 4, decompressedBatchSizeBytesMax: Int = 64 << 20
    ) {
        precondition(cleanerOffsetMapEntriesMax >= 1, "the offset map needs room for a key")
        precondition(cleanerOffsetMapKeyBytesMax >= 0 && cleanerOffsetMapKeyBytesMax <= Int(Int32.max), "key bytes out of range")
        precondition(segmentsPerRoundMax >= 1, "a round must be able to do some work")
        self.cleanerOffsetMapEntriesMax = cleanerOffsetMapEntriesMax
        self.cleanerOffsetMapKeyBytesMax = cleanerOffsetMapKeyBytesMax
        self.segmentsPerRoundMax = segmentsPerRoundMax
        self.decompressedBatchSizeBytesMax = decompressedBatchSizeBytesMax
    }
}

/// What one ``PartitionLog/compact(nowMs:limits:persistRecoveryPoint:)`` call did.
public struct CompactionReport: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        /// `cleanup.policy` does not include `compact`.
        case notCompacted
        /// Another `compact` call on this log is running.
        case busy
        /// No dirty segment may be cleaned yet (active, unflushed, or within `min.compaction.lag.ms`).
        case nothingToClean
        /// The dirty ratio is below `min.cleanable.dirty.ratio` and `max.compaction.lag.ms` has not passed.
        case belowDirtyRatio
        /// The round's budget ran out; the next call continues the same clean.
        case inProgress
        /// The clean finished: the cleaner checkpoint moved to ``CompactionReport/cleanedUpToOffset``.
        case completed
    }

    public var outcome: Outcome
    /// Dirty bytes / (clean + dirty bytes) of the cleanable part, when a clean was considered.
    public var dirtyRatio: Double?
    /// Whether `max.compaction.lag.ms` forced the clean regardless of the dirty ratio.
    public var forcedByMaxCompactionLag = false
    /// The first offset the clean in progress treats as dirty.
    public var firstDirtyOffset: Int64?
    /// The end (exclusive) of the clean in progress: where the checkpoint goes when it completes.
    public var cleanedUpToOffset: Int64?
    public var segmentsScanned = 0
    public var segmentsRewritten = 0
    /// Segments compaction emptied and deleted.
    public var segmentsDeleted = 0
    public var recordsRemoved = 0
    /// Of ``recordsRemoved``, tombstones dropped after `delete.retention.ms`.
    public var tombstonesRemoved = 0
    public var bytesRemoved: Int64 = 0
    /// Segments deleted by `compact,delete` retention at the start of the call.
    public var retentionSegmentsDeleted = 0

    init(outcome: Outcome) {
        self.outcome = outcome
    }
}

/// Why a compaction call failed. The log's data is unchanged unless the failure came after a swap's
/// commit point, in which case the log goes offline and the next open completes the swap.
public enum LogCompactionError: Error, Equatable, Sendable {
    case storage(StorageIOError)
    /// A batch in a segment that should be complete and valid is not; the clean is abandoned.
    case corruptBatch(segmentBaseOffset: Int64, position: Int64, reason: String)
    /// The swapped-in segment does not read back as written.
    case swapVerificationFailed(segmentBaseOffset: Int64, expectedSizeBytes: Int64, foundSizeBytes: Int64)
    /// The caller's `persistRecoveryPoint` failed; nothing was rewritten.
    case recoveryPointNotPersisted(reason: String)
    case offline(reason: String)
}

// MARK: - State kept on PartitionLog

/// Compaction's per-log memory, a field of the log's locked state.
struct LogCleanerState: Sendable {
    /// Kafka's cleaner checkpoint: the first offset not yet cleaned. Nil until restored from
    /// `cleaner-offset-checkpoint` or set by a finished clean; nil counts as the log start offset.
    var firstDirtyOffset: Int64?
    /// The clean in progress, between calls.
    var job: CleaningJob?
    /// Set while a `compact` call runs, so that two never clean one log at once.
    var isRunning = false
}

/// One clean, possibly spanning several `compact` calls.
struct CleaningJob: Sendable {
    enum Phase: Sendable, Equatable {
        /// Scanning the dirty part into the map, from this offset.
        case buildingMap(nextOffset: Int64)
        /// Rewriting segments, from the first whose base offset is ≥ this.
        case rewriting(nextBaseOffset: Int64)
    }

    /// Records below this were cleaned at least once before this clean began.
    let firstDirtyOffset: Int64
    /// The first offset this clean does not cover; the map holds every key of [firstDirty, end).
    var endOffset: Int64
    var phase: Phase
    var map: CleanerOffsetMap
    let dirtyRatio: Double
    let forcedByMaxCompactionLag: Bool
    /// Whether the caller persisted the recovery point before the first rewrite.
    var recoveryPointPersisted = false
    /// The aborted transactions with records below `endOffset`: their batches are dropped.
    var abortedTransactions: [AbortedTransaction] = []

    /// Whether `header` is a batch of an aborted transaction.
    func isAborted(_ header: RecordBatchHeader) -> Bool {
        guard header.attributes.isTransactional, !header.attributes.isControl else { return false }
        return abortedTransactions.contains {
            $0.producerId == header.producerId && $0.firstOffset <= header.baseOffset && header.baseOffset < $0.lastOffset
        }
    }
}

// MARK: - PartitionLog: compaction

extension PartitionLog {
    /// Kafka's cleaner checkpoint for this log: the first offset not yet compacted, or nil while
    /// unknown (a log never cleaned and not restored from `cleaner-offset-checkpoint`).
    public var cleanerCheckpoint: Int64? {
        withState { $0.cleaner.firstDirtyOffset }
    }

    /// Sets the cleaner checkpoint read from `cleaner-offset-checkpoint` at start-up. Ignored once
    /// the log knows its own (a clean already finished in this process). An offset outside the log
    /// is reset to the log start offset when the next clean is planned, as Kafka does.
    public func restoreCleanerCheckpoint(_ offset: Int64) {
        withState { state in
            if state.cleaner.firstDirtyOffset == nil { state.cleaner.firstDirtyOffset = offset }
        }
    }

    /// One round of log compaction: continues the clean in progress, or plans one if the log is
    /// due, then scans or rewrites at most `limits.segmentsPerRoundMax` segments. With
    /// `compact,delete`, retention runs first. Never touches the active segment or records above
    /// the last stable offset; flushes the log first if what it would clean is not durable yet (a
    /// clean must not drop an old value for a newer one a power cut could still take away).
    ///
    /// Safe to call from any thread; a second call on the same log while one runs returns
    /// ``CompactionReport/Outcome/busy``. Appends and reads continue meanwhile, except for the few
    /// renames and two directory fsyncs of each segment swap, done under the log's lock.
    ///
    /// The clean in progress holds its offset map between calls, so a caller driving many logs
    /// should finish one log's clean before starting the next (``LogManager/compact(nowMs:limits:)``
    /// does), to keep one map in memory.
    ///
    /// - Parameters:
    ///   - nowMs: the broker's clock, for `min.compaction.lag.ms`, `max.compaction.lag.ms`,
    ///     `delete.retention.ms` and retention.
    ///   - limits: memory and work bounds.
    ///   - persistRecoveryPoint: called once per clean, after the log was flushed past the clean's
    ///     end and before the first segment is rewritten or deleted, to make the recovery point
    ///     durable (``LogManager`` writes its recovery-point checkpoint). Compaction leaves offset
    ///     gaps, and ``open(directory:topicPartition:config:fileSystem:recoveryPoint:logStartOffset:cleanShutdown:nowMs:)``
    ///     recovers segments past the recovery point it is given as unflushed data, which must be
    ///     contiguous: a cleaned segment there would be cut at its first gap. Callers that always
    ///     reopen with a recovery point at or past the cleaned segments (or after a clean shutdown)
    ///     may leave the default, which does nothing.
    /// - Returns: what the round did; ``CompactionReport/Outcome/completed`` when the cleaner
    ///   checkpoint moved (the caller then persists it: ``LogManager/writeCleanerCheckpoint()``).
    /// - Throws: ``LogCompactionError``; the clean in progress is then abandoned.
    @discardableResult
    public func compact(
        nowMs: Int64, limits: LogCleanerLimits = LogCleanerLimits(), persistRecoveryPoint: () throws -> Void = {}
    ) throws(LogCompactionError) -> CompactionReport {
        enum Claim {
            case refused(CompactionReport.Outcome)
            case claimed(CleaningJob?, LogConfig)
        }
        let claim = try withState { (state: inout State) throws(LogCompactionError) -> Claim in
            if let reason = state.offlineReason { throw .offline(reason: reason) }
            guard state.config.isCompacted else {
                state.cleaner.job = nil
                return .refused(.notCompacted)
            }
            guard !state.cleaner.isRunning else { return .refused(.busy) }
            state.cleaner.isRunning = true
            let job = state.cleaner.job
            state.cleaner.job = nil
            return .claimed(job, state.config)
        }
        guard case .claimed(var job, let config) = claim else {
            if case .refused(let outcome) = claim { return CompactionReport(outcome: outcome) }
            preconditionFailure("unreachable claim \(claim)")
        }
        // Whatever happens, release the log; a clean survives only a round that succeeded.
        defer {
            let remaining = job
            withState { state in
                state.cleaner.isRunning = false
                state.cleaner.job = remaining
            }
        }
        do throws(LogCompactionError) {
            return try compactRound(job: &job, config: config, nowMs: nowMs, limits: limits, persistRecoveryPoint: persistRecoveryPoint)
        } catch {
            job = nil
            throw error
        }
    }

    private func compactRound(
        job: inout CleaningJob?, config: LogConfig, nowMs: Int64, limits: LogCleanerLimits, persistRecoveryPoint: () throws -> Void
    ) throws(LogCompactionError) -> CompactionReport {
        var report = CompactionReport(outcome: .inProgress)
        if config.isDeleteEnabled {
            do {
                report.retentionSegmentsDeleted = try applyRetention(nowMs: nowMs)
            } catch {
                throw .storage(error)
            }
        }
        if job == nil {
            let plan = withState { LogCleaner.plan($0, nowMs: nowMs) }
            report.dirtyRatio = plan.dirtyRatio
            report.forcedByMaxCompactionLag = plan.forced
            guard let endOffset = plan.endOffset, plan.firstDirtyOffset < endOffset else {
                report.outcome = .nothingToClean
                return report
            }
            guard plan.forced || plan.dirtyRatio >= config.minCleanableDirtyRatio else {
                report.outcome = .belowDirtyRatio
                return report
            }
            if recoveryPoint < endOffset {
                do { try flush(nowMs: nowMs) } catch { throw .storage(error) }
            }
            job = CleaningJob(
                firstDirtyOffset: plan.firstDirtyOffset, endOffset: endOffset,
                phase: .buildingMap(nextOffset: plan.firstDirtyOffset),
                map: CleanerOffsetMap(entriesMax: limits.cleanerOffsetMapEntriesMax, keyBytesMax: limits.cleanerOffsetMapKeyBytesMax),
                dirtyRatio: plan.dirtyRatio, forcedByMaxCompactionLag: plan.forced)
            job?.abortedTransactions = withState { state in state.abortedTransactions.filter { $0.firstOffset < endOffset } }
        }
        var budget = limits.segmentsPerRoundMax
        // Each pass spends budget on a segment, ends a phase (twice at most), or returns.
        for _ in 0..<(limits.segmentsPerRoundMax + 3) {
            guard var current = job else { break }
            report.firstDirtyOffset = current.firstDirtyOffset
            report.dirtyRatio = current.dirtyRatio
            report.forcedByMaxCompactionLag = current.forcedByMaxCompactionLag
            switch current.phase {
            case .buildingMap(let nextOffset):
                let segment = withState { state in
                    state.segments.first { $0.nextOffset > nextOffset && $0.baseOffset < current.endOffset && $0 !== state.activeSegment }
                }
                guard let segment else {
                    current.phase = .rewriting(nextBaseOffset: Int64.min)
                    job = current
                    continue
                }
                guard budget > 0 else {
                    report.cleanedUpToOffset = current.endOffset
                    return report
                }
                budget -= 1
                report.segmentsScanned += 1
                let filled = try LogCleaner.addToMap(segment, from: nextOffset, job: &current, limits: limits)
                current.phase = filled ? .rewriting(nextBaseOffset: Int64.min) : .buildingMap(nextOffset: segment.nextOffset)
                job = current
            case .rewriting(let nextBaseOffset):
                let segment = withState { state in
                    state.segments.first { $0.baseOffset >= nextBaseOffset && $0.baseOffset < current.endOffset && $0 !== state.activeSegment }
                }
                guard let segment else {
                    // Every segment is clean and durable: move the checkpoint.
                    let end = current.endOffset
                    withState { state in
                        state.cleaner.firstDirtyOffset = end
                    }
                    report.cleanedUpToOffset = end
                    report.outcome = .completed
                    job = nil
                    return report
                }
                guard budget > 0 else {
                    report.cleanedUpToOffset = current.endOffset
                    return report
                }
                if !current.recoveryPointPersisted {
                    do { try persistRecoveryPoint() } catch { throw .recoveryPointNotPersisted(reason: "\(error)") }
                    current.recoveryPointPersisted = true
                    job = current
                }
                budget -= 1
                try rewrite(segment, job: current, config: config, nowMs: nowMs, limits: limits, report: &report)
                current.phase = .rewriting(nextBaseOffset: segment.baseOffset + 1)
                job = current
            }
        }
        preconditionFailure("compaction round overran its budget of \(limits.segmentsPerRoundMax) segments")
    }

    /// Cleans one segment against the job's map and swaps the result in (or deletes the segment
    /// when nothing is left of it). Does nothing when no record goes.
    private func rewrite(
        _ segment: LogSegment, job: CleaningJob, config: LogConfig, nowMs: Int64, limits: LogCleanerLimits,
        report: inout CompactionReport
    ) throws(LogCompactionError) {
        var writer = CleanedSegmentWriter(
            directory: directory, original: segment, fileSystem: fileSystem, indexIntervalBytes: config.indexIntervalBytes)
        var removed = LogCleaner.Removed()
        do throws(LogCompactionError) {
            try LogCleaner.forEachBatch(in: segment, from: 0) { (position, batch) throws(LogCompactionError) -> Bool in
                let decision = try LogCleaner.filter(
                    batch, job: job, config: config, nowMs: nowMs, limits: limits,
                    segmentBaseOffset: segment.baseOffset, position: position, removed: &removed)
                switch decision {
                case .keep: try writer.append(original: batch)
                case .drop: try writer.noteChange()
                case .rebuilt(let bytes, let header): try writer.append(rebuilt: bytes, header: header)
                }
                return true
            }
        } catch {
            writer.discard()
            throw error
        }
        guard writer.hasChanges else { return }
        report.recordsRemoved += removed.records
        report.tombstonesRemoved += removed.tombstones
        report.bytesRemoved += segment.sizeBytes - writer.sizeBytes
        if writer.sizeBytes == 0 {
            writer.discard()
            if try deleteEmptied(segment) { report.segmentsDeleted += 1 }
            return
        }
        try writer.finish()
        if try swapIn(writer, replacing: segment, nowMs: nowMs) { report.segmentsRewritten += 1 }
    }

    /// Steps 2 to 4 of the swap (see the top of LogCleaner.swift), under the lock. Returns false,
    /// deleting the cleaned files, when the segment left the log meanwhile (retention).
    private func swapIn(_ writer: CleanedSegmentWriter, replacing old: LogSegment, nowMs: Int64) throws(LogCompactionError) -> Bool {
        let installed = try withState { (state: inout State) throws(LogCompactionError) -> Bool in
            guard state.offlineReason == nil, let index = state.segments.firstIndex(where: { $0 === old }),
                  index < state.segments.count - 1
            else { return false }
            let base = old.baseOffset
            do throws(StorageIOError) {
                for suffix in LogCleaner.segmentSuffixes {
                    try fileSystem.rename(
                        LogCleaner.path(directory, base, suffix + LogCleaner.cleanedSuffix),
                        to: LogCleaner.path(directory, base, suffix + LogCleaner.swapSuffix))
                }
                try fileSystem.syncDirectory(directory)
                // Committed: from here an open completes the swap, so failures take the log offline.
                for suffix in LogCleaner.segmentSuffixes {
                    try fileSystem.rename(
                        LogCleaner.path(directory, base, suffix + LogCleaner.swapSuffix), to: LogCleaner.path(directory, base, suffix))
                }
                try fileSystem.syncDirectory(directory)
            } catch {
                state.offlineReason = "log compaction could not swap segment \(base): \(error)"
                throw .storage(error)
            }
            let segment: LogSegment
            do throws(StorageIOError) {
                segment = try LogSegment.open(
                    directory: directory, baseOffset: base, fileSystem: fileSystem,
                    indexIntervalBytes: state.config.indexIntervalBytes, nowMs: nowMs)
                try segment.loadIndexes()
                segment.releaseIndexFiles()
            } catch {
                state.offlineReason = "log compaction could not open swapped segment \(base): \(error)"
                throw .storage(error)
            }
            // Pair assertion: the segment reads back as it was written.
            guard segment.sizeBytes == writer.sizeBytes, segment.nextOffset <= old.nextOffset else {
                state.offlineReason = "log compaction swapped in segment \(base) of \(segment.sizeBytes) bytes, wrote \(writer.sizeBytes)"
                throw .swapVerificationFailed(segmentBaseOffset: base, expectedSizeBytes: writer.sizeBytes, foundSizeBytes: segment.sizeBytes)
            }
            state.segments[index] = segment
            return true
        }
        if !installed {
            var abandoned = writer
            abandoned.discard()
        }
        return installed
    }

    /// Removes a segment compaction emptied: out of the list under the lock, then its files
    /// (indexes first, so a crash never leaves a live index without its log), then a directory
    /// fsync so that the removal is durable before the checkpoint can move past it. A crash before
    /// that brings the old segment back, which the next clean empties again.
    private func deleteEmptied(_ segment: LogSegment) throws(LogCompactionError) -> Bool {
        let removed = withState { state in
            guard state.offlineReason == nil, let index = state.segments.firstIndex(where: { $0 === segment }),
                  index < state.segments.count - 1
            else { return false }
            state.segments.remove(at: index)
            return true
        }
        guard removed else { return false }
        do throws(StorageIOError) {
            for suffix in LogCleaner.segmentSuffixes {
                let path = LogCleaner.path(directory, segment.baseOffset, suffix)
                if fileSystem.exists(path) { try fileSystem.remove(path) }
            }
            try fileSystem.syncDirectory(directory)
        } catch {
            withState { $0.offlineReason = "log compaction could not delete emptied segment \(segment.baseOffset): \(error)" }
            throw .storage(error)
        }
        return true
    }

    /// How much this log wants a clean: nil when it has none due. For ``LogManager`` to pick the
    /// filthiest log, as Kafka's `LogCleanerManager.grabFilthiestCompactedLog` does.
    func compactionPriority(nowMs: Int64) -> (inProgress: Bool, forced: Bool, dirtyRatio: Double)? {
        withState { state in
            guard state.offlineReason == nil, state.config.isCompacted, !state.cleaner.isRunning else { return nil }
            if state.cleaner.job != nil { return (true, false, 1) }
            let plan = LogCleaner.plan(state, nowMs: nowMs)
            guard let end = plan.endOffset, plan.firstDirtyOffset < end,
                  plan.forced || plan.dirtyRatio >= state.config.minCleanableDirtyRatio
            else { return nil }
            return (false, plan.forced, plan.dirtyRatio)
        }
    }
}

// MARK: - Planning, scanning, filtering

/// The pieces of a clean that need no lock: planning from a state snapshot, the map scan, the
/// per-batch filter, the swap's file names and the completion of interrupted swaps.
enum LogCleaner {
    static let cleanedSuffix = ".cleaned"
    static let swapSuffix = ".swap"
    /// The files of one segment, in the order they are swapped: indexes first, the log (whose
    /// `.swap` name is the commit mark) last.
    static let segmentSuffixes = [".index", ".timeindex", ".log"]

    static func path(_ directory: String, _ baseOffset: Int64, _ suffix: String) -> String {
        "\(directory)/\(LogSegment.fileName(baseOffset: baseOffset, suffix: suffix))"
    }

    struct Plan {
        var firstDirtyOffset: Int64
        /// The first offset that may not be cleaned now; nil when no segment is cleanable.
        var endOffset: Int64?
        var dirtyRatio: Double
        var forced: Bool
    }

    /// Where a clean would run now (Kafka's `LogCleanerManager.cleanableOffsets` and
    /// `cleanableRatio`). The checkpoint, if outside the log, restarts at the log start.
    static func plan(_ state: PartitionLog.State, nowMs: Int64) -> Plan {
        let offsets = state.offsets
        var firstDirty = state.cleaner.firstDirtyOffset ?? offsets.logStartOffset
        if firstDirty < offsets.logStartOffset || firstDirty > offsets.logEndOffset { firstDirty = offsets.logStartOffset }
        let config = state.config
        let inactive = state.segments.dropLast()
        // The dirty part ends at the first segment that is not cleanable: not stable yet, or with
        // records younger than min.compaction.lag.ms; at the latest, at the active segment.
        var endOffset = state.activeSegment.baseOffset
        var earliestDirtyTimestampMs = Int64.max
        for segment in inactive where segment.nextOffset > firstDirty {
            if segment.rollingTimestampMs >= 0 { earliestDirtyTimestampMs = min(earliestDirtyTimestampMs, segment.rollingTimestampMs) }
            let tooYoung = segment.largestTimestampMs >= 0 && ageMs(nowMs, segment.largestTimestampMs) < config.minCompactionLagMs
            if segment.nextOffset > offsets.lastStableOffset || tooYoung {
                endOffset = segment.baseOffset
                break
            }
        }
        var cleanBytes: Int64 = 0
        var dirtyBytes: Int64 = 0
        for segment in inactive where segment.baseOffset < endOffset {
            if segment.nextOffset <= firstDirty { cleanBytes += segment.sizeBytes } else { dirtyBytes += segment.sizeBytes }
        }
        let totalBytes = cleanBytes + dirtyBytes
        let ratio = totalBytes > 0 ? Double(dirtyBytes) / Double(totalBytes) : 0
        let forced = earliestDirtyTimestampMs != Int64.max && ageMs(nowMs, earliestDirtyTimestampMs) > config.maxCompactionLagMs
        let cleanable = firstDirty < endOffset && dirtyBytes > 0
        return Plan(firstDirtyOffset: firstDirty, endOffset: cleanable ? endOffset : nil, dirtyRatio: ratio, forced: forced && cleanable)
    }

    /// `nowMs - timestampMs`, saturating (timestamps are producers' and may be anything).
    static func ageMs(_ nowMs: Int64, _ timestampMs: Int64) -> Int64 {
        let (age, overflow) = nowMs.subtractingReportingOverflow(timestampMs)
        return overflow ? (timestampMs < 0 ? Int64.max : Int64.min) : age
    }

    /// Every batch of a finished segment from `start`, CRC checked. Unlike `LogSegment.forEachBatch`,
    /// which stops quietly at a torn tail, anything but a clean end is an error here: a clean must
    /// never shorten a segment by missing its end.
    static func forEachBatch(
        in segment: LogSegment, from start: Int64, _ body: (Int64, RecordBatch) throws(LogCompactionError) -> Bool
    ) throws(LogCompactionError) {
        let end = segment.sizeBytes
        var position = start
        // Bounded: each batch moves `position` forward by at least the 61-byte header.
        while position < end {
            func corrupt(_ reason: String) -> LogCompactionError {
                .corruptBatch(segmentBaseOffset: segment.baseOffset, position: position, reason: reason)
            }
            let header: RecordBatchHeader?
            do { header = try segment.batchHeader(at: position) } catch { throw .storage(error) }
            guard let header, header.magic == RecordBatchHeader.currentMagic,
                  header.batchLength >= Int32(RecordBatchHeader.sizeBytes - RecordBatchHeader.logOverheadBytes),
                  position + Int64(header.totalSizeBytes) <= end
            else { throw corrupt("batch header does not fit the segment") }
            var bytes: ByteBuffer
            do { bytes = try segment.log.read(at: position, count: header.totalSizeBytes) } catch { throw .storage(error) }
            let batch: RecordBatch
            do throws(RecordBatchError) {
                batch = try RecordBatch.read(from: &bytes)
                try batch.verifyChecksum()
            } catch {
                throw corrupt("\(error)")
            }
            guard try body(position, batch) else { return }
            position += Int64(batch.header.totalSizeBytes)
        }
    }

    /// Adds the keys of `segment` from `from` up to the job's end offset to the map. Returns true
    /// when the map filled: the job's end offset is then the first record left out.
    static func addToMap(
        _ segment: LogSegment, from: Int64, job: inout CleaningJob, limits: LogCleanerLimits
    ) throws(LogCompactionError) -> Bool {
        let located: (position: Int64, header: RecordBatchHeader)?
        do { located = try segment.locate(offset: from) } catch { throw .storage(error) }
        guard let start = located?.position else { return false }
        var filled = false
        try forEachBatch(in: segment, from: start) { (position, batch) throws(LogCompactionError) -> Bool in
            let header = batch.header
            guard header.baseOffset < job.endOffset else { return false }
            // Control records (transaction markers) have keys of their own kind; they are kept, never
            // mapped. Aborted records never supersede anything.
            if header.attributes.isControl || job.isAborted(header) { return true }
            var reader = try RawRecordReader(batch, sizeBytesMax: limits.decompressedBatchSizeBytesMax, segmentBaseOffset: segment.baseOffset, position: position)
            while let record = try reader.next() {
                let offset = header.baseOffset + Int64(record.offsetDelta)
                guard offset >= from else { continue }
                guard offset < job.endOffset else { return false }
                guard let key = record.key else { continue }
                if !job.map.put(key: key, offset: offset) {
                    job.endOffset = offset
                    filled = true
                    return false
                }
            }
            return true
        }
        return filled
    }

    /// What happens to one batch.
    enum Decision {
        case keep
        case drop
        case rebuilt(ByteBuffer, RecordBatchHeader)
    }

    struct Removed {
        var records = 0
        var tombstones = 0
    }

    /// Decides, record by record, what of `batch` survives the clean (see the top of the file).
    static func filter(
        _ batch: RecordBatch, job: CleaningJob, config: LogConfig, nowMs: Int64, limits: LogCleanerLimits,
        segmentBaseOffset: Int64, position: Int64, removed: inout Removed
    ) throws(LogCompactionError) -> Decision {
        let header = batch.header
        if header.attributes.isControl || header.baseOffset >= job.endOffset { return .keep }
        if job.isAborted(header) {
            removed.records += Int(header.recordCount)
            return .drop
        }
        var reader = try RawRecordReader(batch, sizeBytesMax: limits.decompressedBatchSizeBytesMax, segmentBaseOffset: segmentBaseOffset, position: position)
        var kept: [ByteBuffer] = []
        kept.reserveCapacity(Int(header.recordCount))
        var keptTimestampDeltaMax = Int64.min
        var removedHere = Removed()
        while let record = try reader.next() {
            let offset = header.baseOffset + Int64(record.offsetDelta)
            if retains(record, offset: offset, header: header, job: job, config: config, nowMs: nowMs, removed: &removedHere) {
                kept.append(record.bytes)
                keptTimestampDeltaMax = max(keptTimestampDeltaMax, record.timestampDelta)
            }
        }
        guard removedHere.records > 0 else { return .keep }
        removed.records += removedHere.records
        removed.tombstones += removedHere.tombstones
        guard !kept.isEmpty else { return .drop }
        let maxTimestamp = header.attributes.timestampType == .logAppendTime
            ? header.maxTimestamp : header.baseTimestamp &+ keptTimestampDeltaMax
        do {
            return try rebuild(header: header, records: kept, maxTimestamp: maxTimestamp)
        } catch {
            throw .corruptBatch(segmentBaseOffset: segmentBaseOffset, position: position, reason: "cannot recompress: \(error)")
        }
    }

    private static func retains(
        _ record: RawRecord, offset: Int64, header: RecordBatchHeader, job: CleaningJob, config: LogConfig, nowMs: Int64,
        removed: inout Removed
    ) -> Bool {
        // Past where the map filled: the next clean decides.
        guard offset < job.endOffset, let key = record.key else { return true }
        if let latest = job.map.offset(for: key), latest > offset {
            removed.records += 1
            return false
        }
        guard record.isTombstone else { return true }
        let expired: Bool
        if header.attributes.hasDeleteHorizon {
            // Written by a Kafka cleaner (KIP-534): the base timestamp is the delete horizon.
            expired = nowMs >= header.baseTimestamp
        } else {
            let timestampMs = header.attributes.timestampType == .logAppendTime
                ? header.maxTimestamp : header.baseTimestamp &+ record.timestampDelta
            expired = offset < job.firstDirtyOffset && ageMs(nowMs, timestampMs) > config.deleteRetentionMs
        }
        guard expired else { return true }
        removed.records += 1
        removed.tombstones += 1
        return false
    }

    /// A batch holding `records` (whole records, length prefix included, copied unchanged) under
    /// the original header: same base offset and `lastOffsetDelta` (so the offsets the batch
    /// covered stay covered, and an idempotent producer's sequence range too), base timestamp,
    /// producer fields, leader epoch and attributes; new record count, max timestamp and CRC.
    static func rebuild(header original: RecordBatchHeader, records: [ByteBuffer], maxTimestamp: Int64) throws -> Decision {
        var plain = ByteBuffer()
        plain.reserveCapacity(records.reduce(0) { $0 + $1.readableBytes })
        for record in records { plain.writeImmutableBuffer(record) }
        let codec = try CompressionCodec(id: original.attributes.compressionCodecId)
        let payload = try codec.compress(plain)
        var header = original
        header.batchLength = Int32(RecordBatchHeader.sizeBytes - RecordBatchHeader.logOverheadBytes + payload.readableBytes)
        header.maxTimestamp = maxTimestamp
        header.recordCount = Int32(records.count)
        var bytes = ByteBuffer()
        bytes.reserveCapacity(RecordBatchHeader.sizeBytes + payload.readableBytes)
        bytes.writeInteger(header.baseOffset, endianness: .big)
        bytes.writeInteger(header.batchLength, endianness: .big)
        bytes.writeInteger(header.partitionLeaderEpoch, endianness: .big)
        bytes.writeInteger(header.magic)
        bytes.writeInteger(UInt32(0), endianness: .big)  // CRC, below
        bytes.writeInteger(header.attributes.rawValue, endianness: .big)
        bytes.writeInteger(header.lastOffsetDelta, endianness: .big)
        bytes.writeInteger(header.baseTimestamp, endianness: .big)
        bytes.writeInteger(header.maxTimestamp, endianness: .big)
        bytes.writeInteger(header.producerId, endianness: .big)
        bytes.writeInteger(header.producerEpoch, endianness: .big)
        bytes.writeInteger(header.baseSequence, endianness: .big)
        bytes.writeInteger(header.recordCount, endianness: .big)
        bytes.writeImmutableBuffer(payload)
        // The CRC-32C covers attributes (byte 21) to the end and sits at byte 17 (RecordBatchHeader's layout).
        let crc = bytes.withUnsafeReadableBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[21...])) }
        bytes.setInteger(crc, at: bytes.readerIndex + 17, endianness: .big)
        header.crc = crc
        return .rebuilt(bytes, header)
    }

    /// Opening a log: discards `.cleaned` files and completes `.swap`s (see "The on-disk swap" at
    /// the top of this file). Returns the base offsets of segments whose log was swapped or whose
    /// index files were deleted: the caller must recover them (rebuild their indexes).
    static func finishInterruptedSwaps(directory: String, fileSystem: any StorageFileSystem) throws(StorageIOError) -> Set<Int64> {
        var swapped: Set<Int64> = []
        var changed = false
        for name in try fileSystem.list(directory) {
            if name.hasSuffix(cleanedSuffix) {
                try fileSystem.remove("\(directory)/\(name)")
                changed = true
            } else if name.hasSuffix(swapSuffix), let base = baseOffset(ofSwapFile: name) {
                swapped.insert(base)
            }
        }
        if !swapped.isEmpty {
            // Indexes first, durably: either content of the log may be the live one afterwards.
            for base in swapped {
                for suffix in [".index", ".timeindex"] {
                    for path in [self.path(directory, base, suffix + swapSuffix), self.path(directory, base, suffix)]
                    where fileSystem.exists(path) {
                        try fileSystem.remove(path)
                    }
                }
            }
            try fileSystem.syncDirectory(directory)
            for base in swapped {
                let swap = path(directory, base, ".log" + swapSuffix)
                if fileSystem.exists(swap) { try fileSystem.rename(swap, to: path(directory, base, ".log")) }
            }
            changed = true
        }
        if changed { try fileSystem.syncDirectory(directory) }
        return swapped
    }

    /// "00000000000000001234.log.swap" (or `.index.swap`, `.timeindex.swap`) → 1234.
    private static func baseOffset(ofSwapFile name: String) -> Int64? {
        let stem = name.dropLast(swapSuffix.count)
        guard segmentSuffixes.contains(where: { stem.hasSuffix($0) && stem.count == 20 + $0.count }) else { return nil }
        return Int64(stem.prefix(20))
    }
}
