import KafkaProtocol
import NIOCore

/// Which share-partition a state belongs to: the share coordinator's key, and (as
/// `group:topicId:partition`) what places it on a `__share_group_state` partition.
struct ShareStateKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    var groupId: String
    var topicId: KafkaUUID
    var partition: Int32

    /// FindCoordinator's key type 2 names a share coordinator by this text.
    var coordinatorKey: String { "\(groupId):\(topicId):\(partition)" }
    var description: String { coordinatorKey }

    static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.groupId, lhs.topicId.description, lhs.partition) < (rhs.groupId, rhs.topicId.description, rhs.partition)
    }
}

/// One record of `__share_group_state` in Kafka's shape: a snapshot (type 0, the whole state) or
/// an update (type 1, batches to lay over the state and the new start offset, -1 unchanged); a
/// null value deletes the share-partition's state.
enum ShareStateRecord: Sendable, Equatable, CoordinatorLogRecord {
    case snapshot(ShareStateKey, ShareSnapshotValue?)
    case update(ShareStateKey, ShareUpdateValue?)
    /// A record type Strom does not read: skipped when loading.
    case other(keyVersion: Int16)

    var key: ShareStateKey? {
        switch self {
        case .snapshot(let key, _), .update(let key, _): key
        case .other: nil
        }
    }

    /// Kafka's key versions are the record types (0, 1); values are version 0. The codec is the
    /// group coordinator's (``CoordinatorRecord/encode(_:_:)``).
    func encoded() throws(KafkaEncodingError) -> (key: ByteBuffer, value: ByteBuffer?) {
        switch self {
        case .snapshot(let key, let value):
            return try CoordinatorRecord.encode(ShareSnapshotKey(groupId: key.groupId, topicId: key.topicId, partition: key.partition), value)
        case .update(let key, let value):
            return try CoordinatorRecord.encode(ShareUpdateKey(groupId: key.groupId, topicId: key.topicId, partition: key.partition), value)
        case .other(let keyVersion):
            throw KafkaEncodingError.fieldNotSupported(type: "ShareStateRecord", field: "key", version: keyVersion)
        }
    }

    static func decode(key: ByteBuffer, value: ByteBuffer?) throws -> ShareStateRecord {
        var key = key
        let keyVersion = try key.readKafkaInt16()
        switch keyVersion {
        case ShareSnapshotKey.validVersions.lowerBound:
            let decoded = try ShareSnapshotKey(from: &key, version: keyVersion)
            return .snapshot(.init(groupId: decoded.groupId, topicId: decoded.topicId, partition: decoded.partition),
                             try value.map { try CoordinatorRecord.decodeValue(ShareSnapshotValue.self, $0) })
        case ShareUpdateKey.validVersions.lowerBound:
            let decoded = try ShareUpdateKey(from: &key, version: keyVersion)
            return .update(.init(groupId: decoded.groupId, topicId: decoded.topicId, partition: decoded.partition),
                           try value.map { try CoordinatorRecord.decodeValue(ShareUpdateValue.self, $0) })
        default:
            return .other(keyVersion: keyVersion)
        }
    }
}
