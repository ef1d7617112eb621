import KafkaProtocol

/// The share coordinator's inter-broker APIs (83-87): share-partition leaders on other brokers
/// initialize, read, write and delete share-partition state here, and admin calls read its
/// summary. Each partition of a request is answered on its own.
struct ShareStateHandlers: Sendable {
    let coordinator: ShareCoordinator

    private static func key(_ groupId: String, _ topicId: KafkaUUID, _ partition: Int32) -> ShareStateKey {
        ShareStateKey(groupId: groupId, topicId: topicId, partition: partition)
    }

    func initialize(_ request: InitializeShareGroupStateRequest) async -> InitializeShareGroupStateResponse {
        var response = InitializeShareGroupStateResponse()
        for topic in request.topics {
            var result = InitializeShareGroupStateResponse.InitializeStateResult(topicId: topic.topicId)
            for partition in topic.partitions {
                let code = await coordinator.initialize(
                    Self.key(request.groupId, topic.topicId, partition.partition), stateEpoch: partition.stateEpoch, startOffset: partition.startOffset)
                result.partitions.append(.init(partition: partition.partition, errorCode: code.rawValue))
            }
            response.results.append(result)
        }
        return response
    }

    func read(_ request: ReadShareGroupStateRequest) async -> ReadShareGroupStateResponse {
        var response = ReadShareGroupStateResponse()
        for topic in request.topics {
            var result = ReadShareGroupStateResponse.ReadStateResult(topicId: topic.topicId)
            for partition in topic.partitions {
                var answer = ReadShareGroupStateResponse.PartitionResult(partition: partition.partition, stateEpoch: 0, startOffset: -1)
                switch await coordinator.read(Self.key(request.groupId, topic.topicId, partition.partition), leaderEpoch: partition.leaderEpoch) {
                case .failure(let code):
                    answer.errorCode = code.rawValue
                case .success(let state?):
                    answer.stateEpoch = state.stateEpoch
                    answer.startOffset = state.persisted.startOffset
                    answer.stateBatches = state.persisted.batches.map {
                        .init(firstOffset: $0.firstOffset, lastOffset: $0.lastOffset, deliveryState: $0.state.rawValue, deliveryCount: $0.deliveryCount)
                    }
                case .success(nil):
                    break
                }
                result.partitions.append(answer)
            }
            response.results.append(result)
        }
        return response
    }

    func write(_ request: WriteShareGroupStateRequest) async -> WriteShareGroupStateResponse {
        var response = WriteShareGroupStateResponse()
        for topic in request.topics {
            var result = WriteShareGroupStateResponse.WriteStateResult(topicId: topic.topicId)
            for partition in topic.partitions {
                let code = await coordinator.write(
                    Self.key(request.groupId, topic.topicId, partition.partition), stateEpoch: partition.stateEpoch,
                    leaderEpoch: partition.leaderEpoch, startOffset: partition.startOffset,
                    batches: partition.stateBatches.map {
                        .init(firstOffset: $0.firstOffset, lastOffset: $0.lastOffset,
                              state: SharePartition.RecordState(rawValue: $0.deliveryState) ?? .available, deliveryCount: $0.deliveryCount)
                    })
                result.partitions.append(.init(partition: partition.partition, errorCode: code.rawValue))
            }
            response.results.append(result)
        }
        return response
    }

    func delete(_ request: DeleteShareGroupStateRequest) async -> DeleteShareGroupStateResponse {
        var response = DeleteShareGroupStateResponse()
        for topic in request.topics {
            var result = DeleteShareGroupStateResponse.DeleteStateResult(topicId: topic.topicId)
            for partition in topic.partitions {
                let code = await coordinator.delete(Self.key(request.groupId, topic.topicId, partition.partition))
                result.partitions.append(.init(partition: partition.partition, errorCode: code.rawValue))
            }
            response.results.append(result)
        }
        return response
    }

    func summary(_ request: ReadShareGroupStateSummaryRequest) async -> ReadShareGroupStateSummaryResponse {
        var response = ReadShareGroupStateSummaryResponse()
        for topic in request.topics {
            var result = ReadShareGroupStateSummaryResponse.ReadStateSummaryResult(topicId: topic.topicId)
            for partition in topic.partitions {
                var answer = ReadShareGroupStateSummaryResponse.PartitionResult(partition: partition.partition, stateEpoch: 0, leaderEpoch: -1, startOffset: -1)
                switch await coordinator.summary(Self.key(request.groupId, topic.topicId, partition.partition)) {
                case .failure(let code):
                    answer.errorCode = code.rawValue
                case .success(let state?):
                    answer.stateEpoch = state.stateEpoch
                    answer.leaderEpoch = state.leaderEpoch
                    answer.startOffset = state.persisted.startOffset
                    answer.deliveryCompleteCount = Int32(clamping: state.persisted.completedCount)
                case .success(nil):
                    break
                }
                result.partitions.append(answer)
            }
            response.results.append(result)
        }
        return response
    }
}
