public import KafkaProtocol

/// Why an append was refused. Each case maps to the error a Kafka broker returns for the partition.
public enum LogAppendError: Error, Equatable, Sendable {
    case invalidBatch(RecordBatchError)
    case batchTooLarge(sizeBytes: Int, maxBytes: Int)
    case storage(StorageIOError)
    /// The partition stopped serving after an I/O failure or detected corruption.
    case offline(reason: String)

    public var kafkaErrorCode: KafkaErrorCode {
        switch self {
        case .invalidBatch(let error): error.kafkaErrorCode
        case .batchTooLarge: .messageTooLarge
        case .storage, .offline: .kafkaStorageError
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
