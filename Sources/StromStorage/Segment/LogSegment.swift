import KafkaProtocol
import NIOCore

/// One segment of a partition log: `<20-digit base offset>.log` holding record batches verbatim,
/// back to back, plus its two sparse indexes (see ``OffsetIndex`` and ``TimeIndex``).
///
/// Not thread-safe: ``PartitionLog`` owns its segments and serialises access under its lock.
/// Positional reads through `log` are safe concurrently with appends, since bytes once written
/// are never rewritten (only truncated away during recovery, before anyone reads).
final class LogSegment: @unchecked Sendable {
    let baseOffset: Int64
    let log: any StorageFile
    private let offsetIndexPath: String
    private let timeIndexPath: String
    /// The index files, open only while the segment's indexes are read or written: at rest a
    /// segment costs one descriptor (its `.log`), so 10,000 partitions fit a 20,000-descriptor limit.
    private var indexFiles: (offsets: any StorageFile, times: any StorageFile)?
    private let fileSystem: any StorageFileSystem
    private let indexIntervalBytes: Int

    private(set) var offsetIndex: OffsetIndex
    private(set) var timeIndex: TimeIndex
    private(set) var sizeBytes: Int64 = 0
    /// One past the last offset stored; equals `baseOffset` while empty.
    private(set) var nextOffset: Int64
    private(set) var largestTimestampMs: Int64 = -1
    /// Time the segment is rolled by (`segment.ms`): its first batch's timestamp, else creation time.
    private(set) var rollingTimestampMs: Int64
    private var bytesSinceLastIndexEntry = 0
    private var offsetOfLargestTimestamp: Int64 = -1

    static func fileName(baseOffset: Int64, suffix: String) -> String {
        let digits = String(baseOffset)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits + suffix
    }

    /// Parses "00000000000000001234.log" → 1234.
    static func baseOffset(fromLogFileName name: String) -> Int64? {
        guard name.hasSuffix(".log"), name.count == 24 else { return nil }
        return Int64(name.prefix(20))
    }

    var logPath: String { log.path }

    private init(
        baseOffset: Int64, log: any StorageFile, offsetIndexPath: String, timeIndexPath: String,
        fileSystem: any StorageFileSystem, indexIntervalBytes: Int, nowMs: Int64
    ) {
        self.baseOffset = baseOffset
        self.log = log
        self.offsetIndexPath = offsetIndexPath
        self.timeIndexPath = timeIndexPath
        self.fileSystem = fileSystem
        self.indexIntervalBytes = indexIntervalBytes
        self.offsetIndex = OffsetIndex(baseOffset: baseOffset)
        self.timeIndex = TimeIndex(baseOffset: baseOffset)
        self.nextOffset = baseOffset
        self.rollingTimestampMs = nowMs
    }

    /// Opens (creating if absent) the three files of a segment. Contents are not trusted yet:
    /// call ``loadIndexes()`` (clean shutdown) or ``recover()`` (after a crash) before use.
    static func open(
        directory: String, baseOffset: Int64, fileSystem: any StorageFileSystem, indexIntervalBytes: Int, nowMs: Int64
    ) throws(StorageIOError) -> LogSegment {
        let log = try fileSystem.open("\(directory)/\(fileName(baseOffset: baseOffset, suffix: ".log"))", create: true)
        let segment = LogSegment(
            baseOffset: baseOffset, log: log,
            offsetIndexPath: "\(directory)/\(fileName(baseOffset: baseOffset, suffix: ".index"))",
            timeIndexPath: "\(directory)/\(fileName(baseOffset: baseOffset, suffix: ".timeindex"))",
            fileSystem: fileSystem, indexIntervalBytes: indexIntervalBytes, nowMs: nowMs)
        do {
            segment.sizeBytes = try log.size()
            _ = try segment.openIndexFiles()
        } catch {
            segment.close()
            throw error
        }
        return segment
    }

    /// The index files, opened (and created) if they are not open.
    private func openIndexFiles() throws(StorageIOError) -> (offsets: any StorageFile, times: any StorageFile) {
        if let indexFiles { return indexFiles }
        let offsets = try fileSystem.open(offsetIndexPath, create: true)
        let times: any StorageFile
        do {
            times = try fileSystem.open(timeIndexPath, create: true)
        } catch {
            try? offsets.close()
            throw error
        }
        indexFiles = (offsets, times)
        return (offsets, times)
    }

