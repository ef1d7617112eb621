extension PartitionLog {
    /// One retention round: removes whole segments from the oldest end while they are below the
    /// log start offset, older than `retention.ms` (by their largest timestamp) or beyond
    /// `retention.bytes`, and moves the log start offset up to the first kept segment. Never
    /// removes the active segment or data at or above the high watermark; removes at most
    /// `segmentsMax` segments, so one round's work is bounded. Returns how many were removed.
    @discardableResult
    public func applyRetention(nowMs: Int64, segmentsMax: Int = 16) throws(StorageIOError) -> Int {
        let removed = try withState { (state: inout State) throws(StorageIOError) -> [LogSegment] in
            let config = state.config
            var totalBytes = state.segments.reduce(Int64(0)) { $0 + $1.sizeBytes }
            var removed: [LogSegment] = []
            while removed.count < segmentsMax, state.segments.count > 1 {
                let oldest = state.segments[0]
                guard oldest.nextOffset <= state.offsets.highWatermark else { break }
                let belowStart = oldest.nextOffset <= state.offsets.logStartOffset
                let expired = config.isDeleteEnabled && config.retentionMs >= 0
                    && oldest.largestTimestampMs >= 0 && nowMs - oldest.largestTimestampMs > config.retentionMs
                let oversized = config.isDeleteEnabled && config.retentionSizeBytes >= 0
                    && totalBytes - oldest.sizeBytes >= config.retentionSizeBytes
                guard belowStart || expired || oversized else { break }
                state.segments.removeFirst()
                totalBytes -= oldest.sizeBytes
                removed.append(oldest)
                state.offsets.logStartOffset = max(state.offsets.logStartOffset, state.segments[0].baseOffset)
            }
            if !removed.isEmpty {
                state.directoryGeneration += 1
                let firstBase = state.segments[0].baseOffset
                state.abortedTransactions.removeAll { $0.lastOffset < firstBase }
                for segment in removed { state.indexedAbortCounts[segment.baseOffset] = nil }
                Self.refreshLastStable(&state)
            }
            return removed
        }
        // Files go outside the lock. Readers still holding a slice keep the open file; the
        // name disappears now and the data when the last reader lets go.
        for segment in removed { try segment.deleteFiles() }
        return removed.count
    }
}
