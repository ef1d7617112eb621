import KafkaProtocol

/// KIP-848's server-side assignors: given each member's subscribed topics (and what it owns now),
/// the target partitions of every member.
enum ServerAssignor: String, CaseIterable, Sendable {
    /// Spreads all subscribed partitions evenly over the members, keeping partitions where they
    /// are when that stays balanced (sticky).
    case uniform
    /// Per topic, contiguous ranges of partitions to the subscribed members in member-id order.
    case range

    struct MemberSpec {
        var memberId: String
        var topics: Set<String>
        var current: TopicAssignment
    }

    func assign(members: [MemberSpec], topics: [String: TopicCatalog.Topic]) -> [String: TopicAssignment] {
        switch self {
        case .uniform: return Self.uniform(members: members, topics: topics)
        case .range: return Self.range(members: members, topics: topics)
        }
    }

    private static func range(members: [MemberSpec], topics: [String: TopicCatalog.Topic]) -> [String: TopicAssignment] {
        var result = Dictionary(uniqueKeysWithValues: members.map { ($0.memberId, TopicAssignment()) })
        for (name, topic) in topics.sorted(by: { $0.key < $1.key }) {
            let subscribers = members.filter { $0.topics.contains(name) }.map(\.memberId).sorted()
            guard !subscribers.isEmpty else { continue }
            let count = Int(topic.partitionCount)
            let base = count / subscribers.count
            let extra = count % subscribers.count
            var next = 0
            for (index, memberId) in subscribers.enumerated() {
                let size = base + (index < extra ? 1 : 0)
                if size > 0 { result[memberId]![topic.id] = Set((next..<(next + size)).map { Int32($0) }) }
                next += size
            }
        }
        return result
    }

    private static func uniform(members: [MemberSpec], topics: [String: TopicCatalog.Topic]) -> [String: TopicAssignment] {
        var result = Dictionary(uniqueKeysWithValues: members.map { ($0.memberId, TopicAssignment()) })
        var counts = Dictionary(uniqueKeysWithValues: members.map { ($0.memberId, 0) })
        let byId = Dictionary(uniqueKeysWithValues: topics.values.map { ($0.id, $0) })
        // Every partition some member subscribes to, in a stable order.
        var partitions: [(topic: TopicCatalog.Topic, partition: Int32)] = []
        for (_, topic) in topics.sorted(by: { $0.key < $1.key }) where members.contains(where: { $0.topics.contains(topic.name) }) {
            for partition in 0..<topic.partitionCount { partitions.append((topic, partition)) }
        }
        guard !members.isEmpty else { return result }
        // Each member's fair share: the total over the members, the first `extra` one more.
        let quota = partitions.count / members.count
        var extraSlots = partitions.count % members.count
        var taken: Set<String> = []
        func key(_ topic: KafkaUUID, _ partition: Int32) -> String { "\(topic)-\(partition)" }
        // Keep what members own, up to their share.
        for member in members.sorted(by: { $0.memberId < $1.memberId }) {
            var kept = 0
            for (topicId, owned) in member.current.sorted(by: { $0.key.description < $1.key.description }) {
                guard let topic = byId[topicId], member.topics.contains(topic.name) else { continue }
                for partition in owned.sorted() where partition < topic.partitionCount && !taken.contains(key(topicId, partition)) {
                    let limit = quota + (extraSlots > 0 ? 1 : 0)
                    guard kept < limit else { break }
                    result[member.memberId]![topicId, default: []].insert(partition)
                    taken.insert(key(topicId, partition))
                    kept += 1
                }
            }
            if kept > quota { extraSlots -= 1 }
            counts[member.memberId] = kept
        }
        // The rest to the subscribed member with the fewest, ties by member id.
        for (topic, partition) in partitions where !taken.contains(key(topic.id, partition)) {
            let candidates = members.filter { $0.topics.contains(topic.name) }
            guard let chosen = candidates.min(by: { (counts[$0.memberId]!, $0.memberId) < (counts[$1.memberId]!, $1.memberId) }) else { continue }
            result[chosen.memberId]![topic.id, default: []].insert(partition)
            counts[chosen.memberId]! += 1
        }
        return result
    }
}