    /// Closes the index files until the indexes are next read or written (entries not yet
    /// written stay pending in memory).
    func releaseIndexFiles() {
        try? indexFiles?.offsets.close()
        try? indexFiles?.times.close()
        indexFiles = nil
    }

    // MARK: Appending

    /// Writes one batch whose offsets were already assigned, given as its first bytes (with
    /// `baseOffset` and the leader epoch patched) and the rest as received, at `position` (the
    /// segment's size when the append was planned). Touches only the file, so it runs outside
    /// the owner's state lock; ``recordAppend(header:position:sizeBytes:)`` then publishes it.
    func write(batchHead head: ByteBuffer, rest: ByteBuffer, at position: Int64) throws(StorageIOError) {
        try log.write(head, rest, at: position)
    }

    /// Cuts off what a failed write left past the segment's end, so the file holds only the log.
    func discardUnpublishedTail() throws(StorageIOError) {
        try log.truncate(to: sizeBytes)
    }

    /// Counts a written batch in (under the owner's lock): size, offsets, timestamps, indexes.
    func recordAppend(header: RecordBatchHeader, position: Int64, sizeBytes batchSizeBytes: Int) {
        precondition(position == sizeBytes, "batch written at \(position), segment ends at \(sizeBytes)")
        sizeBytes += Int64(batchSizeBytes)
        if nextOffset == baseOffset { rollingTimestampMs = header.maxTimestamp >= 0 ? header.maxTimestamp : rollingTimestampMs }
        nextOffset = header.lastOffset + 1
        if header.maxTimestamp > largestTimestampMs {
            largestTimestampMs = header.maxTimestamp
            offsetOfLargestTimestamp = header.lastOffset
        }
        bytesSinceLastIndexEntry += batchSizeBytes
        if bytesSinceLastIndexEntry > indexIntervalBytes {
            addIndexEntries(lastOffset: header.lastOffset, position: position)
        }
    }

    /// Index entries not yet written to their files. Indexes are caches of the log, so their
    /// writes are batched: written when the log is flushed, rolled or closed, one write per file
    /// instead of two syscalls per append.
    private var pendingOffsetEntries = ByteBuffer()
    private var pendingTimeEntries = ByteBuffer()
    private var offsetIndexBytesWritten: Int64 = 0
    private var timeIndexBytesWritten: Int64 = 0

    private func addIndexEntries(lastOffset: Int64, position: Int64) {
        let before = offsetIndex.count
        offsetIndex.append(offset: lastOffset, position: position)
        if offsetIndex.count > before {
            pendingOffsetEntries.writeImmutableBuffer(OffsetIndex.encode(offset: lastOffset, position: position, baseOffset: baseOffset))
        }
        if offsetOfLargestTimestamp >= 0, timeIndex.maybeAppend(timestampMs: largestTimestampMs, offset: offsetOfLargestTimestamp) {
            pendingTimeEntries.writeImmutableBuffer(
                TimeIndex.encode(timestampMs: largestTimestampMs, offset: offsetOfLargestTimestamp, baseOffset: baseOffset))
        }
        bytesSinceLastIndexEntry = 0
    }

    /// Writes index entries added since the last call.
    func writePendingIndexEntries() throws(StorageIOError) {
        guard pendingOffsetEntries.readableBytes > 0 || pendingTimeEntries.readableBytes > 0 else { return }
        let (offsetIndexFile, timeIndexFile) = try openIndexFiles()
        if pendingOffsetEntries.readableBytes > 0 {
            try offsetIndexFile.write(pendingOffsetEntries, at: offsetIndexBytesWritten)
            offsetIndexBytesWritten += Int64(pendingOffsetEntries.readableBytes)
            pendingOffsetEntries.clear()
        }
        if pendingTimeEntries.readableBytes > 0 {
            try timeIndexFile.write(pendingTimeEntries, at: timeIndexBytesWritten)
            timeIndexBytesWritten += Int64(pendingTimeEntries.readableBytes)
            pendingTimeEntries.clear()
        }
    }

    /// Whether the index can take another entry and offsets still fit its 32-bit relative form.
    func canHold(lastOffset: Int64, additionalBytes: Int, segmentSizeBytes: Int64, indexSizeBytesMax: Int) -> Bool {
        guard lastOffset - baseOffset <= Int64(Int32.max) else { return false }
        guard (offsetIndex.count + 1) * OffsetIndex.entrySizeBytes <= indexSizeBytesMax,
              (timeIndex.count + 1) * TimeIndex.entrySizeBytes <= indexSizeBytesMax else { return false }
        return sizeBytes == 0 || sizeBytes + Int64(additionalBytes) <= segmentSizeBytes
    }

