import KafkaProtocol
import StromCluster

/// CreatePartitions (validate-only too): grows topics; partitions are never removed.
struct CreatePartitionsHandler: Sendable {
    let broker: Broker

    func handle(_ request: CreatePartitionsRequest) async -> CreatePartitionsResponse {
        var response = CreatePartitionsResponse(results: [])
        let counts = Dictionary(request.topics.map { ($0.name, 1) }, uniquingKeysWith: +)
        let current = broker.partitions.current
        let newPartitions = request.topics.reduce(0) { $0 + max(0, Int($1.count) - Int(current.topic(named: $1.name)?.partitionCount ?? 0)) }
        if newPartitions > CreateTopicsHandler.newPartitionsPerRequestMax {
            response.results = request.topics.map {
                CreatePartitionsResponse.CreatePartitionsTopicResult(
                    name: $0.name, errorCode: KafkaErrorCode.policyViolation.rawValue,
                    errorMessage: CreateTopicsHandler.tooManyPartitionsMessage)
            }
            return response
        }
        for topic in request.topics {
            var result = CreatePartitionsResponse.CreatePartitionsTopicResult(name: topic.name)
            if counts[topic.name, default: 0] > 1 {
                // Kafka answers every copy of a name listed twice with INVALID_REQUEST.
                result.errorCode = KafkaErrorCode.invalidRequest.rawValue
                result.errorMessage = "topic \(topic.name) appears more than once in the request"
            } else if let reason = assignmentProblem(topic) {
                result.errorCode = KafkaErrorCode.invalidReplicaAssignment.rawValue
                result.errorMessage = reason
            } else {
                switch await broker.createPartitions(topic: topic.name, newTotalCount: topic.count, validateOnly: request.validateOnly) {
                case .success: break
                case .failure(let error):
                    result.errorCode = error.kafkaErrorCode.rawValue
                    result.errorMessage = "\(error)"
                }
            }
            response.results.append(result)
        }
        return response
    }

    /// Kafka's checks of an explicit assignment of the new partitions (one list each). Alone,
    /// every valid one names this broker; a cluster's metadata store places replicas itself, so
    /// there an explicit assignment is refused rather than silently changed.
    private func assignmentProblem(_ topic: CreatePartitionsRequest.CreatePartitionsTopic) -> String? {
        guard let assignments = topic.assignments else { return nil }
        let existing = broker.partitions.current.topic(named: topic.name)?.partitionCount ?? 0
        guard Int32(assignments.count) == topic.count - existing else {
            return "\(assignments.count) assignments for \(topic.count - existing) new partitions"
        }
        let registered = Set(broker.partitions.current.brokers.map(\.nodeId))
        let numbered = assignments.enumerated().map { (Int32(existing) + Int32($0.offset), $0.element.brokerIds) }
        if let problem = ReplicaAssignmentCheck.check(numbered, registered: registered, firstPartition: Int32(existing)) {
            return problem.message
        }
        if broker.cluster != nil {
            return "explicit replica placement is not supported in a cluster yet: let the controller place replicas"
        }
        return nil
    }
}
