public import NIOCore

/// The fixed 61-byte header of a v2 record batch (KIP-98), read in place.
///
/// Layout (big-endian), byte positions from the batch start:
///
///     0  baseOffset            int64   ┐ outside the CRC: the broker patches these
///     8  batchLength           int32   │ (bytes after this field)
///    12  partitionLeaderEpoch  int32   ┘
///    16  magic                 int8    (2)
///    17  crc                   uint32  CRC-32C of bytes 21..<end
///    21  attributes            int16   codec (bits 0-2), timestamp type (3), transactional (4),
///                                      control (5), delete horizon set (6)
///    23  lastOffsetDelta       int32
///    27  baseTimestamp         int64
///    35  maxTimestamp          int64
///    43  producerId            int64
///    51  producerEpoch         int16
///    53  baseSequence          int32
///    57  recordCount           int32
///    61  records…
public struct RecordBatchHeader: Hashable, Sendable {
    public static let sizeBytes = 61
    /// Bytes before `batchLength`'s count starts (baseOffset + batchLength).
    public static let logOverheadBytes = 12
    static let baseOffsetPosition = 0
    static let batchLengthPosition = 8
    static let partitionLeaderEpochPosition = 12
    static let magicPosition = 16
    static let crcPosition = 17
    static let attributesPosition = 21
    public static let currentMagic: Int8 = 2

    public var baseOffset: Int64
    public var batchLength: Int32
    public var partitionLeaderEpoch: Int32
    public var magic: Int8
    public var crc: UInt32
    public var attributes: RecordBatchAttributes
    public var lastOffsetDelta: Int32
    public var baseTimestamp: Int64
    public var maxTimestamp: Int64
    public var producerId: Int64
    public var producerEpoch: Int16
    public var baseSequence: Int32
    public var recordCount: Int32

    /// Total bytes of the batch, header included.
    public var totalSizeBytes: Int { Int(batchLength) + Self.logOverheadBytes }
    public var lastOffset: Int64 { baseOffset + Int64(lastOffsetDelta) }

    /// Reads the header at `index` of `buffer` without moving any index; nil if fewer than 61 bytes.
    public init?(from buffer: ByteBuffer, at index: Int) {
        guard index >= 0, buffer.readableBytes >= index - buffer.readerIndex + Self.sizeBytes,
              let baseOffset = buffer.getInteger(at: index, endianness: .big, as: Int64.self),
              let batchLength = buffer.getInteger(at: index + 8, endianness: .big, as: Int32.self),
              let partitionLeaderEpoch = buffer.getInteger(at: index + 12, endianness: .big, as: Int32.self),
              let magic = buffer.getInteger(at: index + 16, as: Int8.self),
              let crc = buffer.getInteger(at: index + 17, endianness: .big, as: UInt32.self),
              let attributes = buffer.getInteger(at: index + 21, endianness: .big, as: Int16.self),
              let lastOffsetDelta = buffer.getInteger(at: index + 23, endianness: .big, as: Int32.self),
              let baseTimestamp = buffer.getInteger(at: index + 27, endianness: .big, as: Int64.self),
              let maxTimestamp = buffer.getInteger(at: index + 35, endianness: .big, as: Int64.self),
              let producerId = buffer.getInteger(at: index + 43, endianness: .big, as: Int64.self),
              let producerEpoch = buffer.getInteger(at: index + 51, endianness: .big, as: Int16.self),
              let baseSequence = buffer.getInteger(at: index + 53, endianness: .big, as: Int32.self),
              let recordCount = buffer.getInteger(at: index + 57, endianness: .big, as: Int32.self)
        else { return nil }
        self.baseOffset = baseOffset
        self.batchLength = batchLength
        self.partitionLeaderEpoch = partitionLeaderEpoch
        self.magic = magic
        self.crc = crc
        self.attributes = RecordBatchAttributes(rawValue: attributes)
        self.lastOffsetDelta = lastOffsetDelta
        self.baseTimestamp = baseTimestamp
        self.maxTimestamp = maxTimestamp
        self.producerId = producerId
        self.producerEpoch = producerEpoch
        self.baseSequence = baseSequence
        self.recordCount = recordCount
    }
}

/// The `attributes` int16 of a v2 batch.
public struct RecordBatchAttributes: Hashable, Sendable {
    public var rawValue: Int16

    public init(rawValue: Int16) { self.rawValue = rawValue }

    public init(
        compressionCodec: CompressionCodec, timestampType: TimestampType = .createTime,
        isTransactional: Bool = false, isControl: Bool = false
    ) {
        var raw = Int16(compressionCodec.rawValue)
        if timestampType == .logAppendTime { raw |= 1 << 3 }
        if isTransactional { raw |= 1 << 4 }
        if isControl { raw |= 1 << 5 }
        rawValue = raw
    }

    /// Kafka's codec id (bits 0-2); 5-7 are undefined and rejected when the batch is read.
    public var compressionCodecId: Int8 { Int8(rawValue & 0x07) }
    public var timestampType: TimestampType { rawValue & (1 << 3) != 0 ? .logAppendTime : .createTime }
    public var isTransactional: Bool { rawValue & (1 << 4) != 0 }
    public var isControl: Bool { rawValue & (1 << 5) != 0 }
    /// Set by log compaction once tombstones in the batch have a delete horizon (KIP-534).
    public var hasDeleteHorizon: Bool { rawValue & (1 << 6) != 0 }
}

public enum TimestampType: Sendable, Hashable {
    case createTime
    case logAppendTime
}

extension ByteBuffer {
    /// Patches the offset of the batch starting at `index`. Outside the CRC, so no re-checksum.
    public mutating func setRecordBatchBaseOffset(_ baseOffset: Int64, batchAt index: Int) {
        setInteger(baseOffset, at: index + RecordBatchHeader.baseOffsetPosition, endianness: .big)
    }

    /// Patches the leader epoch of the batch starting at `index`. Outside the CRC.
    public mutating func setRecordBatchPartitionLeaderEpoch(_ epoch: Int32, batchAt index: Int) {
        setInteger(epoch, at: index + RecordBatchHeader.partitionLeaderEpochPosition, endianness: .big)
    }
}
