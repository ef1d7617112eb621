import KafkaProtocol

/// ShareAcknowledge (KIP-932): acknowledgements sent on their own (explicit acknowledgement,
/// commitSync, or closing), at the share session's next epoch; -1 closes the session after them.
/// Each partition is answered once its changed state is written.
struct ShareAcknowledgeHandler: Sendable {
    let broker: Broker

    func handle(_ request: ShareAcknowledgeRequest, version: Int16) async -> ShareAcknowledgeResponse {
        let lockDurationMs = broker.shareSettings(group: request.groupId ?? "").partition.lockDurationMs
        var response = ShareAcknowledgeResponse(acquisitionLockTimeoutMs: Int32(clamping: lockDurationMs), responses: [])
        func failed(_ code: KafkaErrorCode, _ message: String? = nil) -> ShareAcknowledgeResponse {
            response.errorCode = code.rawValue
            response.errorMessage = message
            return response
        }
        guard let groupId = request.groupId, !groupId.isEmpty, let memberId = request.memberId, !memberId.isEmpty else {
            return failed(.invalidRequest, "GroupId and MemberId must be set")
        }
        let manager = broker.shareManager
        let sessionKey = ShareSessions.Key(groupId: groupId, memberId: memberId)
        switch request.shareSessionEpoch {
        case ShareSessions.openEpoch:
            return failed(.invalidShareSessionEpoch, "acknowledgements need an open share session")
        case ShareSessions.closeEpoch:
            guard await manager.hasSession(sessionKey) else { return failed(.shareSessionNotFound) }
        default:
            if case .failure(let code) = await manager.advanceSession(sessionKey, epoch: request.shareSessionEpoch, added: [], forgotten: []) {
                return failed(code)
            }
        }
        let leadership = ShareLeadership(broker: broker)
        var endpoints: [Int32: LeaderEndpoint] = [:]
        for topic in request.topics {
            var answered = ShareAcknowledgeResponse.ShareAcknowledgeTopicResponse(topicId: topic.topicId, partitions: [])
            for partition in topic.partitions {
                let sharePartition = ShareTopicPartition(topicId: topic.topicId, partition: partition.partitionIndex)
                var data = ShareAcknowledgeResponse.PartitionData(partitionIndex: partition.partitionIndex, currentLeader: .init(leaderId: -1, leaderEpoch: -1))
                if let error = leadership.error(sharePartition) {
                    data.errorCode = error.rawValue
                    if let leader = leadership.currentLeader(sharePartition) {
                        data.currentLeader = .init(leaderId: leader.nodeId, leaderEpoch: leader.leaderEpoch)
                        endpoints[leader.nodeId] = leader
                    }
                } else {
                    data.errorCode = await manager.acknowledge(
                        ShareStateKey(groupId: groupId, topicId: topic.topicId, partition: partition.partitionIndex), memberId: memberId,
                        batches: partition.acknowledgementBatches.map { (firstOffset: $0.firstOffset, lastOffset: $0.lastOffset, types: $0.acknowledgeTypes) },
                        renewAllowed: request.isRenewAck).rawValue
                }
                answered.partitions.append(data)
            }
            response.responses.append(answered)
        }
        if request.shareSessionEpoch == ShareSessions.closeEpoch { _ = await manager.closeSession(sessionKey) }
        response.nodeEndpoints = endpoints.values.sorted { $0.nodeId < $1.nodeId }.map { .init(nodeId: $0.nodeId, host: $0.host, port: $0.port, rack: $0.rack) }
        return response
    }
}