    // MARK: Reading

    /// Reads the 61-byte header of the batch at `position`; nil at or past the end.
    func batchHeader(at position: Int64) throws(StorageIOError) -> RecordBatchHeader? {
        guard position + Int64(RecordBatchHeader.sizeBytes) <= sizeBytes else { return nil }
        let bytes = try log.read(at: position, count: RecordBatchHeader.sizeBytes)
        return RecordBatchHeader(from: bytes, at: bytes.readerIndex)
    }

    /// The first batch whose last offset is ≥ `offset`, with its position; nil if none here.
    func locate(offset: Int64) throws(StorageIOError) -> (position: Int64, header: RecordBatchHeader)? {
        var position = offsetIndex.lookup(offset: offset)
        while let header = try batchHeader(at: position) {
            if header.lastOffset >= offset { return (position, header) }
            position += Int64(header.totalSizeBytes)
        }
        return nil
    }

    /// The batches from the one holding `offset`, up to `maxBytes` (at least one whole batch when
    /// `minOneBatch`), stopping before any batch whose last offset reaches `endOffsetExclusive`.
    /// Returns the slice and the offset after its last batch.
    func read(
        from offset: Int64, maxBytes: Int, endOffsetExclusive: Int64, minOneBatch: Bool
    ) throws(StorageIOError) -> (slice: FileSlice, nextOffset: Int64)? {
        guard let (start, first) = try locate(offset: offset), first.lastOffset < endOffsetExclusive else { return nil }
        var end = start
        var nextOffset = offset
        var header: RecordBatchHeader? = first
        while let current = header, current.lastOffset < endOffsetExclusive {
            let next = end + Int64(current.totalSizeBytes)
            if next - start > Int64(maxBytes) && !(minOneBatch && end == start) { break }
            end = next
            nextOffset = current.lastOffset + 1
            header = try batchHeader(at: end)
        }
        guard end > start else { return nil }
        return (FileSlice(file: log, position: start, lengthBytes: Int(end - start)), nextOffset)
    }

    /// Every batch header of the segment, in order, up to its size (the batches themselves are
    /// not read).
    func forEachBatchHeader(_ body: (RecordBatchHeader) -> Void) throws(StorageIOError) {
        try forEachBatchHeader(at: { header, _ in body(header) })
    }

    /// Every batch header of the segment with its position, in order.
    func forEachBatchHeader(at body: (RecordBatchHeader, Int64) throws(StorageIOError) -> Void) throws(StorageIOError) {
        var position: Int64 = 0
        while position < sizeBytes, let header = try batchHeader(at: position) {
            try body(header, position)
            position += Int64(header.totalSizeBytes)
        }
    }

    /// The whole batch at `position`; nil past the end or for a batch that cannot be read.
    func batch(at position: Int64) throws(StorageIOError) -> RecordBatch? {
        guard let header = try batchHeader(at: position), header.batchLength >= 49,
              position + Int64(header.totalSizeBytes) <= sizeBytes else { return nil }
        var bytes = try log.read(at: position, count: header.totalSizeBytes)
        return try? RecordBatch.read(from: &bytes)
    }

    /// Every whole batch of the segment, in order (for recovery, compaction and timestamp search).
    func forEachBatch(from startPosition: Int64 = 0, _ body: (Int64, RecordBatch) throws -> Bool) throws {
        var position = startPosition
        while let header = try batchHeader(at: position) {
            guard header.batchLength >= 49, position + Int64(header.totalSizeBytes) <= sizeBytes else { return }
            var bytes = try log.read(at: position, count: header.totalSizeBytes)
            let batch = try RecordBatch.read(from: &bytes)
            guard try body(position, batch) else { return }
            position += Int64(header.totalSizeBytes)
        }
    }

    // MARK: Recovery and loading

    /// What ``checkBatch(at:endPosition:expectedOffset:contiguous:)`` found.
    enum BatchCheck {
        case valid(RecordBatchHeader)
        /// Torn, garbage, out of order, or not a magic-2 batch.
        case malformed
        case checksumMismatch(RecordBatchHeader)
    }

