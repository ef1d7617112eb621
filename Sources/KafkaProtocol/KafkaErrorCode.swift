// Kafka protocol error codes.
//
// The table below follows Apache Kafka's
// `clients/src/main/java/org/apache/kafka/common/protocol/Errors.java`, entry by
// entry and in code order, as of Kafka 4.4 (codes -1 through 136). The retriable
// flag is true exactly when Kafka maps the code to an exception class that extends
// `RetriableException` (directly, or through `RefreshRetriableException` /
// `InvalidMetadataException`). The messages are Strom's own one-line summaries.
//
// Kafka never reuses or renumbers a code: names may change, numbers may not. New
// codes are only ever appended, so a broker or client may send a code this table
// does not know yet. That is why `KafkaErrorCode` is a struct over the raw `Int16`
// rather than an enum: an unknown code survives decoding and re-encoding unchanged.

/// A Kafka protocol error code as carried in responses (`ErrorCode` int16 fields).
public struct KafkaErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible, Error {
    public let rawValue: Int16

    @inlinable
    public init(rawValue: Int16) {
        self.rawValue = rawValue
    }

    // MARK: - Codes (Kafka's UPPER_SNAKE names in lowerCamelCase)

    public static let unknownServerError = KafkaErrorCode(rawValue: -1)
    public static let none = KafkaErrorCode(rawValue: 0)
    public static let offsetOutOfRange = KafkaErrorCode(rawValue: 1)
    public static let corruptMessage = KafkaErrorCode(rawValue: 2)
    public static let unknownTopicOrPartition = KafkaErrorCode(rawValue: 3)
    public static let invalidFetchSize = KafkaErrorCode(rawValue: 4)
    public static let leaderNotAvailable = KafkaErrorCode(rawValue: 5)
    public static let notLeaderOrFollower = KafkaErrorCode(rawValue: 6)
    public static let requestTimedOut = KafkaErrorCode(rawValue: 7)
    public static let brokerNotAvailable = KafkaErrorCode(rawValue: 8)
    public static let replicaNotAvailable = KafkaErrorCode(rawValue: 9)
    public static let messageTooLarge = KafkaErrorCode(rawValue: 10)
    public static let staleControllerEpoch = KafkaErrorCode(rawValue: 11)
    public static let offsetMetadataTooLarge = KafkaErrorCode(rawValue: 12)
    public static let networkException = KafkaErrorCode(rawValue: 13)
    public static let coordinatorLoadInProgress = KafkaErrorCode(rawValue: 14)
    public static let coordinatorNotAvailable = KafkaErrorCode(rawValue: 15)
    public static let notCoordinator = KafkaErrorCode(rawValue: 16)
    public static let invalidTopicException = KafkaErrorCode(rawValue: 17)
    public static let recordListTooLarge = KafkaErrorCode(rawValue: 18)
    public static let notEnoughReplicas = KafkaErrorCode(rawValue: 19)
    public static let notEnoughReplicasAfterAppend = KafkaErrorCode(rawValue: 20)
    public static let invalidRequiredAcks = KafkaErrorCode(rawValue: 21)
    public static let illegalGeneration = KafkaErrorCode(rawValue: 22)
    public static let inconsistentGroupProtocol = KafkaErrorCode(rawValue: 23)
    public static let invalidGroupId = KafkaErrorCode(rawValue: 24)
    public static let unknownMemberId = KafkaErrorCode(rawValue: 25)
    public static let invalidSessionTimeout = KafkaErrorCode(rawValue: 26)
    public static let rebalanceInProgress = KafkaErrorCode(rawValue: 27)
    public static let invalidCommitOffsetSize = KafkaErrorCode(rawValue: 28)
    public static let topicAuthorizationFailed = KafkaErrorCode(rawValue: 29)
    public static let groupAuthorizationFailed = KafkaErrorCode(rawValue: 30)
    public static let clusterAuthorizationFailed = KafkaErrorCode(rawValue: 31)
    public static let invalidTimestamp = KafkaErrorCode(rawValue: 32)
    public static let unsupportedSaslMechanism = KafkaErrorCode(rawValue: 33)
    public static let illegalSaslState = KafkaErrorCode(rawValue: 34)
    public static let unsupportedVersion = KafkaErrorCode(rawValue: 35)
    public static let topicAlreadyExists = KafkaErrorCode(rawValue: 36)
    public static let invalidPartitions = KafkaErrorCode(rawValue: 37)
    public static let invalidReplicationFactor = KafkaErrorCode(rawValue: 38)
    public static let invalidReplicaAssignment = KafkaErrorCode(rawValue: 39)
    public static let invalidConfig = KafkaErrorCode(rawValue: 40)
    public static let notController = KafkaErrorCode(rawValue: 41)
    public static let invalidRequest = KafkaErrorCode(rawValue: 42)
    public static let unsupportedForMessageFormat = KafkaErrorCode(rawValue: 43)
    public static let policyViolation = KafkaErrorCode(rawValue: 44)
    public static let outOfOrderSequenceNumber = KafkaErrorCode(rawValue: 45)
    public static let duplicateSequenceNumber = KafkaErrorCode(rawValue: 46)
    public static let invalidProducerEpoch = KafkaErrorCode(rawValue: 47)
    public static let invalidTxnState = KafkaErrorCode(rawValue: 48)
    public static let invalidProducerIdMapping = KafkaErrorCode(rawValue: 49)
    public static let invalidTransactionTimeout = KafkaErrorCode(rawValue: 50)
    public static let concurrentTransactions = KafkaErrorCode(rawValue: 51)
    public static let transactionCoordinatorFenced = KafkaErrorCode(rawValue: 52)
    public static let transactionalIdAuthorizationFailed = KafkaErrorCode(rawValue: 53)
    public static let securityDisabled = KafkaErrorCode(rawValue: 54)
    public static let operationNotAttempted = KafkaErrorCode(rawValue: 55)
    public static let kafkaStorageError = KafkaErrorCode(rawValue: 56)
    public static let logDirNotFound = KafkaErrorCode(rawValue: 57)
    public static let saslAuthenticationFailed = KafkaErrorCode(rawValue: 58)
    public static let unknownProducerId = KafkaErrorCode(rawValue: 59)
    public static let reassignmentInProgress = KafkaErrorCode(rawValue: 60)
    public static let delegationTokenAuthDisabled = KafkaErrorCode(rawValue: 61)
    public static let delegationTokenNotFound = KafkaErrorCode(rawValue: 62)
    public static let delegationTokenOwnerMismatch = KafkaErrorCode(rawValue: 63)
    public static let delegationTokenRequestNotAllowed = KafkaErrorCode(rawValue: 64)
    public static let delegationTokenAuthorizationFailed = KafkaErrorCode(rawValue: 65)
    public static let delegationTokenExpired = KafkaErrorCode(rawValue: 66)
    public static let invalidPrincipalType = KafkaErrorCode(rawValue: 67)
    public static let nonEmptyGroup = KafkaErrorCode(rawValue: 68)
    public static let groupIdNotFound = KafkaErrorCode(rawValue: 69)
    public static let fetchSessionIdNotFound = KafkaErrorCode(rawValue: 70)
    public static let invalidFetchSessionEpoch = KafkaErrorCode(rawValue: 71)
    public static let listenerNotFound = KafkaErrorCode(rawValue: 72)
    public static let topicDeletionDisabled = KafkaErrorCode(rawValue: 73)
    public static let fencedLeaderEpoch = KafkaErrorCode(rawValue: 74)
    public static let unknownLeaderEpoch = KafkaErrorCode(rawValue: 75)
    public static let unsupportedCompressionType = KafkaErrorCode(rawValue: 76)
    public static let staleBrokerEpoch = KafkaErrorCode(rawValue: 77)
    public static let offsetNotAvailable = KafkaErrorCode(rawValue: 78)
    public static let memberIdRequired = KafkaErrorCode(rawValue: 79)
    public static let preferredLeaderNotAvailable = KafkaErrorCode(rawValue: 80)
    public static let groupMaxSizeReached = KafkaErrorCode(rawValue: 81)
    public static let fencedInstanceId = KafkaErrorCode(rawValue: 82)
    public static let eligibleLeadersNotAvailable = KafkaErrorCode(rawValue: 83)
    public static let electionNotNeeded = KafkaErrorCode(rawValue: 84)
    public static let noReassignmentInProgress = KafkaErrorCode(rawValue: 85)
    public static let groupSubscribedToTopic = KafkaErrorCode(rawValue: 86)
    public static let invalidRecord = KafkaErrorCode(rawValue: 87)
    public static let unstableOffsetCommit = KafkaErrorCode(rawValue: 88)
    public static let throttlingQuotaExceeded = KafkaErrorCode(rawValue: 89)
    public static let producerFenced = KafkaErrorCode(rawValue: 90)
    public static let resourceNotFound = KafkaErrorCode(rawValue: 91)
    public static let duplicateResource = KafkaErrorCode(rawValue: 92)
    public static let unacceptableCredential = KafkaErrorCode(rawValue: 93)
    public static let inconsistentVoterSet = KafkaErrorCode(rawValue: 94)
    public static let invalidUpdateVersion = KafkaErrorCode(rawValue: 95)
    public static let featureUpdateFailed = KafkaErrorCode(rawValue: 96)
    public static let principalDeserializationFailure = KafkaErrorCode(rawValue: 97)
    public static let snapshotNotFound = KafkaErrorCode(rawValue: 98)
    public static let positionOutOfRange = KafkaErrorCode(rawValue: 99)
    public static let unknownTopicId = KafkaErrorCode(rawValue: 100)
    public static let duplicateBrokerRegistration = KafkaErrorCode(rawValue: 101)
    public static let brokerIdNotRegistered = KafkaErrorCode(rawValue: 102)
    public static let inconsistentTopicId = KafkaErrorCode(rawValue: 103)
    public static let inconsistentClusterId = KafkaErrorCode(rawValue: 104)
    public static let transactionalIdNotFound = KafkaErrorCode(rawValue: 105)
    public static let fetchSessionTopicIdError = KafkaErrorCode(rawValue: 106)
    public static let ineligibleReplica = KafkaErrorCode(rawValue: 107)
    public static let newLeaderElected = KafkaErrorCode(rawValue: 108)
    public static let offsetMovedToTieredStorage = KafkaErrorCode(rawValue: 109)
    public static let fencedMemberEpoch = KafkaErrorCode(rawValue: 110)
    public static let unreleasedInstanceId = KafkaErrorCode(rawValue: 111)
    public static let unsupportedAssignor = KafkaErrorCode(rawValue: 112)
    public static let staleMemberEpoch = KafkaErrorCode(rawValue: 113)
    public static let mismatchedEndpointType = KafkaErrorCode(rawValue: 114)
    public static let unsupportedEndpointType = KafkaErrorCode(rawValue: 115)
    public static let unknownControllerId = KafkaErrorCode(rawValue: 116)
    public static let unknownSubscriptionId = KafkaErrorCode(rawValue: 117)
    public static let telemetryTooLarge = KafkaErrorCode(rawValue: 118)
    public static let invalidRegistration = KafkaErrorCode(rawValue: 119)
    public static let transactionAbortable = KafkaErrorCode(rawValue: 120)
    public static let invalidRecordState = KafkaErrorCode(rawValue: 121)
    public static let shareSessionNotFound = KafkaErrorCode(rawValue: 122)
    public static let invalidShareSessionEpoch = KafkaErrorCode(rawValue: 123)
    public static let fencedStateEpoch = KafkaErrorCode(rawValue: 124)
    public static let invalidVoterKey = KafkaErrorCode(rawValue: 125)
    public static let duplicateVoter = KafkaErrorCode(rawValue: 126)
    public static let voterNotFound = KafkaErrorCode(rawValue: 127)
    public static let invalidRegularExpression = KafkaErrorCode(rawValue: 128)
    public static let rebootstrapRequired = KafkaErrorCode(rawValue: 129)
    public static let streamsInvalidTopology = KafkaErrorCode(rawValue: 130)
    public static let streamsInvalidTopologyEpoch = KafkaErrorCode(rawValue: 131)
    public static let streamsTopologyFenced = KafkaErrorCode(rawValue: 132)
    public static let shareSessionLimitReached = KafkaErrorCode(rawValue: 133)
    public static let groupDeletionFailed = KafkaErrorCode(rawValue: 134)
    public static let streamsTopologyDescriptionUpdateFailed = KafkaErrorCode(rawValue: 135)
    public static let controllerIdNotRegistered = KafkaErrorCode(rawValue: 136)

