import KafkaProtocol

extension PartitionLog {
    /// When the record at `offset` was written, near enough for a consumer's time lag: the first
    /// timestamp of its batch (the broker's append time on LogAppendTime topics), read from the
    /// batch header without decoding records — at most the batch's own span too old. Nil outside
    /// the log, or when the header cannot be read.
    public func batchTimestamp(at offset: Int64) -> Int64? {
        state.withLock { state in
            guard offset >= state.offsets.logStartOffset, offset < state.offsets.logEndOffset,
                  let segment = state.segments.last(where: { $0.baseOffset <= offset }),
                  let located = try? segment.locate(offset: offset)
            else { return nil }
            let header = located.header
            return header.attributes.timestampType == .logAppendTime ? header.maxTimestamp : header.baseTimestamp
        }
    }
}
