public import KafkaProtocol

/// Why a ``MetadataStore`` refused or failed an operation.
///
/// Each case maps to one Kafka error code (``kafkaErrorCode``), which the broker puts in its response, with
/// ``description`` as the error message; the messages follow Kafka's where Kafka has one.
public enum MetadataError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A topic named `name` exists already (`TOPIC_ALREADY_EXISTS`).
    case topicAlreadyExists(name: String)
    /// No topic is named `name` (`UNKNOWN_TOPIC_OR_PARTITION`).
    case unknownTopic(name: String)
    /// No topic has this id (`UNKNOWN_TOPIC_ID`).
    case unknownTopicId(KafkaUUID)
    /// `name` breaks one of Kafka's naming rules (see ``TopicNames``); `reason` says which
    /// (`INVALID_TOPIC_EXCEPTION`).
    case invalidTopicName(name: String, reason: String)
    /// `name` differs from the existing topic `existingTopic` only in `.` versus `_`, which Kafka refuses
    /// because its metric names would be the same (`INVALID_TOPIC_EXCEPTION`).
    case topicNameCollides(name: String, existingTopic: String)
    /// `name` is reserved and no client may create it, such as `__cluster_metadata` (`INVALID_REQUEST`).
    case reservedTopicName(String)
    /// The requested partition count is not allowed: not positive, not an increase, or above the limit
    /// (`INVALID_PARTITIONS`).
    case invalidPartitions(String)
    /// The requested replication factor is not positive, or there aren't enough brokers for it
    /// (`INVALID_REPLICATION_FACTOR`).
    case invalidReplicationFactor(String)
    /// A topic config is unknown, has an invalid value, or conflicts with another (`INVALID_CONFIG`).
    /// `reason` is the whole message, naming the key and value.
    case invalidConfig(key: String, reason: String)
    /// A broker config that can't change while brokers run (`INVALID_REQUEST`, as Kafka answers).
    case readOnlyConfig(key: String)
    /// Reading or writing the metadata failed (`UNKNOWN_SERVER_ERROR`). A change that fails this way may or
    /// may not have reached the disk: the store's state is unchanged, but a restart can find the change.
    case storage(String)
    /// The cluster's metadata store (etcd) could not be reached in time (`REQUEST_TIMED_OUT`, retriable).
    /// The change may or may not have been committed.
    case unavailable(String)

    /// The code the broker answers with.
    public var kafkaErrorCode: KafkaErrorCode {
        switch self {
        case .topicAlreadyExists: .topicAlreadyExists
        case .unknownTopic: .unknownTopicOrPartition
        case .unknownTopicId: .unknownTopicId
        case .invalidTopicName, .topicNameCollides: .invalidTopicException
        case .reservedTopicName: .invalidRequest
        case .invalidPartitions: .invalidPartitions
        case .invalidReplicationFactor: .invalidReplicationFactor
        case .invalidConfig: .invalidConfig
        case .readOnlyConfig: .invalidRequest
        case .storage: .unknownServerError
        case .unavailable: .requestTimedOut
        }
    }

    /// The error message for the response.
    public var description: String {
        switch self {
        case .topicAlreadyExists(let name):
            "Topic '\(name)' already exists."
        case .unknownTopic(let name):
            "Topic '\(name)' does not exist."
        case .unknownTopicId(let id):
            "Topic with id \(id) does not exist."
        case .invalidTopicName(_, let reason):
            "Topic name is invalid: \(reason)"
        case .topicNameCollides(let name, let existingTopic):
            "Topic '\(name)' collides with existing topic: \(existingTopic)"
        case .reservedTopicName(let name):
            "Creation of internal topic \(name) is prohibited."
        case .invalidPartitions(let reason), .invalidReplicationFactor(let reason), .invalidConfig(_, let reason):
            reason
        case .readOnlyConfig(let key):
            "Cannot update these configs dynamically: \(key)"
        case .storage(let reason):
            "Cluster metadata storage failed: \(reason)"
        case .unavailable(let reason):
            "Cluster metadata store unavailable: \(reason)"
        }
    }
}
