import KafkaProtocol

/// A share-partition as a share session names it.
struct ShareTopicPartition: Hashable, Sendable, Comparable {
    var topicId: KafkaUUID
    var partition: Int32

    static func < (lhs: Self, rhs: Self) -> Bool { (lhs.topicId.description, lhs.partition) < (rhs.topicId.description, rhs.partition) }
}

/// This broker's share sessions (KIP-932), one per group member fetching here: the partitions it
/// fetches from and the epoch its next ShareFetch or ShareAcknowledge must carry. Epoch 0 opens
/// a session (replacing one the member had), -1 closes it, anything else must be the session's
/// next epoch. A session belongs to the connection that opened it and ends with it (Kafka 4.1).
/// Pure: the manager holds it and releases the records of sessions that end.
struct ShareSessions: Sendable {
    struct Key: Hashable, Sendable {
        var groupId: String
        var memberId: String
    }

    struct Session: Sendable, Equatable {
        var partitions: [ShareTopicPartition]
        /// The epoch the next request must carry.
        var nextEpoch: Int32
        var connectionId: UInt64
    }

    let sessionsMax: Int
    private(set) var sessions: [Key: Session] = [:]

    init(sessionsMax: Int) {
        self.sessionsMax = sessionsMax
    }

    static let openEpoch: Int32 = 0
    static let closeEpoch: Int32 = -1

    /// Epochs run 1, 2, ... Int32.max, then 1 again.
    static func epoch(after epoch: Int32) -> Int32 { epoch == Int32.max ? 1 : epoch + 1 }

    /// A new session with `partitions`; the member's previous session (returned) ends.
    mutating func open(_ key: Key, partitions: [ShareTopicPartition], connectionId: UInt64) -> Result<Session?, KafkaErrorCode> {
        let previous = sessions[key]
        guard previous != nil || sessions.count < sessionsMax else { return .failure(.shareSessionLimitReached) }
        var unique: [ShareTopicPartition] = []
        for partition in partitions where !unique.contains(partition) { unique.append(partition) }
        sessions[key] = Session(partitions: unique, nextEpoch: 1, connectionId: connectionId)
        return .success(previous)
    }

    /// The session a request at `epoch` continues, moved to its next epoch, with `added`
    /// partitions joined and `forgotten` ones dropped.
    mutating func advance(
        _ key: Key, epoch: Int32, added: [ShareTopicPartition] = [], forgotten: Set<ShareTopicPartition> = []
    ) -> Result<Session, KafkaErrorCode> {
        guard var session = sessions[key] else { return .failure(.shareSessionNotFound) }
        guard epoch == session.nextEpoch else { return .failure(.invalidShareSessionEpoch) }
        session.nextEpoch = Self.epoch(after: epoch)
        session.partitions.removeAll { forgotten.contains($0) }
        for partition in added where !session.partitions.contains(partition) { session.partitions.append(partition) }
        sessions[key] = session
        return .success(session)
    }

    /// Ends the member's session (a request at epoch -1); fails when it has none.
    mutating func close(_ key: Key) -> Result<Session, KafkaErrorCode> {
        guard let session = sessions.removeValue(forKey: key) else { return .failure(.shareSessionNotFound) }
        return .success(session)
    }

    /// Ends every session the connection opened (it closed): the sessions, for their records to be released.
    mutating func closeConnection(_ connectionId: UInt64) -> [(Key, Session)] {
        let ended = sessions.filter { $0.value.connectionId == connectionId }
        for key in ended.keys { sessions.removeValue(forKey: key) }
        return ended.map { ($0.key, $0.value) }
    }
}
