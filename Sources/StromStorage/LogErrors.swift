public import KafkaProtocol

/// Why an append was refused. Each case maps to the error a Kafka broker returns for the partition.
public enum LogAppendError: Error, Equatable, Sendable {
    case invalidBatch(RecordBatchError)
    case batchTooLarge(sizeBytes: Int, maxBytes: Int)
    case storage(StorageIOError)
    /// The partition stopped serving after an I/O failure or detected corruption.
    case offline(reason: String)
    /// An idempotent producer's batch does not continue its sequence (a batch was lost in between).
    case outOfOrderSequence(producerId: Int64, expected: Int32, received: Int32)
    /// An idempotent producer's epoch is older than one already seen: another instance took over.
    case invalidProducerEpoch(producerId: Int64, epoch: Int16, currentEpoch: Int16)
    /// A follower's copy of a batch starts inside what the log has (the leader and this replica
    /// disagree: truncate first).
    case offsetOverlap(baseOffset: Int64, logEndOffset: Int64)
    /// A plain batch from a producer with a transaction open here.
    case invalidTransactionState(producerId: Int64)

    public var kafkaErrorCode: KafkaErrorCode {
        switch self {
        case .invalidBatch(let error): error.kafkaErrorCode
        case .batchTooLarge: .messageTooLarge
        case .outOfOrderSequence: .outOfOrderSequenceNumber
        case .invalidProducerEpoch: .invalidProducerEpoch
        case .storage, .offline: .kafkaStorageError
        case .offsetOverlap: .unknownServerError
        case .invalidTransactionState: .invalidTxnState
        }
    }
}

public enum LogReadError: Error, Equatable, Sendable {
    case offsetOutOfRange(requested: Int64, logStartOffset: Int64, logEndOffset: Int64)
    case storage(StorageIOError)
    case offline(reason: String)

    public var kafkaErrorCode: KafkaErrorCode {
        switch self {
        case .offsetOutOfRange: .offsetOutOfRange
        case .storage, .offline: .kafkaStorageError
        }
    }
}
