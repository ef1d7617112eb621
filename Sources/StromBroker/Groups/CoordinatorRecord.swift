import KafkaProtocol
import NIOCore

/// One record of `__consumer_offsets` in Kafka's own format: the key starts with an int16 that
/// says which record it is (0-1 a committed offset, 2 a classic group's metadata, 3-8 the KIP-848
/// records, 10-15 share groups'), the value with its schema version; a null value deletes the key (compaction keeps
/// only the latest record per key).
enum CoordinatorRecord: Sendable, Hashable {
    case offsetCommit(OffsetCommitKey, OffsetCommitValue?)
    case groupMetadata(GroupMetadataKey, GroupMetadataValue?)
    /// KIP-848 groups: the group epoch, each member's subscription, the target assignment (per
    /// member and its epoch), and where each member is in reconciling.
    case consumerGroupMetadata(ConsumerGroupMetadataKey, ConsumerGroupMetadataValue?)
    case consumerGroupMemberMetadata(ConsumerGroupMemberMetadataKey, ConsumerGroupMemberMetadataValue?)
    case consumerGroupTargetAssignmentMember(ConsumerGroupTargetAssignmentMemberKey, ConsumerGroupTargetAssignmentMemberValue?)
    case consumerGroupTargetAssignmentMetadata(ConsumerGroupTargetAssignmentMetadataKey, ConsumerGroupTargetAssignmentMetadataValue?)
    case consumerGroupCurrentMemberAssignment(ConsumerGroupCurrentMemberAssignmentKey, ConsumerGroupCurrentMemberAssignmentValue?)
    /// Share groups (KIP-932): the group epoch, each member's subscription, the target assignment
    /// and each member's current assignment.
    case shareGroupMemberMetadata(ShareGroupMemberMetadataKey, ShareGroupMemberMetadataValue?)
    case shareGroupMetadata(ShareGroupMetadataKey, ShareGroupMetadataValue?)
    case shareGroupTargetAssignmentMetadata(ShareGroupTargetAssignmentMetadataKey, ShareGroupTargetAssignmentMetadataValue?)
    case shareGroupTargetAssignmentMember(ShareGroupTargetAssignmentMemberKey, ShareGroupTargetAssignmentMemberValue?)
    case shareGroupCurrentMemberAssignment(ShareGroupCurrentMemberAssignmentKey, ShareGroupCurrentMemberAssignmentValue?)
    /// The share-partitions a share group has state for.
    case shareGroupStatePartitionMetadata(ShareGroupStatePartitionMetadataKey, ShareGroupStatePartitionMetadataValue?)
    /// A record type Strom does not read (yet): skipped when loading.
    case other(keyVersion: Int16)

    /// The versions Strom writes: Kafka 3.x's.
    static let offsetCommitKeyVersion: Int16 = 1
    static let offsetCommitValueVersion: Int16 = 3
    static let groupMetadataKeyVersion: Int16 = 2
    static let groupMetadataValueVersion: Int16 = 3

    struct DecodingFailed: Error, CustomStringConvertible {
        var description: String
    }

    static func offsetCommit(group: String, topic: String, partition: Int32, value: OffsetCommitValue?) -> CoordinatorRecord {
        .offsetCommit(OffsetCommitKey(group: group, topic: topic, partition: partition), value)
    }

    static func groupMetadata(group: String, value: GroupMetadataValue?) -> CoordinatorRecord {
        .groupMetadata(GroupMetadataKey(group: group), value)
    }

    func encoded() throws(KafkaEncodingError) -> (key: ByteBuffer, value: ByteBuffer?) {
        var key = ByteBuffer()
        var value: ByteBuffer?
        switch self {
        case .offsetCommit(let recordKey, let recordValue):
            key.writeKafkaInt16(Self.offsetCommitKeyVersion)
            try recordKey.write(into: &key, version: Self.offsetCommitKeyVersion)
            if let recordValue {
                // Only version 1 has an explicit expiry time (Kafka writes it then, too).
                let version = recordValue.expireTimestamp >= 0 ? 1 : Self.offsetCommitValueVersion
                var bytes = ByteBuffer()
                bytes.writeKafkaInt16(version)
                try recordValue.write(into: &bytes, version: version)
                value = bytes
            }
        case .groupMetadata(let recordKey, let recordValue):
            key.writeKafkaInt16(Self.groupMetadataKeyVersion)
            try recordKey.write(into: &key, version: Self.groupMetadataKeyVersion)
            if let recordValue {
                var bytes = ByteBuffer()
                bytes.writeKafkaInt16(Self.groupMetadataValueVersion)
                try recordValue.write(into: &bytes, version: Self.groupMetadataValueVersion)
                value = bytes
            }
        case .consumerGroupMetadata(let recordKey, let recordValue):
            return try Self.encode(recordKey, recordValue)
        case .consumerGroupMemberMetadata(let recordKey, let recordValue):
            return try Self.encode(recordKey, recordValue)
        case .consumerGroupTargetAssignmentMember(let recordKey, let recordValue):
            return try Self.encode(recordKey, recordValue)
        case .consumerGroupTargetAssignmentMetadata(let recordKey, let recordValue):
            return try Self.encode(recordKey, recordValue)
        case .consumerGroupCurrentMemberAssignment(let recordKey, let recordValue):
            return try Self.encode(recordKey, recordValue)
        case .shareGroupMemberMetadata(let recordKey, let recordValue):
            return try Self.encode(recordKey, recordValue)
        case .shareGroupMetadata(let recordKey, let recordValue):
            return try Self.encode(recordKey, recordValue)
        case .shareGroupTargetAssignmentMetadata(let recordKey, let recordValue):
            return try Self.encode(recordKey, recordValue)
        case .shareGroupTargetAssignmentMember(let recordKey, let recordValue):
            return try Self.encode(recordKey, recordValue)
        case .shareGroupCurrentMemberAssignment(let recordKey, let recordValue):
            return try Self.encode(recordKey, recordValue)
        case .shareGroupStatePartitionMetadata(let recordKey, let recordValue):
            return try Self.encode(recordKey, recordValue)
        case .other(let keyVersion):
            // Only read, never written by Strom.
            throw KafkaEncodingError.fieldNotSupported(type: "CoordinatorRecord", field: "key", version: keyVersion)
        }
        return (key, value)
    }

