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
            var partitionCount: Int32? = topic.numPartitions == -1 ? nil : topic.numPartitions
            var replicationFactor: Int16? = topic.replicationFactor == -1 ? nil : topic.replicationFactor
            if !topic.assignments.isEmpty {
                if let problem = assignmentProblem(topic) {
                    result.errorCode = problem.code.rawValue
                    result.errorMessage = problem.message
                    response.topics.append(result)
                    continue
                }
                partitionCount = Int32(topic.assignments.count)
                replicationFactor = Int16(topic.assignments[0].brokerIds.count)
            }
            var configs: [String: String] = [:]
            for config in topic.configs { if let value = config.value { configs[config.name] = value } }
            let outcome = await broker.createTopic(
                name: topic.name, partitionCount: partitionCount, replicationFactor: replicationFactor,
                configs: configs, validateOnly: request.validateOnly)
            switch outcome {
            case .success(let created):
                result.topicId = request.validateOnly ? .zero : created.id
                result.numPartitions = created.partitionCount
                result.replicationFactor = Int16(created.partitions.first?.replicas.count ?? 1)
                // v5+: the topic's every config with its source (KIP-525), sorted by name as Kafka sends them.
                result.configs = DescribeConfigsHandler(broker: broker).effectiveTopicConfigs(overrides: configs)
                    .sorted { $0.name < $1.name }
                    .map { .init(name: $0.name, value: $0.value, readOnly: false, configSource: $0.source.rawValue, isSensitive: false) }
            case .failure(let error):
                result.errorCode = error.kafkaErrorCode.rawValue
                result.errorMessage = "\(error)"
            }
            response.topics.append(result)
        }
        return response
    }

    /// Kafka's checks of an explicit assignment. Alone, every valid one puts each partition on
    /// this broker; a cluster's metadata store places replicas itself and cannot honour a list
    /// yet, so there an explicit assignment is refused rather than silently changed.
    private func assignmentProblem(_ topic: CreateTopicsRequest.CreatableTopic) -> ReplicaAssignmentCheck.Problem? {
        guard topic.replicationFactor == -1 else {
            return .init(code: .invalidRequest, message: "A manual partition assignment was specified, but replication factor was not set to -1.")
        }
        guard topic.numPartitions == -1 else {
            return .init(code: .invalidRequest, message: "A manual partition assignment was specified, but numPartitions was not set to -1.")
        }
        let registered = Set(broker.partitions.current.brokers.map(\.nodeId))
        if let problem = ReplicaAssignmentCheck.check(topic.assignments.map { ($0.partitionIndex, $0.brokerIds) }, registered: registered) {
            return problem
        }
        guard broker.cluster == nil else {
            return .init(code: .invalidReplicaAssignment, message: "explicit replica placement is not supported in a cluster yet: let the controller place replicas")
        }
        return nil
    }
}
