import KafkaProtocol
import StromStorage

/// ElectLeaders: preferred (v0 and type 0) or unclean (type 1) leader elections asked by an
/// administrator, committed to the cluster metadata by whichever broker is asked (each change
/// compares the partition's epoch, as every leader change does). A broker alone leads every
/// partition already: ELECTION_NOT_NEEDED.
struct ElectLeadersHandler: Sendable {
    let broker: Broker

    func handle(_ request: ElectLeadersRequest, version: Int16) async -> ElectLeadersResponse {
        guard let kind = LeaderElectionRequest.Kind(rawValue: version >= 1 ? request.electionType : 0) else {
            return ElectLeadersResponse(errorCode: KafkaErrorCode.invalidRequest.rawValue)
        }
        let wanted = request.topicPartitions.map { topics in
            topics.flatMap { topic in topic.partitions.map { TopicPartition(topic: topic.topic, partition: $0) } }
        }
        let results: [(TopicPartition, KafkaErrorCode)]
        if let cluster = broker.cluster {
            results = await cluster.electLeaders(kind, partitions: wanted)
        } else {
            results = (wanted ?? []).map { topicPartition in
                let exists = broker.partitions.partitionExists(topic: topicPartition.topic, partition: topicPartition.partition)
                return (topicPartition, exists ? .electionNotNeeded : .unknownTopicOrPartition)
            }
        }
        // One entry per topic, topics in name order.
        var response = ElectLeadersResponse()
        for (topic, entries) in Dictionary(grouping: results, by: \.0.topic).sorted(by: { $0.key < $1.key }) {
            response.replicaElectionResults.append(.init(topic: topic, partitionResult: entries.map { topicPartition, code in
                .init(partitionId: topicPartition.partition, errorCode: code.rawValue, errorMessage: code == .none ? nil : code.name)
            }))
        }
        return response
    }
}