    /// The KIP-848 and share-group records have one key version (the record type) and value version 0.
    static func encode<Key: KafkaVersionedMessage, Value: KafkaVersionedMessage>(
        _ key: Key, _ value: Value?
    ) throws(KafkaEncodingError) -> (key: ByteBuffer, value: ByteBuffer?) {
        var keyBytes = ByteBuffer()
        keyBytes.writeKafkaInt16(Key.validVersions.lowerBound)
        try key.write(into: &keyBytes, version: Key.validVersions.lowerBound)
        guard let value else { return (keyBytes, nil) }
        var valueBytes = ByteBuffer()
        valueBytes.writeKafkaInt16(Value.validVersions.upperBound)
        try value.write(into: &valueBytes, version: Value.validVersions.upperBound)
        return (keyBytes, valueBytes)
    }

    /// Reads a record written by Strom or by Kafka (any version of the schemas).
    static func decode(key: ByteBuffer, value: ByteBuffer?) throws -> CoordinatorRecord {
        var key = key
        let keyVersion = try key.readKafkaInt16()
        switch keyVersion {
        case 0, 1:
            let recordKey = try OffsetCommitKey(from: &key, version: keyVersion)
            return .offsetCommit(recordKey, try value.map { try decodeValue(OffsetCommitValue.self, $0) })
        case 2:
            let recordKey = try GroupMetadataKey(from: &key, version: keyVersion)
            return .groupMetadata(recordKey, try value.map { try decodeValue(GroupMetadataValue.self, $0) })
        case 3:
            return .consumerGroupMetadata(try .init(from: &key, version: keyVersion), try value.map { try decodeValue(ConsumerGroupMetadataValue.self, $0) })
        case 5:
            return .consumerGroupMemberMetadata(
                try .init(from: &key, version: keyVersion), try value.map { try decodeValue(ConsumerGroupMemberMetadataValue.self, $0) })
        case 6:
            return .consumerGroupTargetAssignmentMetadata(
                try .init(from: &key, version: keyVersion), try value.map { try decodeValue(ConsumerGroupTargetAssignmentMetadataValue.self, $0) })
        case 7:
            return .consumerGroupTargetAssignmentMember(
                try .init(from: &key, version: keyVersion), try value.map { try decodeValue(ConsumerGroupTargetAssignmentMemberValue.self, $0) })
        case 8:
            return .consumerGroupCurrentMemberAssignment(
                try .init(from: &key, version: keyVersion), try value.map { try decodeValue(ConsumerGroupCurrentMemberAssignmentValue.self, $0) })
        case 10:
            return .shareGroupMemberMetadata(try .init(from: &key, version: keyVersion), try value.map { try decodeValue(ShareGroupMemberMetadataValue.self, $0) })
        case 11:
            return .shareGroupMetadata(try .init(from: &key, version: keyVersion), try value.map { try decodeValue(ShareGroupMetadataValue.self, $0) })
        case 12:
            return .shareGroupTargetAssignmentMetadata(
                try .init(from: &key, version: keyVersion), try value.map { try decodeValue(ShareGroupTargetAssignmentMetadataValue.self, $0) })
        case 13:
            return .shareGroupTargetAssignmentMember(
                try .init(from: &key, version: keyVersion), try value.map { try decodeValue(ShareGroupTargetAssignmentMemberValue.self, $0) })
        case 14:
            return .shareGroupCurrentMemberAssignment(
                try .init(from: &key, version: keyVersion), try value.map { try decodeValue(ShareGroupCurrentMemberAssignmentValue.self, $0) })
        case 15:
            return .shareGroupStatePartitionMetadata(
                try .init(from: &key, version: keyVersion), try value.map { try decodeValue(ShareGroupStatePartitionMetadataValue.self, $0) })
        default:
            return .other(keyVersion: keyVersion)
        }
    }

    static func decodeValue<Value: KafkaVersionedMessage>(_: Value.Type, _ bytes: ByteBuffer) throws -> Value {
        var bytes = bytes
        let version = try bytes.readKafkaInt16()
        guard Value.validVersions.contains(version) else {
            throw DecodingFailed(description: "\(Value.self) version \(version) is unknown")
        }
        return try Value(from: &bytes, version: version)
    }
}
