public import NIOCore

/// Builds a v2 record batch: for internal topics (offsets, transaction markers), the client library
/// and tests. Records are written as they are appended; ``build(allocator:)`` compresses them and
/// fills in the header and CRC.
public struct RecordBatchBuilder: Sendable {
    public var baseOffset: Int64
    public var partitionLeaderEpoch: Int32
    public var compressionCodec: CompressionCodec
    public var timestampType: TimestampType
    public var producerId: Int64
    public var producerEpoch: Int16
    public var baseSequence: Int32
    public var isTransactional: Bool
    public var isControl: Bool

    /// Keeps a batch's original last offset when compaction drops its trailing records, so the
    /// offsets it covered stay accounted for (Kafka's cleaner does the same).
    public var lastOffsetDeltaOverride: Int32?

    private var records: ByteBuffer
    private var recordCount: Int32 = 0
    private var lastOffsetDelta: Int32 = -1
    private var baseTimestamp: Int64?
    private var maxTimestamp: Int64 = -1

    /// A header as a producer sends it: a UTF-8 key and an optional value.
    public struct Header: Sendable, Hashable {
        public var key: String
        public var value: ByteBuffer?
        public init(key: String, value: ByteBuffer?) {
            self.key = key
            self.value = value
        }
    }

    /// Defaults are those of a non-idempotent producer (no producer id, epoch or sequence).
    public init(
        baseOffset: Int64 = 0, partitionLeaderEpoch: Int32 = -1, compressionCodec: CompressionCodec = .none,
        timestampType: TimestampType = .createTime, producerId: Int64 = -1, producerEpoch: Int16 = -1,
        baseSequence: Int32 = -1, isTransactional: Bool = false, isControl: Bool = false,
        allocator: ByteBufferAllocator = ByteBufferAllocator()
    ) {
        self.baseOffset = baseOffset
        self.partitionLeaderEpoch = partitionLeaderEpoch
        self.compressionCodec = compressionCodec
        self.timestampType = timestampType
        self.producerId = producerId
        self.producerEpoch = producerEpoch
        self.baseSequence = baseSequence
        self.isTransactional = isTransactional
        self.isControl = isControl
        self.records = allocator.buffer(capacity: 256)
    }

    public var isEmpty: Bool { recordCount == 0 }
    public var count: Int { Int(recordCount) }

    /// Appends a record with the next offset delta. The first record's timestamp is the batch's base.
    public mutating func append(timestampMs: Int64, key: ByteBuffer?, value: ByteBuffer?, headers: [Header] = []) {
        append(offsetDelta: lastOffsetDelta + 1, timestampMs: timestampMs, key: key, value: value, headers: headers)
    }

    /// Appends a record at an explicit offset delta, above the previous one: compaction keeps
    /// records at their original offsets, leaving gaps.
    public mutating func append(offsetDelta: Int32, timestampMs: Int64, key: ByteBuffer?, value: ByteBuffer?, headers: [Header] = []) {
        precondition(offsetDelta > lastOffsetDelta, "offset deltas must increase: \(offsetDelta) after \(lastOffsetDelta)")
        let base = baseTimestamp ?? timestampMs
        baseTimestamp = base
        maxTimestamp = Swift.max(maxTimestamp, timestampMs)
        let timestampDelta = timestampMs &- base
        var bodySize = 1 + kafkaVarlongSize(timestampDelta) + kafkaVarlongSize(Int64(offsetDelta))
        bodySize += Self.varintBytesSize(key) + Self.varintBytesSize(value)
        bodySize += kafkaVarlongSize(Int64(headers.count))
        for header in headers {
            let keySize = header.key.utf8.count
            bodySize += kafkaVarlongSize(Int64(keySize)) + keySize + Self.varintBytesSize(header.value)
        }
        records.writeKafkaVarint(Int32(bodySize))
        let start = records.writerIndex
        records.writeInteger(Int8(0))
        records.writeKafkaVarlong(timestampDelta)
        records.writeKafkaVarint(offsetDelta)
        Self.writeVarintBytes(key, into: &records)
        Self.writeVarintBytes(value, into: &records)
        records.writeKafkaVarint(Int32(headers.count))
        for header in headers {
            records.writeKafkaVarint(Int32(header.key.utf8.count))
            records.writeString(header.key)
            Self.writeVarintBytes(header.value, into: &records)
        }
        assert(records.writerIndex - start == bodySize, "record size computed \(bodySize), wrote \(records.writerIndex - start)")
        recordCount += 1
        lastOffsetDelta = offsetDelta
    }

