public import KafkaProtocol
import NIOCore

// What a replicated partition needs of its log beyond producing and fetching: the high watermark
// set by replication, appends of batches a leader already numbered, and truncation to where a
// follower's log and its new leader's diverge (KIP-101/279).
extension PartitionLog {
    /// Makes replication decide the high watermark (``updateHighWatermark(_:)``) instead of the
    /// flush policy. A partition with replicas on other brokers is replicated for its whole life.
    public func setReplicated(_ replicated: Bool) {
        state.withLock { $0.replicated = replicated }
    }

    public var isReplicated: Bool { state.withLock { $0.replicated } }

    /// This replica follows a leader from now on: copies may be appended again.
    public func becomeFollower() {
        appendOrder.withLock { _ in state.withLock { $0.acceptsFollowerAppends = true } }
    }

    /// Registers who to tell the durable offset after each flush of a replicated log (the
    /// leader's high watermark counts its own end only once it is on disk).
    public func setDurabilityListener(_ listener: (@Sendable (TopicPartition, Int64) -> Void)?) {
        state.withLock { $0.durabilityListener = listener }
    }

    /// Moves the high watermark forward to `offset`, never past the log end (a follower learns the
    /// leader's, which may be ahead of what it has), never back. Wakes long polls when it moves.
    /// - Returns: the high watermark after the call.
    @discardableResult
    public func updateHighWatermark(_ offset: Int64) -> Int64 {
        let (moved, listener, highWatermark) = state.withLock { state in
            let target = min(offset, state.offsets.logEndOffset)
            guard target > state.offsets.highWatermark else { return (false, nil as (@Sendable (TopicPartition, Int64) -> Void)?, state.offsets.highWatermark) }
            state.offsets.highWatermark = target
            Self.refreshLastStable(&state)
            return (true, state.highWatermarkListener, target)
        }
        if moved { listener?(topicPartition, highWatermark) }
        return highWatermark
    }

    /// Appends a batch as its leader numbered it (a follower's copy): the offsets and the leader
    /// epoch in the batch are kept, the bytes are written as they are. A batch wholly below the
    /// log end is already here and skipped; one that starts inside the log is refused. Offsets may
    /// jump forward (the leader compacted). A batch of a newer leader epoch starts that epoch in
    /// the leader-epoch cache, so this replica can later find where its log and a leader's diverge.
    /// A log that leads (since ``setLeaderEpoch(_:)``, until ``becomeFollower()``) skips copies.
    @discardableResult
    public func appendAsFollower(_ batch: RecordBatch, nowMs: Int64) throws(LogAppendError) -> Int64 {
        try appendOrder.withLock { _ throws(LogAppendError) -> Int64 in
            let plan = try state.withLock { (state: inout State) throws(LogAppendError) -> (LogSegment, Int64)? in
                if let reason = state.offlineReason { throw .offline(reason: reason) }
                let header = batch.header
                if header.lastOffset < state.offsets.logEndOffset || !state.acceptsFollowerAppends { return nil }
                guard header.baseOffset >= state.offsets.logEndOffset else {
                    throw .offsetOverlap(baseOffset: header.baseOffset, logEndOffset: state.offsets.logEndOffset)
                }
                if header.partitionLeaderEpoch >= 0, header.partitionLeaderEpoch > (state.epochEntries.last?.epoch ?? -1) {
                    state.epochEntries.append(EpochEntry(epoch: header.partitionLeaderEpoch, startOffset: header.baseOffset))
                    state.leaderEpoch = header.partitionLeaderEpoch
                    // Written by the flush that makes this batch durable (the fetcher waits for it).
                    state.epochGeneration += 1
                }
                do throws(StorageIOError) {
                    try rollIfNeeded(&state, header: header, sizeBytes: batch.bytes.readableBytes, nowMs: nowMs)
                } catch {
                    if error.kind != .noSpace { state.offlineReason = "append failed: \(error)" }
                    throw .storage(error)
                }
                let segment = state.activeSegment
                return (segment, segment.sizeBytes)
            }
            guard let (segment, position) = plan else { return state.withLock { $0.offsets.logEndOffset } }
            let bytes = batch.bytes
            let head = bytes.getSlice(at: bytes.readerIndex, length: Self.patchedHeadBytes)!
            let rest = bytes.getSlice(at: bytes.readerIndex + Self.patchedHeadBytes, length: bytes.readableBytes - Self.patchedHeadBytes)!
            try write(head, rest, to: segment, at: position)
            return state.withLock { state in
                segment.recordAppend(header: batch.header, position: position, sizeBytes: bytes.readableBytes)
                state.offsets.logEndOffset = batch.header.lastOffset + 1
                Self.recordProducerBatch(batch.header, marker: Self.marker(of: batch), segmentBase: segment.baseOffset, state: &state)
                state.unflushedRecordCount += Int64(batch.header.recordCount)
                return state.offsets.logEndOffset
            }
        }
    }