    /// Checks the batch at `position` whole: framing within `endPosition`, offsets at or after
    /// `expectedOffset` (exactly at it when `contiguous`), and its CRC. The one definition of a
    /// valid stored batch, shared by crash recovery and the scrubber.
    func checkBatch(at position: Int64, endPosition: Int64, expectedOffset: Int64, contiguous: Bool) throws(StorageIOError) -> BatchCheck {
        guard let header = try batchHeader(at: position),
              header.magic == RecordBatchHeader.currentMagic,
              header.batchLength >= Int32(RecordBatchHeader.sizeBytes - RecordBatchHeader.logOverheadBytes),
              position + Int64(header.totalSizeBytes) <= endPosition,
              contiguous ? header.baseOffset == expectedOffset : header.baseOffset >= expectedOffset,
              header.lastOffsetDelta >= 0, header.lastOffset - baseOffset <= Int64(Int32.max)
        else { return .malformed }
        var bytes = try log.read(at: position, count: header.totalSizeBytes)
        guard let batch = try? RecordBatch.read(from: &bytes), (try? batch.verifyChecksum()) != nil else {
            return .checksumMismatch(header)
        }
        return .valid(header)
    }

    /// Rebuilds the indexes by scanning every batch and checking its CRC; truncates the log at the
    /// first batch that is torn, corrupt or out of order (a crash tail). Returns the bytes removed.
    ///
    /// - Parameter contiguous: batches must follow each other without gaps, starting at the
    ///   segment's base offset. True for crash recovery of unflushed segments (which compaction
    ///   never touches): data after a hole was written after data the crash lost, so it goes too.
    ///   False when rebuilding indexes of a flushed segment, where compaction may have left gaps.
    @discardableResult
    func recover(expectedFirstOffset: Int64, contiguous: Bool = false) throws(StorageIOError) -> Int64 {
        offsetIndex = OffsetIndex(baseOffset: baseOffset)
        timeIndex = TimeIndex(baseOffset: baseOffset)
        bytesSinceLastIndexEntry = 0
        largestTimestampMs = -1
        offsetOfLargestTimestamp = -1
        nextOffset = baseOffset
        let fileSizeBytes = try log.size()
        sizeBytes = fileSizeBytes
        var position: Int64 = 0
        var expected = max(expectedFirstOffset, baseOffset)
        while position < fileSizeBytes {
            guard case .valid(let header) = try checkBatch(
                at: position, endPosition: fileSizeBytes, expectedOffset: expected, contiguous: contiguous)
            else { break }
            if nextOffset == baseOffset, header.maxTimestamp >= 0 { rollingTimestampMs = header.maxTimestamp }
            nextOffset = header.lastOffset + 1
            expected = nextOffset
            if header.maxTimestamp > largestTimestampMs {
                largestTimestampMs = header.maxTimestamp
                offsetOfLargestTimestamp = header.lastOffset
            }
            bytesSinceLastIndexEntry += header.totalSizeBytes
            if bytesSinceLastIndexEntry > indexIntervalBytes {
                offsetIndex.append(offset: header.lastOffset, position: position)
                if offsetOfLargestTimestamp >= 0 { timeIndex.maybeAppend(timestampMs: largestTimestampMs, offset: offsetOfLargestTimestamp) }
                bytesSinceLastIndexEntry = 0
            }
            position += Int64(header.totalSizeBytes)
        }
        let truncatedBytes = fileSizeBytes - position
        if truncatedBytes > 0 {
            try log.truncate(to: position)
            sizeBytes = position
        }
        try rewriteIndexes()
        return truncatedBytes
    }