    // MARK: - Properties

    /// Kafka's name, e.g. "UNKNOWN_TOPIC_OR_PARTITION"; "UNKNOWN_CODE_<n>" for codes not in the table.
    public var name: String {
        entry?.name ?? "UNKNOWN_CODE_\(rawValue)"
    }

    /// Whether a client may retry the request unchanged (Kafka's RetriableException subclasses).
    ///
    /// False for `none` and for codes not in the table (Kafka's clients treat an
    /// unrecognised code as `UNKNOWN_SERVER_ERROR`, which is not retriable).
    public var isRetriable: Bool {
        entry?.retriable ?? false
    }

    /// A one-line explanation for logs and CLI output.
    public var message: String {
        entry?.message ?? "Error code \(rawValue) is not in this build's table (perhaps sent by a newer peer)."
    }

    /// "NAME (code)", e.g. "NOT_COORDINATOR (16)".
    public var description: String {
        "\(name) (\(rawValue))"
    }

    /// Every code in the table, in code order.
    public static let all: [KafkaErrorCode] = table.map(\.code)

    // MARK: - The table (single source of truth for name, retriable flag and message)

    private struct Entry: Sendable {
        let code: KafkaErrorCode
        let name: String
        let retriable: Bool
        let message: String

        init(_ code: KafkaErrorCode, _ name: String, retriable: Bool, _ message: String) {
            self.code = code
            self.name = name
            self.retriable = retriable
            self.message = message
        }
    }