    /// Removes every batch at or after `offset` (a batch straddling it goes whole): a follower
    /// cutting what its new leader does not have; the caller decides the offset from the leader's
    /// epochs (EpochDivergence). Leader epochs that start at
    /// or after the new end go from the cache; the producer state forgets the batches cut off; the
    /// recovery point and high watermark come down to the new end.
    /// A log that leads (see ``appendAsFollower(_:nowMs:)``) is left as it is.
    /// - Returns: the log end offset after truncation.
    @discardableResult
    public func truncate(to offset: Int64, nowMs: Int64) throws(LogAppendError) -> Int64 {
        try appendOrder.withLock { _ throws(LogAppendError) -> Int64 in
            let result = try state.withLock { (state: inout State) throws(LogAppendError) -> (Int64, Bool) in
                if let reason = state.offlineReason { throw .offline(reason: reason) }
                // A log that leads is never cut by a late answer from its former leader.
                guard state.acceptsFollowerAppends else { return (state.offsets.logEndOffset, false) }
                guard offset < state.offsets.logEndOffset else {
                    return (state.offsets.logEndOffset, trimEpochs(&state, from: state.offsets.logEndOffset))
                }
                do throws(StorageIOError) {
                    // Whole segments at or past the offset go, except the first, which is cut.
                    while state.segments.count > 1, state.segments[state.segments.count - 1].baseOffset >= offset {
                        let removed = state.segments.removeLast()
                        try removed.deleteFiles()
                        state.directoryGeneration += 1
                    }
                    let active = state.activeSegment
                    try active.truncate(toOffset: offset)
                    let end = active.nextOffset
                    state.offsets.logEndOffset = end
                    state.offsets.highWatermark = min(state.offsets.highWatermark, end)
                    state.offsets.logStartOffset = min(state.offsets.logStartOffset, end)
                    state.recoveryPoint = min(state.recoveryPoint, end)
                    // What producers wrote before the cut stays known (a retry of it after a
                    // failover is still recognised), whichever segment it is in; transactions
                    // whose markers were cut are open again.
                    state.pendingSnapshot = nil
                    try Self.rebuildProducerState(&state, directory: directory, fileSystem: fileSystem, logEnd: end)
                    Self.refreshLastStable(&state)
                } catch {
                    state.offlineReason = "truncation failed: \(error)"
                    throw .storage(error)
                }
                return (state.offsets.logEndOffset, trimEpochs(&state, from: state.offsets.logEndOffset))
            }
            if result.1 {
                do throws(CheckpointError) {
                    try syncEpochCheckpoint()
                } catch {
                    throw .offline(reason: "leader-epoch checkpoint failed: \(error)")
                }
            }
            return result.0
        }
    }

    /// Drops leader epochs that start at or after `end` (a leader that wrote nothing in its epoch
    /// leaves an entry a follower must not keep, or the divergence search never settles).
    /// Returns whether any was dropped.
    private func trimEpochs(_ state: inout State, from end: Int64) -> Bool {
        let before = state.epochEntries.count
        state.epochEntries.removeAll { $0.startOffset >= end }
        guard state.epochEntries.count != before else { return false }
        state.leaderEpoch = state.epochEntries.last?.epoch ?? state.leaderEpoch
        state.epochGeneration += 1
        return true
    }
}
