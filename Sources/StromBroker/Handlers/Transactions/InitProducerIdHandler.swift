import KafkaProtocol

/// InitProducerId: an idempotent producer (no transactional id) gets a new producer id at epoch
/// 0; a transactional one goes to its transaction coordinator, which bumps the epoch of the id's
/// producer (fencing the previous instance and aborting its open transaction) or, with KIP-360's
/// producer id and epoch, lets a producer recover its own.
struct InitProducerIdHandler: Sendable {
    let producerIds: ProducerIdBlock
    let transactions: TransactionCoordinator

    func handle(_ request: InitProducerIdRequest) async -> InitProducerIdResponse {
        var response = InitProducerIdResponse(errorCode: 0, producerId: -1, producerEpoch: -1)
        if let transactionalId = request.transactionalId {
            guard !transactionalId.isEmpty else {
                response.errorCode = KafkaErrorCode.invalidRequest.rawValue
                return response
            }
            let expected = request.producerId >= 0 ? (request.producerId, request.producerEpoch) : nil
            let result = await transactions.initProducerId(transactionalId: transactionalId, timeoutMs: request.transactionTimeoutMs, expected: expected)
            response.errorCode = result.error.rawValue
            response.producerId = result.producerId
            response.producerEpoch = result.producerEpoch
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
