import KafkaProtocol
import NIOCore

// MARK: - Reading records without copying them

/// One record of a batch as bytes: the whole record (length prefix included) to copy unchanged,
/// plus the fields compaction decides on.
struct RawRecord {
    var bytes: ByteBuffer
    var timestampDelta: Int64
    var offsetDelta: Int32
    var key: ByteBuffer?
    var isTombstone: Bool
}

/// Walks the (decompressed) records section of a batch, record by record, keeping each record's
/// exact bytes. Layout: see `Record` in KafkaProtocol.
struct RawRecordReader {
    private var remaining: ByteBuffer
    private var index: Int32 = 0
    private let declaredCount: Int32
    private let segmentBaseOffset: Int64
    private let position: Int64

    init(_ batch: RecordBatch, sizeBytesMax: Int, segmentBaseOffset: Int64, position: Int64) throws(LogCompactionError) {
        self.segmentBaseOffset = segmentBaseOffset
        self.position = position
        declaredCount = batch.header.recordCount
        do {
            let codec = try batch.compressionCodec()
            remaining = try codec.decompress(batch.storedRecords, sizeBytesMax: sizeBytesMax)
        } catch {
            throw .corruptBatch(segmentBaseOffset: segmentBaseOffset, position: position, reason: "\(error)")
        }
    }

    /// The next record, nil after the last. Malformed framing or a count that disagrees with the
    /// header is an error. Each call consumes at least one byte, so a loop over it is bounded.
    mutating func next() throws(LogCompactionError) -> RawRecord? {
        guard remaining.readableBytes > 0 else {
            guard index == declaredCount else { throw corrupt("\(index) records, header says \(declaredCount)") }
            return nil
        }
        guard index < declaredCount else { throw corrupt("bytes after the declared \(declaredCount) records") }
        let start = remaining
        do {
            let length = try remaining.readKafkaVarint()
            guard length >= 0, var body = remaining.readSlice(length: Int(length)) else { throw corrupt("record \(index) overruns the batch") }
            _ = try body.readKafkaInt8()  // record attributes, unused in v2
            let timestampDelta = try body.readKafkaVarlong()
            let offsetDelta = try body.readKafkaVarint()
            let keyLength = try body.readKafkaVarint()
            var key: ByteBuffer?
            if keyLength >= 0 {
                guard let slice = body.readSlice(length: Int(keyLength)) else { throw corrupt("record \(index) key overruns") }
                key = slice
            }
            let valueLength = try body.readKafkaVarint()
            guard valueLength >= -1, valueLength <= body.readableBytes else { throw corrupt("record \(index) value overruns") }
            let recordBytes = start.getSlice(at: start.readerIndex, length: remaining.readerIndex - start.readerIndex) ?? ByteBuffer()
            index += 1
            return RawRecord(bytes: recordBytes, timestampDelta: timestampDelta, offsetDelta: offsetDelta, key: key, isTombstone: valueLength < 0)
        } catch let error as LogCompactionError {
            throw error
        } catch {
            throw corrupt("record \(index): \(error)")
        }
    }

    private func corrupt(_ reason: String) -> LogCompactionError {
        .corruptBatch(segmentBaseOffset: segmentBaseOffset, position: position, reason: reason)
    }
}
