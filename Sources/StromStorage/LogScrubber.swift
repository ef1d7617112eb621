import KafkaProtocol

extension PartitionLog {
    /// What one integrity pass found.
    public struct ScrubReport: Sendable, Equatable {
        public var segmentsChecked: Int
        public var batchesChecked: Int
        /// Where the first corrupt batch is, when one was found; the log is then offline.
        public var corruption: String?
    }

    /// Re-reads segments below the recovery point — the flushed part that recovery trusts and
    /// never rescans — checking every batch's framing and CRC-32C. A corrupt batch there is not a
    /// crash tail but damage to acknowledged data: the log goes offline (reads and appends fail
    /// with KAFKA_STORAGE_ERROR) instead of serving it, and the report says where.
    ///
    /// Bounded: checks at most `segmentsMax` segments per call, starting at `fromSegment`; the
    /// caller keeps the cursor (`nextSegment`) between rounds.
    public func scrub(fromSegment: Int = 0, segmentsMax: Int = .max) throws(StorageIOError) -> (report: ScrubReport, nextSegment: Int) {
        let (segments, recoveryPoint) = try withState { (state: inout State) throws(StorageIOError) in (state.segments, state.recoveryPoint) }
        var report = ScrubReport(segmentsChecked: 0, batchesChecked: 0, corruption: nil)
        var index = fromSegment
        while index < segments.count, report.segmentsChecked < segmentsMax {
            let segment = segments[index]
            index += 1
            guard segment.baseOffset < recoveryPoint else { break }
            report.segmentsChecked += 1
            var position: Int64 = 0
            var expectedOffset = segment.baseOffset
            while position < segment.sizeBytes {
                let problem: String?
                if let header = try segment.batchHeader(at: position),
                   header.magic == RecordBatchHeader.currentMagic,
                   header.batchLength >= Int32(RecordBatchHeader.sizeBytes - RecordBatchHeader.logOverheadBytes),
                   position + Int64(header.totalSizeBytes) <= segment.sizeBytes,
                   header.baseOffset >= expectedOffset {
                    var bytes = try segment.log.read(at: position, count: header.totalSizeBytes)
                    if let batch = try? RecordBatch.read(from: &bytes), (try? batch.verifyChecksum()) != nil {
                        problem = nil
                        expectedOffset = header.lastOffset + 1
                        position += Int64(header.totalSizeBytes)
                        report.batchesChecked += 1
                    } else {
                        problem = "CRC mismatch in batch \(header.baseOffset)...\(header.lastOffset)"
                    }
                } else {
                    problem = "malformed batch header"
                }
                if let problem {
                    let where_ = "\(segment.logPath) at byte \(position) (after offset \(expectedOffset - 1))"
                    report.corruption = "\(problem) in \(where_)"
                    try withState { (state: inout State) throws(StorageIOError) in
                        state.offlineReason = "corrupt flushed data: \(report.corruption ?? "")"
                    }
                    return (report, index)
                }
            }
        }
        return (report, index >= segments.count ? 0 : index)
    }
}
