/// Why bytes are not a valid v2 record batch. Each case maps to the error a Kafka broker returns.
public enum RecordBatchError: Error, Equatable, Sendable {
    /// Fewer bytes than the batch declares (or than a header).
    case truncated(neededBytes: Int)
    /// Only magic 2 batches are accepted; 0 and 1 are the pre-0.11 formats.
    case unsupportedMagic(Int8)
    /// `batchLength` smaller than the header or larger than allowed.
    case invalidBatchLength(Int32)
    /// The stored CRC-32C does not match the bytes.
    case crcMismatch(stored: UInt32, computed: UInt32)
    /// The header's count disagrees with the records found.
    case recordCountMismatch(declared: Int32, found: Int32)
    /// A producer's batch must hold records and `lastOffsetDelta + 1 == recordCount`.
    case invalidOffsetRange(recordCount: Int32, lastOffsetDelta: Int32)
    /// A record inside the batch is malformed.
    case invalidRecord(index: Int32, reason: String)
    /// Records decompressed badly, or beyond the size limit.
    case compression(CompressionError)

    /// The error code a broker answers a produce request carrying this batch with.
    public var kafkaErrorCode: KafkaErrorCode {
        switch self {
        case .crcMismatch, .truncated, .invalidBatchLength: .corruptMessage
        case .unsupportedMagic: .unsupportedForMessageFormat
        case .recordCountMismatch, .invalidOffsetRange, .invalidRecord: .invalidRecord
        case .compression(.unknownCodec): .unsupportedCompressionType
        case .compression(.decompressedSizeExceeded): .messageTooLarge
        case .compression: .corruptMessage
        }
    }
}
