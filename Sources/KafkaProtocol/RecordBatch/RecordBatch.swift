public import NIOCore

/// One v2 record batch as it arrives and as it is stored: the bytes are never rebuilt, only checked
/// and, on append, patched outside the CRC (base offset, leader epoch).
public struct RecordBatch: Sendable {
    public let header: RecordBatchHeader
    /// The whole batch, header included: a slice of the buffer it was read from.
    public let bytes: ByteBuffer

    /// Reads the next batch off the front of `buffer`, checking only that its declared length is sane
    /// and present and that it is magic 2. The CRC and records are checked by ``validate(mode:decompressedSizeBytesMax:)``.
    ///
    /// - Parameter batchSizeBytesMax: the largest batch accepted (the broker's `message.max.bytes`).
    public static func read(from buffer: inout ByteBuffer, batchSizeBytesMax: Int = Int(Int32.max)) throws(RecordBatchError) -> RecordBatch {
        guard let header = RecordBatchHeader(from: buffer, at: buffer.readerIndex) else {
            throw .truncated(neededBytes: RecordBatchHeader.sizeBytes - buffer.readableBytes)
        }
        guard header.magic == RecordBatchHeader.currentMagic else { throw .unsupportedMagic(header.magic) }
        let minimumLength = RecordBatchHeader.sizeBytes - RecordBatchHeader.logOverheadBytes
        guard header.batchLength >= minimumLength, header.totalSizeBytes <= batchSizeBytesMax else {
            throw .invalidBatchLength(header.batchLength)
        }
        guard let bytes = buffer.readSlice(length: header.totalSizeBytes) else {
            throw .truncated(neededBytes: header.totalSizeBytes - buffer.readableBytes)
        }
        return RecordBatch(header: header, bytes: bytes)
    }

    init(header: RecordBatchHeader, bytes: ByteBuffer) {
        self.header = header
        self.bytes = bytes
    }

    /// The records section as stored: compressed when the batch is.
    public var storedRecords: ByteBuffer {
        bytes.getSlice(at: bytes.readerIndex + RecordBatchHeader.sizeBytes, length: bytes.readableBytes - RecordBatchHeader.sizeBytes)
            ?? ByteBuffer()
    }

    public func compressionCodec() throws(RecordBatchError) -> CompressionCodec {
        do {
            return try CompressionCodec(id: header.attributes.compressionCodecId)
        } catch {
            throw .compression(error)
        }
    }

    /// Computes CRC-32C over attributes…end and compares it with the stored one.
    public func verifyChecksum() throws(RecordBatchError) {
        let start = bytes.readerIndex + RecordBatchHeader.attributesPosition
        let computed = bytes.withUnsafeReadableBytes { raw in
            CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[(start - bytes.readerIndex)...]))
        }
        guard computed == header.crc else { throw .crcMismatch(stored: header.crc, computed: computed) }
    }

    /// How strictly record offsets are checked.
    public enum ValidationMode: Sendable {
        /// A producer's batch: at least one record, offset deltas 0, 1, 2, … and
        /// `lastOffsetDelta + 1 == recordCount`, as Kafka's broker requires before assigning offsets.
        case produced
        /// A batch read back from a log: compaction may have removed records (gaps, even none left).
        case stored
    }

    /// What one validation pass learned, so that an append needs no second pass.
    public struct Summary: Sendable, Hashable {
        public var recordCount: Int32
        public var maxTimestamp: Int64
        public var uncompressedRecordsSizeBytes: Int
    }

    /// Checks the batch completely: CRC, codec, header counts, and the framing of every record (lengths,
    /// varints, headers), decompressing into at most `decompressedSizeBytesMax` bytes.
    /// Costs the CRC plus one pass over the record headers; payload bytes are skipped, not copied.
    @discardableResult
    public func validate(mode: ValidationMode, decompressedSizeBytesMax: Int) throws(RecordBatchError) -> Summary {
        try validateHeaderAndChecksum(mode: mode)
        let declared = header.recordCount
        let plain = try decompressedRecords(sizeBytesMax: decompressedSizeBytesMax)
        let framing = try RecordFraming.check(
            plain, declaredCount: declared, lastOffsetDelta: header.lastOffsetDelta, sequentialOffsets: mode == .produced)
        let maxTimestamp = framing.count == 0 ? header.maxTimestamp : header.baseTimestamp &+ framing.maxTimestampDelta
        return Summary(recordCount: framing.count, maxTimestamp: maxTimestamp, uncompressedRecordsSizeBytes: plain.readableBytes)
    }

    /// Checks what can be checked without reading the records: the CRC (which covers the records,
    /// compressed or not), the codec id and the header's counts. For a compressed batch from a
    /// trusted producer this is the whole check, as Redpanda's relaxed validation does; the
    /// records' own framing is then first read by a consumer.
    public func validateHeaderAndChecksum(mode: ValidationMode) throws(RecordBatchError) {
        try verifyChecksum()
        _ = try compressionCodec()
        let declared = header.recordCount
        switch mode {
        case .produced:
            guard declared > 0, Int64(header.lastOffsetDelta) + 1 == Int64(declared) else {
                throw .invalidOffsetRange(recordCount: declared, lastOffsetDelta: header.lastOffsetDelta)
            }
        case .stored:
            guard declared >= 0 else { throw .recordCountMismatch(declared: declared, found: 0) }
        }
    }

    /// An iterator over the records, decompressing first when the batch is compressed (bounded by
    /// `decompressedSizeBytesMax`). Keys, values and headers are slices of the (decompressed) bytes.
    public func records(decompressedSizeBytesMax: Int) throws(RecordBatchError) -> RecordIterator {
        RecordIterator(records: try decompressedRecords(sizeBytesMax: decompressedSizeBytesMax), declaredCount: header.recordCount)
    }

    /// The records section, decompressed if needed (a slice of the batch when not compressed).
    func decompressedRecords(sizeBytesMax: Int) throws(RecordBatchError) -> ByteBuffer {
        let codec = try compressionCodec()
        do {
            return try codec.decompress(storedRecords, sizeBytesMax: sizeBytesMax)
        } catch {
            throw .compression(error)
        }
    }
}

/// Walks the records section of a batch, one record per `next()`, without allocating.
public struct RecordIterator: Sendable {
    private var remaining: ByteBuffer
    private var index: Int32 = 0
    private let declaredCount: Int32
    public let recordsSizeBytes: Int

    init(records: ByteBuffer, declaredCount: Int32) {
        remaining = records
        recordsSizeBytes = records.readableBytes
        self.declaredCount = declaredCount
    }

    /// The next record, or nil after the last; trailing bytes after the last record are an error.
    public mutating func next() throws(RecordBatchError) -> Record? {
        if remaining.readableBytes == 0 { return nil }
        guard index < declaredCount else {
            throw .invalidRecord(index: index, reason: "\(remaining.readableBytes) bytes after the declared records")
        }
        do {
            let length = try remaining.readKafkaVarint()
            guard length >= 0, var body = remaining.readSlice(length: Int(length)) else {
                throw RecordBatchError.invalidRecord(index: index, reason: "record length \(length) overruns the batch")
            }
            let record = try Record(from: &body, index: index)
            guard body.readableBytes == 0 else {
                throw RecordBatchError.invalidRecord(index: index, reason: "\(body.readableBytes) unread bytes in record")
            }
            index += 1
            return record
        } catch let error as RecordBatchError {
            throw error
        } catch {
            throw .invalidRecord(index: index, reason: "\(error)")
        }
    }
}
