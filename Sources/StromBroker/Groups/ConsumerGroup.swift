import KafkaProtocol

/// Partitions by topic id: what a KIP-848 member owns, is assigned or must give back.
typealias TopicAssignment = [KafkaUUID: Set<Int32>]

extension Dictionary where Key == KafkaUUID, Value == Set<Int32> {
    var partitionCount: Int { values.reduce(0) { $0 + $1.count } }

    func subtracting(_ other: TopicAssignment) -> TopicAssignment {
        var result: TopicAssignment = [:]
        for (topic, partitions) in self {
            let left = partitions.subtracting(other[topic] ?? [])
            if !left.isEmpty { result[topic] = left }
        }
        return result
    }

    func intersection(_ other: TopicAssignment) -> TopicAssignment {
        var result: TopicAssignment = [:]
        for (topic, partitions) in self {
            let both = partitions.intersection(other[topic] ?? [])
            if !both.isEmpty { result[topic] = both }
        }
        return result
    }

    func union(_ other: TopicAssignment) -> TopicAssignment {
        merging(other) { $0.union($1) }
    }

    func contains(topic: KafkaUUID, partition: Int32) -> Bool { self[topic]?.contains(partition) ?? false }
}

/// What the assignors and heartbeats need to know of the topics: ids, names and partition counts.
struct TopicCatalog: Sendable {
    struct Topic: Sendable, Hashable {
        var id: KafkaUUID
        var name: String
        var partitionCount: Int32
    }

    var byName: [String: Topic] = [:]

    init(_ topics: [Topic]) {
        byName = Dictionary(topics.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    func name(of id: KafkaUUID) -> String? { byName.values.first { $0.id == id }?.name }
}

/// One member of a KIP-848 consumer group: its subscription, and where it is in reconciling its
/// assignment with the group's target assignment.
struct ConsumerGroupMember: Sendable {
    enum State: String, Sendable {
        /// Owns exactly its target assignment at the target epoch.
        case stable
        /// Must give partitions back first; its epoch moves on once the heartbeat shows it did.
        case unrevokedPartitions
        /// At the target epoch, waiting for partitions other members still have to release.
        case unreleasedPartitions
    }

    let memberId: String
    var instanceId: String?
    var rackId: String?
    var clientId: String
    var clientHost: String
    var subscribedTopicNames: [String]
    var subscribedTopicRegex: String?
    var serverAssignor: String?
    var rebalanceTimeoutMs: Int32
    var memberEpoch: Int32 = 0
    var previousMemberEpoch: Int32 = -1
    var state: State = .stable
    var assigned: TopicAssignment = [:]
    var pendingRevocation: TopicAssignment = [:]
    var sessionDeadlineMs: Int64
    /// When a member that must revoke partitions and does not is fenced.
    var revocationDeadlineMs: Int64?

    /// The topics this member subscribes to, by name (the regex matched against `catalog`).
    func subscribedTopics(in catalog: TopicCatalog) -> Set<String> {
        var topics = Set(subscribedTopicNames)
        if let pattern = subscribedTopicRegex, let regex = try? Regex(pattern) {
            for name in catalog.byName.keys where !name.hasPrefix("__") {
                if (try? regex.wholeMatch(in: name)) != nil { topics.insert(name) }
            }
        }
        return topics
    }
}

/// A KIP-848 consumer group: the group epoch moves whenever membership, subscriptions or the
/// subscribed topics change; the server-side assignor then computes the target assignment, which
/// every member reaches by its heartbeats (revoking before anyone else is given a partition).
struct ConsumerGroup: Sendable {
    let groupId: String
    var groupEpoch: Int32 = 0
    var targetAssignmentEpoch: Int32 = 0
    var targetAssignment: [String: TopicAssignment] = [:]
    var members: [String: ConsumerGroupMember] = [:]
    /// The subscribed topics' ids and partition counts when the target was last computed.
    var subscribedTopicsSnapshot: [String: TopicCatalog.Topic] = [:]
    /// The assignor the members prefer (the group's default when none says).
    var assignorName = "uniform"

    init(groupId: String) {
        self.groupId = groupId
    }

    enum State: String {
        case empty = "Empty"
        case assigning = "Assigning"
        case reconciling = "Reconciling"
        case stable = "Stable"
    }

    var state: State {
        if members.isEmpty { return .empty }
        if groupEpoch != targetAssignmentEpoch { return .assigning }
        return members.values.allSatisfy { $0.memberEpoch == targetAssignmentEpoch && $0.state == .stable } ? .stable : .reconciling
    }

    /// Whether a partition is free to be given: no member owns it or still has to give it back.
    func isFree(topic: KafkaUUID, partition: Int32, except memberId: String) -> Bool {
        !members.values.contains {
            $0.memberId != memberId && ($0.assigned.contains(topic: topic, partition: partition) || $0.pendingRevocation.contains(topic: topic, partition: partition))
        }
    }
}
