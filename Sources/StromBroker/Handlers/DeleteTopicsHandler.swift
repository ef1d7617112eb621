import KafkaProtocol
import StromCluster
import StromStorage

/// DeleteTopics by name (v0-5) or by name or id (v6+): removes the topic from the metadata, then
/// its logs from disk.
struct DeleteTopicsHandler: Sendable {
    let broker: Broker

    func handle(_ request: DeleteTopicsRequest, version: Int16) async -> DeleteTopicsResponse {
        let targets: [(name: String?, id: KafkaUUID)] = version >= 6
            ? request.topics.map { ($0.name, $0.topicId) }
            : request.topicNames.map { ($0, KafkaUUID.zero) }
        var response = DeleteTopicsResponse(responses: [])
        for target in targets {
            var result = DeleteTopicsResponse.DeletableTopicResult(name: target.name, topicId: target.id)
            switch await broker.deleteTopic(name: target.name, id: target.id) {
            case .success(let deleted):
                result.name = deleted.name
                if version >= 6 { result.topicId = deleted.id }
            case .failure(let error):
                result.errorCode = error.kafkaErrorCode.rawValue
                if version >= 5 { result.errorMessage = "\(error)" }
            }
            response.responses.append(result)
        }
        return response
    }
}
