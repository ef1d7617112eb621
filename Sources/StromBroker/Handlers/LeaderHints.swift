import KafkaProtocol

/// KIP-951: a partition refused with NOT_LEADER_OR_FOLLOWER or FENCED_LEADER_EPOCH names its
/// current leader and leader epoch, and the response carries that leader's endpoint, so the
/// client moves there at once instead of asking for metadata first. Produce from v10; Fetch names
/// the leader from v12 and carries endpoints from v16. Nothing is added where no leader is known.
enum LeaderHints {
    private static let hinted: Set<Int16> = [KafkaErrorCode.notLeaderOrFollower.rawValue, KafkaErrorCode.fencedLeaderEpoch.rawValue]

    static func add(to response: inout ProduceResponse, version: Int16, partitions: any PartitionDirectory) {
        guard version >= 10 else { return }
        var endpoints: [Int32: LeaderEndpoint] = [:]
        for topic in response.responses.indices {
            let name = response.responses[topic].name
            for index in response.responses[topic].partitionResponses.indices {
                let partition = response.responses[topic].partitionResponses[index]
                guard hinted.contains(partition.errorCode),
                      let leader = partitions.currentLeader(topic: name, partition: partition.index) else { continue }
                response.responses[topic].partitionResponses[index].currentLeader = .init(leaderId: leader.nodeId, leaderEpoch: leader.leaderEpoch)
                endpoints[leader.nodeId] = leader
            }
        }
        response.nodeEndpoints = endpoints.values.sorted { $0.nodeId < $1.nodeId }
            .map { .init(nodeId: $0.nodeId, host: $0.host, port: $0.port, rack: $0.rack) }
    }

    static func add(to response: inout FetchResponse, version: Int16, partitions: any PartitionDirectory) {
        guard version >= 12 else { return }
        var endpoints: [Int32: LeaderEndpoint] = [:]
        for topic in response.responses.indices {
            let entry = response.responses[topic]
            guard let name = version >= 13 ? partitions.topicName(id: entry.topicId) : entry.topic else { continue }
            for index in entry.partitions.indices {
                let partition = entry.partitions[index]
                guard hinted.contains(partition.errorCode),
                      let leader = partitions.currentLeader(topic: name, partition: partition.partitionIndex) else { continue }
                response.responses[topic].partitions[index].currentLeader = .init(leaderId: leader.nodeId, leaderEpoch: leader.leaderEpoch)
                endpoints[leader.nodeId] = leader
            }
        }
        guard version >= 16 else { return }
        response.nodeEndpoints = endpoints.values.sorted { $0.nodeId < $1.nodeId }
            .map { .init(nodeId: $0.nodeId, host: $0.host, port: $0.port, rack: $0.rack) }
    }
}
