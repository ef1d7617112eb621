import KafkaProtocol

/// InitProducerId for idempotent producers: a new producer id at epoch 0 (the partitions then
/// check each producer's sequence numbers and drop retried batches). Transactional ids need the
/// transaction coordinator, which Strom does not have yet: those requests get INVALID_REQUEST.
struct InitProducerIdHandler: Sendable {
    let producerIds: ProducerIdBlock

    func handle(_ request: InitProducerIdRequest) async -> InitProducerIdResponse {
        var response = InitProducerIdResponse(errorCode: 0, producerId: -1, producerEpoch: -1)
        guard request.transactionalId == nil else {
            response.errorCode = KafkaErrorCode.invalidRequest.rawValue
            return response
        }
        do {
            response.producerId = try await producerIds.next()
            response.producerEpoch = 0
        } catch {
            response.errorCode = error.kafkaErrorCode.rawValue
        }
        return response
    }
}