    /// The table is contiguous from -1, so `rawValue + 1` is the index; the code
    /// check guards against a mis-ordered table (the tests also enforce the order).
    private var entry: Entry? {
        let index = Int(rawValue) + 1
        guard index >= 0, index < Self.table.count else { return nil }
        let found = Self.table[index]
        return found.code == self ? found : nil
    }

    private static let table: [Entry] = [
        Entry(.unknownServerError, "UNKNOWN_SERVER_ERROR", retriable: false,
              "The broker hit an unexpected error while handling the request."),
        Entry(.none, "NONE", retriable: false,
              "No error."),
        Entry(.offsetOutOfRange, "OFFSET_OUT_OF_RANGE", retriable: false,
              "The requested offset lies outside the offsets the partition currently holds."),
        Entry(.corruptMessage, "CORRUPT_MESSAGE", retriable: true,
              "Record data is corrupt: bad CRC, bad size, a null key on a compacted topic, or similar."),
        Entry(.unknownTopicOrPartition, "UNKNOWN_TOPIC_OR_PARTITION", retriable: true,
              "No such topic or partition on this broker."),
        Entry(.invalidFetchSize, "INVALID_FETCH_SIZE", retriable: false,
              "The fetch size in the request is not acceptable."),
        Entry(.leaderNotAvailable, "LEADER_NOT_AVAILABLE", retriable: true,
              "The partition has no leader right now, typically while an election runs."),
        Entry(.notLeaderOrFollower, "NOT_LEADER_OR_FOLLOWER", retriable: true,
              "This broker is not the partition's leader, or not a replica of it at all."),
        Entry(.requestTimedOut, "REQUEST_TIMED_OUT", retriable: true,
              "The broker did not finish the request within its timeout."),
        Entry(.brokerNotAvailable, "BROKER_NOT_AVAILABLE", retriable: false,
              "The addressed broker is not up or cannot be reached."),
        Entry(.replicaNotAvailable, "REPLICA_NOT_AVAILABLE", retriable: true,
              "A replica of the partition is unavailable on the addressed broker."),
        Entry(.messageTooLarge, "MESSAGE_TOO_LARGE", retriable: false,
              "A record is bigger than the largest message the broker accepts."),
        Entry(.staleControllerEpoch, "STALE_CONTROLLER_EPOCH", retriable: false,
              "The request carried an old controller epoch; control has moved elsewhere."),
        Entry(.offsetMetadataTooLarge, "OFFSET_METADATA_TOO_LARGE", retriable: false,
              "The metadata string attached to a committed offset is too long."),
        Entry(.networkException, "NETWORK_EXCEPTION", retriable: true,
              "The connection was closed before a response came back."),
        Entry(.coordinatorLoadInProgress, "COORDINATOR_LOAD_IN_PROGRESS", retriable: true,
              "The coordinator is still loading its state; try again shortly."),
        Entry(.coordinatorNotAvailable, "COORDINATOR_NOT_AVAILABLE", retriable: true,
              "No coordinator is currently available for this group or transaction."),
        Entry(.notCoordinator, "NOT_COORDINATOR", retriable: true,
              "This broker is not the coordinator for the given group or transactional id."),
        Entry(.invalidTopicException, "INVALID_TOPIC_EXCEPTION", retriable: false,
              "The topic name is illegal, or the topic may not be used for this operation."),
        Entry(.recordListTooLarge, "RECORD_LIST_TOO_LARGE", retriable: false,
              "A record batch is bigger than the broker's log segment size."),
        Entry(.notEnoughReplicas, "NOT_ENOUGH_REPLICAS", retriable: true,
              "Write refused: the partition has fewer in-sync replicas than the minimum."),
        Entry(.notEnoughReplicasAfterAppend, "NOT_ENOUGH_REPLICAS_AFTER_APPEND", retriable: true,
              "The write reached the log, but fewer in-sync replicas than required confirmed it."),
        Entry(.invalidRequiredAcks, "INVALID_REQUIRED_ACKS", retriable: false,
              "The acks value in the produce request is not allowed."),
        Entry(.illegalGeneration, "ILLEGAL_GENERATION", retriable: false,
              "The group generation id in the request is not the current one."),
        Entry(.inconsistentGroupProtocol, "INCONSISTENT_GROUP_PROTOCOL", retriable: false,
              "The member's protocol type or protocol list does not fit the group."),
        Entry(.invalidGroupId, "INVALID_GROUP_ID", retriable: false,
              "The group id is empty or otherwise not acceptable."),
        Entry(.unknownMemberId, "UNKNOWN_MEMBER_ID", retriable: false,
              "The coordinator has no member with this id."),
        Entry(.invalidSessionTimeout, "INVALID_SESSION_TIMEOUT", retriable: false,
              "The session timeout lies outside the range the broker permits."),
        Entry(.rebalanceInProgress, "REBALANCE_IN_PROGRESS", retriable: false,
              "The group is rebalancing; the member has to rejoin."),
        Entry(.invalidCommitOffsetSize, "INVALID_COMMIT_OFFSET_SIZE", retriable: false,
              "The size of the offset commit data is not acceptable."),
        Entry(.topicAuthorizationFailed, "TOPIC_AUTHORIZATION_FAILED", retriable: false,
              "Not authorized to access the topic."),
        Entry(.groupAuthorizationFailed, "GROUP_AUTHORIZATION_FAILED", retriable: false,
              "Not authorized to access the group."),
        Entry(.clusterAuthorizationFailed, "CLUSTER_AUTHORIZATION_FAILED", retriable: false,
              "Not authorized for this cluster-level operation."),
        Entry(.invalidTimestamp, "INVALID_TIMESTAMP", retriable: false,
              "A record timestamp falls outside the accepted window."),
        Entry(.unsupportedSaslMechanism, "UNSUPPORTED_SASL_MECHANISM", retriable: false,
              "The broker does not offer the SASL mechanism the client asked for."),
        Entry(.illegalSaslState, "ILLEGAL_SASL_STATE", retriable: false,
              "This request is not allowed at the current step of the SASL exchange."),
        Entry(.unsupportedVersion, "UNSUPPORTED_VERSION", retriable: false,
              "The broker does not support this API version."),
        Entry(.topicAlreadyExists, "TOPIC_ALREADY_EXISTS", retriable: false,
              "A topic with that name exists already."),
        Entry(.invalidPartitions, "INVALID_PARTITIONS", retriable: false,
              "The partition count is not acceptable (for example below 1)."),
        Entry(.invalidReplicationFactor, "INVALID_REPLICATION_FACTOR", retriable: false,
              "The replication factor is below 1 or above the number of live brokers."),
        Entry(.invalidReplicaAssignment, "INVALID_REPLICA_ASSIGNMENT", retriable: false,
              "The proposed replica assignment is not acceptable."),
        Entry(.invalidConfig, "INVALID_CONFIG", retriable: false,
              "One or more configuration values are not acceptable."),
        Entry(.notController, "NOT_CONTROLLER", retriable: true,
              "This node is not the active controller."),
        Entry(.invalidRequest, "INVALID_REQUEST", retriable: false,
              "The request is malformed or does not make sense to this broker; see its log."),
        Entry(.unsupportedForMessageFormat, "UNSUPPORTED_FOR_MESSAGE_FORMAT", retriable: false,
              "The broker's message format version cannot serve this request."),
        Entry(.policyViolation, "POLICY_VIOLATION", retriable: false,
              "The request breaks a policy configured on the broker."),
        Entry(.outOfOrderSequenceNumber, "OUT_OF_ORDER_SEQUENCE_NUMBER", retriable: false,
              "A producer batch arrived with a sequence number out of order."),
        Entry(.duplicateSequenceNumber, "DUPLICATE_SEQUENCE_NUMBER", retriable: false,
              "A producer batch repeated a sequence number already written."),
        Entry(.invalidProducerEpoch, "INVALID_PRODUCER_EPOCH", retriable: false,
              "The producer epoch is older than the one the broker knows."),
        Entry(.invalidTxnState, "INVALID_TXN_STATE", retriable: false,
              "The transactional operation does not fit the transaction's current state."),
        Entry(.invalidProducerIdMapping, "INVALID_PRODUCER_ID_MAPPING", retriable: false,
              "The producer id is not the one currently assigned to this transactional id."),
        Entry(.invalidTransactionTimeout, "INVALID_TRANSACTION_TIMEOUT", retriable: false,
              "The transaction timeout exceeds the broker's transaction.max.timeout.ms."),
        Entry(.concurrentTransactions, "CONCURRENT_TRANSACTIONS", retriable: true,
              "Another operation on the same transaction has not finished yet."),
        Entry(.transactionCoordinatorFenced, "TRANSACTION_COORDINATOR_FENCED", retriable: false,
              "The transaction coordinator that sent this is no longer the current one for the producer."),
        Entry(.transactionalIdAuthorizationFailed, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED", retriable: false,
              "Not authorized to use this transactional id."),
        Entry(.securityDisabled, "SECURITY_DISABLED", retriable: false,
              "Security features are turned off on this broker."),
        Entry(.operationNotAttempted, "OPERATION_NOT_ATTEMPTED", retriable: false,
              "The broker skipped this item because another item in the same batch failed."),
        Entry(.kafkaStorageError, "KAFKA_STORAGE_ERROR", retriable: true,
              "A disk error occurred while the broker accessed the log."),
        Entry(.logDirNotFound, "LOG_DIR_NOT_FOUND", retriable: false,
              "The named log directory is not part of the broker's configuration."),
        Entry(.saslAuthenticationFailed, "SASL_AUTHENTICATION_FAILED", retriable: false,
              "Authentication over SASL did not succeed."),
        Entry(.unknownProducerId, "UNKNOWN_PRODUCER_ID", retriable: false,
              "The broker keeps no state for this producer id, e.g. after its records expired."),
        Entry(.reassignmentInProgress, "REASSIGNMENT_IN_PROGRESS", retriable: false,
              "A partition reassignment is already under way."),
        Entry(.delegationTokenAuthDisabled, "DELEGATION_TOKEN_AUTH_DISABLED", retriable: false,
              "Delegation tokens are not enabled on this cluster."),
        Entry(.delegationTokenNotFound, "DELEGATION_TOKEN_NOT_FOUND", retriable: false,
              "The broker has no such delegation token."),
        Entry(.delegationTokenOwnerMismatch, "DELEGATION_TOKEN_OWNER_MISMATCH", retriable: false,
              "The principal is neither the token's owner nor one of its renewers."),
        Entry(.delegationTokenRequestNotAllowed, "DELEGATION_TOKEN_REQUEST_NOT_ALLOWED", retriable: false,
              "Token requests are refused on plaintext, one-way TLS, or token-authenticated connections."),
        Entry(.delegationTokenAuthorizationFailed, "DELEGATION_TOKEN_AUTHORIZATION_FAILED", retriable: false,
              "Not authorized for this delegation token operation."),
        Entry(.delegationTokenExpired, "DELEGATION_TOKEN_EXPIRED", retriable: false,
              "The delegation token is past its expiry time."),
        Entry(.invalidPrincipalType, "INVALID_PRINCIPAL_TYPE", retriable: false,
              "The principal type given is not supported."),
        Entry(.nonEmptyGroup, "NON_EMPTY_GROUP", retriable: false,
              "The group still has active members."),
        Entry(.groupIdNotFound, "GROUP_ID_NOT_FOUND", retriable: false,
              "No group with this id exists."),
        Entry(.fetchSessionIdNotFound, "FETCH_SESSION_ID_NOT_FOUND", retriable: true,
              "The broker has no fetch session with this id."),
        Entry(.invalidFetchSessionEpoch, "INVALID_FETCH_SESSION_EPOCH", retriable: true,
              "The fetch session epoch does not match the broker's."),
        Entry(.listenerNotFound, "LISTENER_NOT_FOUND", retriable: true,
              "The leader has no listener matching the one this metadata request arrived on."),
        Entry(.topicDeletionDisabled, "TOPIC_DELETION_DISABLED", retriable: false,
              "Deleting topics is turned off on this cluster."),
        Entry(.fencedLeaderEpoch, "FENCED_LEADER_EPOCH", retriable: true,
              "The request's leader epoch is older than the broker's."),
        Entry(.unknownLeaderEpoch, "UNKNOWN_LEADER_EPOCH", retriable: true,
              "The request's leader epoch is newer than the broker's."),
        Entry(.unsupportedCompressionType, "UNSUPPORTED_COMPRESSION_TYPE", retriable: false,
              "The client cannot handle the compression codec used by the partition."),
        Entry(.staleBrokerEpoch, "STALE_BROKER_EPOCH", retriable: false,
              "The broker epoch in the request is outdated."),
        Entry(.offsetNotAvailable, "OFFSET_NOT_AVAILABLE", retriable: true,
              "A new leader's high watermark has not caught up, so offsets cannot be served safely yet."),
        Entry(.memberIdRequired, "MEMBER_ID_REQUIRED", retriable: false,
              "The member must rejoin using the member id the coordinator handed out."),
        Entry(.preferredLeaderNotAvailable, "PREFERRED_LEADER_NOT_AVAILABLE", retriable: true,
              "The preferred replica cannot take leadership right now."),
        Entry(.groupMaxSizeReached, "GROUP_MAX_SIZE_REACHED", retriable: false,
              "The group already has as many members as it may."),
        Entry(.fencedInstanceId, "FENCED_INSTANCE_ID", retriable: false,
              "Another member with the same group.instance.id has taken this static member's place."),
        Entry(.eligibleLeadersNotAvailable, "ELIGIBLE_LEADERS_NOT_AVAILABLE", retriable: true,
              "No replica eligible for leadership is available for the partition."),
        Entry(.electionNotNeeded, "ELECTION_NOT_NEEDED", retriable: true,
              "The partition already has the desired leader; no election was run."),
        Entry(.noReassignmentInProgress, "NO_REASSIGNMENT_IN_PROGRESS", retriable: false,
              "There is no partition reassignment under way."),
        Entry(.groupSubscribedToTopic, "GROUP_SUBSCRIBED_TO_TOPIC", retriable: false,
              "Offsets cannot be deleted for a topic the group is still subscribed to."),
        Entry(.invalidRecord, "INVALID_RECORD", retriable: false,
              "The broker's validation rejected a record."),
        Entry(.unstableOffsetCommit, "UNSTABLE_OFFSET_COMMIT", retriable: true,
              "Pending transactional offset commits have to settle first."),
        Entry(.throttlingQuotaExceeded, "THROTTLING_QUOTA_EXCEEDED", retriable: true,
              "The request went over a throttling quota."),
        Entry(.producerFenced, "PRODUCER_FENCED", retriable: false,
              "A newer producer with the same transactional id has fenced this one off."),
        Entry(.resourceNotFound, "RESOURCE_NOT_FOUND", retriable: false,
              "The request refers to a resource that does not exist."),
        Entry(.duplicateResource, "DUPLICATE_RESOURCE", retriable: false,
              "The request refers to the same resource more than once."),
        Entry(.unacceptableCredential, "UNACCEPTABLE_CREDENTIAL", retriable: false,
              "The credential would not satisfy the acceptance rules."),
        Entry(.inconsistentVoterSet, "INCONSISTENT_VOTER_SET", retriable: false,
              "The sender or receiver of a voter-only request is not an expected voter."),
        Entry(.invalidUpdateVersion, "INVALID_UPDATE_VERSION", retriable: false,
              "The update version given is not acceptable."),
        Entry(.featureUpdateFailed, "FEATURE_UPDATE_FAILED", retriable: false,
              "An unexpected server error stopped the finalized-feature update."),
        Entry(.principalDeserializationFailure, "PRINCIPAL_DESERIALIZATION_FAILURE", retriable: false,
              "The principal of a forwarded request could not be decoded; check cluster security setup."),
        Entry(.snapshotNotFound, "SNAPSHOT_NOT_FOUND", retriable: false,
              "No snapshot with the requested id exists."),
        Entry(.positionOutOfRange, "POSITION_OUT_OF_RANGE", retriable: false,
              "The requested position is negative or beyond the end of the snapshot."),
        Entry(.unknownTopicId, "UNKNOWN_TOPIC_ID", retriable: true,
              "No topic with this id on this broker."),
        Entry(.duplicateBrokerRegistration, "DUPLICATE_BROKER_REGISTRATION", retriable: false,
              "Another broker has already registered with this broker id."),
        Entry(.brokerIdNotRegistered, "BROKER_ID_NOT_REGISTERED", retriable: false,
              "No broker is registered with this id."),
        Entry(.inconsistentTopicId, "INCONSISTENT_TOPIC_ID", retriable: true,
              "The topic id in the request differs from the one stored with the log."),
        Entry(.inconsistentClusterId, "INCONSISTENT_CLUSTER_ID", retriable: false,
              "The request's cluster id differs from this cluster's."),
        Entry(.transactionalIdNotFound, "TRANSACTIONAL_ID_NOT_FOUND", retriable: false,
              "No transaction state exists for this transactional id."),
        Entry(.fetchSessionTopicIdError, "FETCH_SESSION_TOPIC_ID_ERROR", retriable: true,
              "The fetch session mixed or changed topic ids inconsistently."),
        Entry(.ineligibleReplica, "INELIGIBLE_REPLICA", retriable: false,
              "The proposed ISR includes a replica that is not eligible to be in it."),
        Entry(.newLeaderElected, "NEW_LEADER_ELECTED", retriable: false,
              "The partition state change was applied, but the leader is now different."),
        Entry(.offsetMovedToTieredStorage, "OFFSET_MOVED_TO_TIERED_STORAGE", retriable: false,
              "The offset is now only available from tiered (remote) storage."),
        Entry(.fencedMemberEpoch, "FENCED_MEMBER_EPOCH", retriable: false,
              "The member epoch is fenced; the member must give up its partitions and rejoin."),
        Entry(.unreleasedInstanceId, "UNRELEASED_INSTANCE_ID", retriable: false,
              "Another member still holds this instance id and has to leave first."),
        Entry(.unsupportedAssignor, "UNSUPPORTED_ASSIGNOR", retriable: false,
              "The group does not support the requested assignor or its version range."),
        Entry(.staleMemberEpoch, "STALE_MEMBER_EPOCH", retriable: false,
              "The member epoch is stale; retry once a heartbeat has returned the current one."),
        Entry(.mismatchedEndpointType, "MISMATCHED_ENDPOINT_TYPE", retriable: false,
              "The request reached an endpoint of the wrong kind (broker vs controller)."),
        Entry(.unsupportedEndpointType, "UNSUPPORTED_ENDPOINT_TYPE", retriable: false,
              "The broker does not support this endpoint type."),
        Entry(.unknownControllerId, "UNKNOWN_CONTROLLER_ID", retriable: false,
              "No controller with this id is known."),
        Entry(.unknownSubscriptionId, "UNKNOWN_SUBSCRIPTION_ID", retriable: false,
              "The telemetry push used a subscription id that is unknown or out of date."),
        Entry(.telemetryTooLarge, "TELEMETRY_TOO_LARGE", retriable: false,
              "The telemetry push is bigger than the broker accepts."),
        Entry(.invalidRegistration, "INVALID_REGISTRATION", retriable: false,
              "The controller rejected the broker's registration as invalid."),
        Entry(.transactionAbortable, "TRANSACTION_ABORTABLE", retriable: false,
              "The transaction failed; abort it to go on using the transactional id."),
        Entry(.invalidRecordState, "INVALID_RECORD_STATE", retriable: false,
              "The record's delivery state does not allow this acknowledgement."),
        Entry(.shareSessionNotFound, "SHARE_SESSION_NOT_FOUND", retriable: true,
              "The broker has no such share session."),
        Entry(.invalidShareSessionEpoch, "INVALID_SHARE_SESSION_EPOCH", retriable: true,
              "The share session epoch does not match the broker's."),
        Entry(.fencedStateEpoch, "FENCED_STATE_EPOCH", retriable: false,
              "The share-group state epoch does not match the share coordinator's."),
        Entry(.invalidVoterKey, "INVALID_VOTER_KEY", retriable: false,
              "The voter key does not belong to the receiving replica."),
        Entry(.duplicateVoter, "DUPLICATE_VOTER", retriable: false,
              "This voter is already a member of the voter set."),
        Entry(.voterNotFound, "VOTER_NOT_FOUND", retriable: false,
              "This voter is not a member of the voter set."),
        Entry(.invalidRegularExpression, "INVALID_REGULAR_EXPRESSION", retriable: false,
              "A regular expression in the request could not be parsed."),
        Entry(.rebootstrapRequired, "REBOOTSTRAP_REQUIRED", retriable: false,
              "The client's metadata is stale; it must rebootstrap from its bootstrap servers."),
        Entry(.streamsInvalidTopology, "STREAMS_INVALID_TOPOLOGY", retriable: false,
              "The Streams topology sent by the member is not valid."),
        Entry(.streamsInvalidTopologyEpoch, "STREAMS_INVALID_TOPOLOGY_EPOCH", retriable: false,
              "The Streams topology epoch sent by the member is not valid."),
        Entry(.streamsTopologyFenced, "STREAMS_TOPOLOGY_FENCED", retriable: false,
              "The member's Streams topology epoch is older than the group's."),
        Entry(.shareSessionLimitReached, "SHARE_SESSION_LIMIT_REACHED", retriable: true,
              "The broker already holds its maximum number of share sessions."),
        Entry(.groupDeletionFailed, "GROUP_DELETION_FAILED", retriable: false,
              "The group could not be deleted; the per-group error message says why."),
        Entry(.streamsTopologyDescriptionUpdateFailed, "STREAMS_TOPOLOGY_DESCRIPTION_UPDATE_FAILED", retriable: false,
              "The broker could not store the Streams topology description update."),
        Entry(.controllerIdNotRegistered, "CONTROLLER_ID_NOT_REGISTERED", retriable: false,
              "No controller is registered with this id."),
    ]
}