    /// After a clean shutdown: trusts the log and loads the index files, falling back to a
    /// rebuild when they are missing or inconsistent. Scans only the tail after the last index
    /// entry to learn the next offset and the largest timestamp.
    /// - Returns: the bytes a rebuild cut off (a torn or damaged file); 0 when the log was whole.
    @discardableResult
    func loadIndexes() throws(StorageIOError) -> Int64 {
        let (offsetIndexFile, timeIndexFile) = try openIndexFiles()
        let offsetBytes = try offsetIndexFile.read(at: 0, count: Int(try offsetIndexFile.size()))
        let timeBytes = try timeIndexFile.read(at: 0, count: Int(try timeIndexFile.size()))
        // A missing index reads as empty; for a segment that should have entries, that is a
        // lost index, not an empty one.
        guard let offsets = OffsetIndex.decode(offsetBytes, baseOffset: baseOffset, logSizeBytes: sizeBytes),
              offsets.count > 0 || sizeBytes <= Int64(indexIntervalBytes) * 2
        else {
            return try recover(expectedFirstOffset: baseOffset)
        }
        offsetIndex = offsets
        offsetIndexBytesWritten = Int64(offsetBytes.readableBytes)
        var position: Int64 = 0
        if let last = offsets.positions.last { position = Int64(last) }
        nextOffset = baseOffset
        var scannedAny = false
        while let header = try batchHeader(at: position) {
            // Framing, and offsets that belong here and go forward: a batch below the segment's
            // base or behind its predecessor means a damaged file, rebuilt (and checked) below.
            guard header.batchLength >= 49, position + Int64(header.totalSizeBytes) <= sizeBytes,
                  header.baseOffset >= max(baseOffset, nextOffset), header.lastOffsetDelta >= 0,
                  header.lastOffset - baseOffset <= Int64(Int32.max)
            else { break }
            if !scannedAny && position == 0, header.maxTimestamp >= 0 { rollingTimestampMs = header.maxTimestamp }
            scannedAny = true
            nextOffset = header.lastOffset + 1
            if header.maxTimestamp > largestTimestampMs {
                largestTimestampMs = header.maxTimestamp
                offsetOfLargestTimestamp = header.lastOffset
            }
            position += Int64(header.totalSizeBytes)
        }
        guard position == sizeBytes, let times = TimeIndex.decode(timeBytes, baseOffset: baseOffset, logEndOffset: nextOffset) else {
            return try recover(expectedFirstOffset: baseOffset)
        }
        timeIndex = times
        timeIndexBytesWritten = Int64(timeBytes.readableBytes)
        if let last = times.lastTimestamp, last > largestTimestampMs {
            largestTimestampMs = last
        }
        if offsets.count > 0, let first = try batchHeader(at: 0), first.maxTimestamp >= 0 { rollingTimestampMs = first.maxTimestamp }
        return 0
    }

    private func rewriteIndexes() throws(StorageIOError) {
        let (offsetIndexFile, timeIndexFile) = try openIndexFiles()
        let offsets = offsetIndex.encoded()
        try offsetIndexFile.truncate(to: 0)
        try offsetIndexFile.write(offsets, at: 0)
        let times = timeIndex.encoded()
        try timeIndexFile.truncate(to: 0)
        try timeIndexFile.write(times, at: 0)
        offsetIndexBytesWritten = Int64(offsets.readableBytes)
        timeIndexBytesWritten = Int64(times.readableBytes)
        pendingOffsetEntries.clear()
        pendingTimeEntries.clear()
    }

    // MARK: Durability and removal

    /// Syncs the log data. Safe outside the owner's lock: it touches only the file.
    /// (The owner writes pending index entries under its lock first.)
    func flush() throws(StorageIOError) {
        try log.sync()
    }

    /// Indexes are caches, so they are synced only when the segment stops changing (rolled,
    /// closed); their files are closed afterwards.
    func flushIndexes() throws(StorageIOError) {
        try writePendingIndexEntries()
        if let indexFiles {
            try indexFiles.offsets.sync()
            try indexFiles.times.sync()
        }
        releaseIndexFiles()
    }

    /// Removes every batch at or after `offset` (follower truncation, tests).
    func truncate(toOffset offset: Int64) throws(StorageIOError) {
        guard let (position, header) = try locate(offset: offset) else { return }
        // A batch is kept or removed whole; one that straddles `offset` goes.
        _ = header
        try log.truncate(to: position)
        try recover(expectedFirstOffset: baseOffset)
    }

    func close() {
        try? log.close()
        releaseIndexFiles()
    }

    /// Unlinks the files without closing them, for segments that readers may still be using:
    /// the descriptors close when the last reference goes.
    /// The files named after this segment's base offset that go with it: its aborted-transaction
    /// index and the producer snapshot taken when it was created.
    private var companionPaths: [String] {
        let directory = String(log.path[..<(log.path.lastIndex(of: "/") ?? log.path.startIndex)])
        return [TransactionIndexFile.suffix, ProducerStateSnapshot.suffix].map { "\(directory)/\(Self.fileName(baseOffset: baseOffset, suffix: $0))" }
    }

    func deleteFiles() throws(StorageIOError) {
        for path in [log.path, offsetIndexPath, timeIndexPath] + companionPaths where fileSystem.exists(path) {
            try fileSystem.remove(path)
        }
    }

    func delete() throws(StorageIOError) {
        let paths = [log.path, offsetIndexPath, timeIndexPath] + companionPaths
        close()
        for path in paths where fileSystem.exists(path) { try fileSystem.remove(path) }
    }
}
