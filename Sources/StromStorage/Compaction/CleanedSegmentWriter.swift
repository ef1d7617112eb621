import KafkaProtocol
import NIOCore

// MARK: - Writing a cleaned segment

/// Step 1 of the swap: `<base>.log.cleaned` and its two indexes. Nothing is written until the
/// first batch that changes: the unchanged batches before it are then copied from the old file in
/// one go, so a segment with nothing to remove costs no write at all.
struct CleanedSegmentWriter {
    /// Flush the pending bytes once this many have gathered.
    static let chunkSizeBytes = 1 << 20

    let directory: String
    let original: LogSegment
    let fileSystem: any StorageFileSystem
    let indexIntervalBytes: Int
    private var file: (any StorageFile)?
    private var pending = ByteBuffer()
    private var writtenBytes: Int64 = 0
    /// Bytes of the cleaned segment so far (written, pending, or still only in the original).
    private(set) var sizeBytes: Int64 = 0
    private(set) var hasChanges = false
    private var offsetIndex: OffsetIndex
    private var timeIndex: TimeIndex
    private var bytesSinceLastIndexEntry = 0
    private var largestTimestampMs: Int64 = -1
    private var offsetOfLargestTimestamp: Int64 = -1

    init(directory: String, original: LogSegment, fileSystem: any StorageFileSystem, indexIntervalBytes: Int) {
        self.directory = directory
        self.original = original
        self.fileSystem = fileSystem
        self.indexIntervalBytes = indexIntervalBytes
        offsetIndex = OffsetIndex(baseOffset: original.baseOffset)
        timeIndex = TimeIndex(baseOffset: original.baseOffset)
    }

    private func path(_ suffix: String) -> String {
        LogCleaner.path(directory, original.baseOffset, suffix + LogCleaner.cleanedSuffix)
    }

    mutating func append(original batch: RecordBatch) throws(LogCompactionError) {
        if file != nil { try write(batch.bytes) }
        index(batch.header, sizeBytes: batch.bytes.readableBytes)
    }

    mutating func append(rebuilt bytes: ByteBuffer, header: RecordBatchHeader) throws(LogCompactionError) {
        try noteChange()
        try write(bytes)
        index(header, sizeBytes: bytes.readableBytes)
    }

    /// A batch was dropped or rebuilt: start the cleaned file, copying the unchanged prefix.
    mutating func noteChange() throws(LogCompactionError) {
        hasChanges = true
        guard file == nil else { return }
        do throws(StorageIOError) {
            let file = try fileSystem.open(path(".log"), create: true)
            self.file = file
            try file.truncate(to: 0)
            var copied: Int64 = 0
            // Bounded: each pass copies up to a chunk of the prefix.
            while copied < sizeBytes {
                let count = Int(min(Int64(Self.chunkSizeBytes), sizeBytes - copied))
                let chunk = try original.log.read(at: copied, count: count)
                guard chunk.readableBytes == count else {
                    throw StorageIOError(kind: .other, operation: "short read", path: original.logPath)
                }
                try file.write(chunk, at: copied)
                copied += Int64(count)
            }
            writtenBytes = copied
        } catch {
            throw .storage(error)
        }
    }

    private mutating func write(_ bytes: ByteBuffer) throws(LogCompactionError) {
        pending.writeImmutableBuffer(bytes)
        if pending.readableBytes >= Self.chunkSizeBytes { try flushPending() }
    }

    private mutating func flushPending() throws(LogCompactionError) {
        guard let file, pending.readableBytes > 0 else { return }
        do { try file.write(pending, at: writtenBytes) } catch { throw .storage(error) }
        writtenBytes += Int64(pending.readableBytes)
        pending.clear()
    }

    /// The same sparse entries `LogSegment.append` writes, so the indexes load as the live ones do.
    private mutating func index(_ header: RecordBatchHeader, sizeBytes batchSizeBytes: Int) {
        let position = sizeBytes
        sizeBytes += Int64(batchSizeBytes)
        if header.maxTimestamp > largestTimestampMs {
            largestTimestampMs = header.maxTimestamp
            offsetOfLargestTimestamp = header.lastOffset
        }
        bytesSinceLastIndexEntry += batchSizeBytes
        if bytesSinceLastIndexEntry > indexIntervalBytes {
            offsetIndex.append(offset: header.lastOffset, position: position)
            if offsetOfLargestTimestamp >= 0 { timeIndex.maybeAppend(timestampMs: largestTimestampMs, offset: offsetOfLargestTimestamp) }
            bytesSinceLastIndexEntry = 0
        }
    }

    /// Writes what is pending and the two indexes, and fsyncs all three files.
    mutating func finish() throws(LogCompactionError) {
        try flushPending()
        guard let file else { return }
        do throws(StorageIOError) {
            try file.sync()
            for (suffix, bytes) in [(".index", offsetIndex.encoded()), (".timeindex", timeIndex.encoded())] {
                let indexFile = try fileSystem.open(path(suffix), create: true)
                try indexFile.truncate(to: 0)
                try indexFile.write(bytes, at: 0)
                try indexFile.sync()
                try indexFile.close()
            }
            try file.close()
        } catch {
            throw .storage(error)
        }
        self.file = nil
    }

    /// Best-effort removal of whatever was written (the clean failed, or the segment left the log).
    mutating func discard() {
        try? file?.close()
        file = nil
        for suffix in LogCleaner.segmentSuffixes where fileSystem.exists(path(suffix)) {
            try? fileSystem.remove(path(suffix))
        }
    }
}
