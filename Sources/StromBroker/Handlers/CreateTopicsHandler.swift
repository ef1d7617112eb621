import KafkaProtocol
import StromCluster

/// CreateTopics (validate-only too): per topic, the Kafka error a broker would return.
struct CreateTopicsHandler: Sendable {
    let broker: Broker

    /// Kafka's controller refuses a request that would create more than 10,000 partitions in all
    /// (`MAX_PARTITIONS_PER_BATCH`), failing every topic in it with this message.
    static let newPartitionsPerRequestMax = 10_000
    static let tooManyPartitionsMessage = "Excessively large number of partitions per request."

    func handle(_ request: CreateTopicsRequest) async -> CreateTopicsResponse {
        var response = CreateTopicsResponse(topics: [])
        let newPartitions = request.topics.reduce(0) {
            $0 + Int($1.numPartitions == -1 ? broker.configuration.defaultPartitionCount : max($1.numPartitions, 0))
        }
        if newPartitions > Self.newPartitionsPerRequestMax {
            response.topics = request.topics.map {
                var result = CreateTopicsResponse.CreatableTopicResult(name: $0.name, numPartitions: -1, replicationFactor: -1, configs: nil)
                result.errorCode = KafkaErrorCode.policyViolation.rawValue
                result.errorMessage = Self.tooManyPartitionsMessage
                return result
            }
            return response
        }
        var seen = Set<String>()
        for topic in request.topics {
            var result = CreateTopicsResponse.CreatableTopicResult(name: topic.name, numPartitions: -1, replicationFactor: -1, configs: nil)
            guard seen.insert(topic.name).inserted else {
                // Kafka rejects a name listed twice in one request.
                result.errorCode = KafkaErrorCode.invalidRequest.rawValue
                result.errorMessage = "topic \(topic.name) appears more than once in the request"
                response.topics.append(result)
                continue
            }
            guard topic.assignments.isEmpty else {
                result.errorCode = KafkaErrorCode.invalidRequest.rawValue
                result.errorMessage = "manual replica assignment is not supported"
                response.topics.append(result)
                continue
            }
            var configs: [String: String] = [:]
            for config in topic.configs { if let value = config.value { configs[config.name] = value } }
            let outcome = await broker.createTopic(
                name: topic.name, partitionCount: topic.numPartitions == -1 ? nil : topic.numPartitions,
                replicationFactor: topic.replicationFactor == -1 ? nil : topic.replicationFactor,
                configs: configs, validateOnly: request.validateOnly)
            switch outcome {
            case .success(let created):
                result.topicId = request.validateOnly ? .zero : created.id
                result.numPartitions = created.partitionCount
                result.replicationFactor = Int16(created.partitions.first?.replicas.count ?? 1)
                result.configs = []
            case .failure(let error):
                result.errorCode = error.kafkaErrorCode.rawValue
                result.errorMessage = "\(error)"
            }
            response.topics.append(result)
        }
        return response
    }
}