    private static func varintBytesSize(_ bytes: ByteBuffer?) -> Int {
        guard let bytes else { return 1 }
        return kafkaVarlongSize(Int64(bytes.readableBytes)) + bytes.readableBytes
    }

    private static func writeVarintBytes(_ bytes: ByteBuffer?, into buffer: inout ByteBuffer) {
        guard let bytes else {
            buffer.writeKafkaVarint(-1)
            return
        }
        buffer.writeKafkaVarint(Int32(bytes.readableBytes))
        buffer.writeImmutableBuffer(bytes)
    }

    /// The finished batch.
    /// - Throws: ``RecordBatchError/compression(_:)`` if the codec fails.
    public func build(allocator: ByteBufferAllocator = ByteBufferAllocator()) throws(RecordBatchError) -> ByteBuffer {
        let payload: ByteBuffer
        do {
            payload = try compressionCodec.compress(records, allocator: allocator)
        } catch {
            throw .compression(error)
        }
        var batch = allocator.buffer(capacity: RecordBatchHeader.sizeBytes + payload.readableBytes)
        let attributes = RecordBatchAttributes(
            compressionCodec: compressionCodec, timestampType: timestampType,
            isTransactional: isTransactional, isControl: isControl)
        batch.writeInteger(baseOffset, endianness: .big)
        batch.writeInteger(Int32(RecordBatchHeader.sizeBytes - RecordBatchHeader.logOverheadBytes + payload.readableBytes), endianness: .big)
        batch.writeInteger(partitionLeaderEpoch, endianness: .big)
        batch.writeInteger(RecordBatchHeader.currentMagic)
        batch.writeInteger(UInt32(0), endianness: .big)  // CRC, filled in below
        batch.writeInteger(attributes.rawValue, endianness: .big)
        batch.writeInteger(lastOffsetDeltaOverride ?? max(lastOffsetDelta, 0), endianness: .big)
        batch.writeInteger(baseTimestamp ?? -1, endianness: .big)
        batch.writeInteger(recordCount == 0 ? (baseTimestamp ?? -1) : maxTimestamp, endianness: .big)
        batch.writeInteger(producerId, endianness: .big)
        batch.writeInteger(producerEpoch, endianness: .big)
        batch.writeInteger(baseSequence, endianness: .big)
        batch.writeInteger(recordCount, endianness: .big)
        batch.writeImmutableBuffer(payload)
        let crc = batch.withUnsafeReadableBytes { raw in
            CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[RecordBatchHeader.attributesPosition...]))
        }
        batch.setInteger(crc, at: batch.readerIndex + RecordBatchHeader.crcPosition, endianness: .big)
        return batch
    }
}

/// The two control records a transaction coordinator writes (KIP-98): key = version int16 (0) +
/// type int16; value = version int16 (0) + coordinator epoch int32.
public enum ControlRecordType: Int16, Sendable {
    case abort = 0
    case commit = 1
}

extension RecordBatchBuilder {
    /// A control batch holding one end-transaction marker.
    public static func endTransactionMarker(
        _ type: ControlRecordType, producerId: Int64, producerEpoch: Int16, coordinatorEpoch: Int32,
        timestampMs: Int64, baseOffset: Int64 = 0, partitionLeaderEpoch: Int32 = -1
    ) -> RecordBatchBuilder {
        var builder = RecordBatchBuilder(
            baseOffset: baseOffset, partitionLeaderEpoch: partitionLeaderEpoch, producerId: producerId,
            producerEpoch: producerEpoch, isTransactional: true, isControl: true)
        var key = ByteBuffer()
        key.writeInteger(Int16(0), endianness: .big)
        key.writeInteger(type.rawValue, endianness: .big)
        var value = ByteBuffer()
        value.writeInteger(Int16(0), endianness: .big)
        value.writeInteger(coordinatorEpoch, endianness: .big)
        builder.append(timestampMs: timestampMs, key: key, value: value)
        return builder
    }
}

extension Record {
    /// The control record type, for records of a control batch.
    public var controlType: ControlRecordType? {
        guard let key, key.readableBytes >= 4,
              let raw = key.getInteger(at: key.readerIndex + 2, endianness: .big, as: Int16.self)
        else { return nil }
        return ControlRecordType(rawValue: raw)
    }
}
