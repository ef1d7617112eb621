import KafkaProtocol

/// A response the state machine owes a parked or just-handled request.
enum GroupReply: Sendable {
    case join(JoinGroupResponse)
    case sync(SyncGroupResponse)
    case heartbeat(HeartbeatResponse)
    case leave(LeaveGroupResponse)
    case offsetCommit(OffsetCommitResponse)
    /// The group's partition went away before the answer was known (its leadership moved, or the
    /// broker stops): the request fails with `code` and the client finds its coordinator again.
    case unanswered(KafkaErrorCode)

    /// The error a handler answers when the reply is not the kind it waits for.
    var unansweredCode: KafkaErrorCode {
        if case .unanswered(let code) = self { return code }
        return .coordinatorNotAvailable
    }

    /// The same reply saying `code` instead: what a client gets when the records its answer
    /// depended on could not be stored.
    func failed(with code: KafkaErrorCode) -> GroupReply {
        switch self {
        case .join(var response):
            response.errorCode = code.rawValue
            response.members = []
            return .join(response)
        case .sync(var response):
            response.errorCode = code.rawValue
            response.assignment = .init()
            return .sync(response)
        case .heartbeat(var response):
            response.errorCode = code.rawValue
            return .heartbeat(response)
        case .leave(var response):
            response.errorCode = code.rawValue
            return .leave(response)
        case .offsetCommit(var response):
            for topic in response.topics.indices {
                for partition in response.topics[topic].partitions.indices where response.topics[topic].partitions[partition].errorCode == 0 {
                    response.topics[topic].partitions[partition].errorCode = code.rawValue
                }
            }
            return .offsetCommit(response)
        case .unanswered:
            return self
        }
    }
}

/// What the runtime must do after the state machine took an input: append `records` to the
/// group's `__consumer_offsets` partition and, once they are durable, send `replies` (at once when
/// there are no records).
struct GroupEffects: Sendable {
    var records: [CoordinatorRecord] = []
    /// Set for TxnOffsetCommit: the records go in a transactional batch of this producer.
    var transactionalProducer: (producerId: Int64, epoch: Int16)?
    var replies: [(token: ReplyToken, reply: GroupReply)] = []

    mutating func reply(_ token: ReplyToken, _ reply: GroupReply) {
        replies.append((token, reply))
    }

    mutating func merge(_ other: GroupEffects) {
        records += other.records
        replies += other.replies
    }
}
