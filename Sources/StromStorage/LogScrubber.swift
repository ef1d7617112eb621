extension PartitionLog {
    /// What one integrity pass found.
    public struct ScrubReport: Sendable, Equatable {
        public var segmentsChecked: Int
        public var batchesChecked: Int
        public var bytesChecked: Int64 = 0
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
                let problem: String
                switch try segment.checkBatch(
                    at: position, endPosition: segment.sizeBytes, expectedOffset: expectedOffset, contiguous: false) {
                case .valid(let header):
                    expectedOffset = header.lastOffset + 1
                    position += Int64(header.totalSizeBytes)
                    report.batchesChecked += 1
                    report.bytesChecked += Int64(header.totalSizeBytes)
                    continue
                case .checksumMismatch(let header):
                    problem = "CRC mismatch in batch \(header.baseOffset)...\(header.lastOffset)"
                case .malformed:
                    problem = "malformed batch header"
                }
                let where_ = "\(segment.logPath) at byte \(position) (after offset \(expectedOffset - 1))"
                report.corruption = "\(problem) in \(where_)"
                try withState { (state: inout State) throws(StorageIOError) in
                    state.offlineReason = "corrupt flushed data: \(report.corruption ?? "")"
                }
                return (report, index)
            }
        }
        return (report, index >= segments.count ? 0 : index)
    }
}
