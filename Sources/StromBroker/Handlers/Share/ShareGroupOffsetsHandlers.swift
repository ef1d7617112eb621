import KafkaProtocol
import StromStorage

/// The share-group offset admin APIs, on the group's coordinator: DescribeShareGroupOffsets (the
/// start offset of each share-partition and, from v1, its lag), AlterShareGroupOffsets and
/// DeleteShareGroupOffsets (an empty group only, as in Kafka). The states themselves live at the
/// share coordinators, reached through ``ShareCoordinatorClient``; a reset moves the state epoch,
/// so a leader still holding the old state is fenced and loads the new one.
struct ShareGroupOffsetsHandlers: Sendable {
    let broker: Broker

    func describe(_ request: DescribeShareGroupOffsetsRequest, version: Int16) async -> DescribeShareGroupOffsetsResponse {
        var response = DescribeShareGroupOffsetsResponse(groups: [])
        for group in request.groups {
            var described = DescribeShareGroupOffsetsResponse.DescribeShareGroupOffsetsResponseGroup(groupId: group.groupId, topics: [])
            let view: GroupStateMachine.ShareGroupOffsetsView
            switch await broker.groupCoordinator.shareGroupOffsetsView(group.groupId) {
            case .failure(let code):
                described.errorCode = code.rawValue
                response.groups.append(described)
                continue
            case .success(let found): view = found
            }
            let image = broker.partitions.current
            // Named topics, or every share-partition the group has state for.
            let wanted: [(name: String, partitions: [Int32])] = group.topics?.map { ($0.topicName, $0.partitions) }
                ?? view.topics.values.sorted { $0.name < $1.name }.map { ($0.name, $0.partitions.sorted()) }
            for topic in wanted {
                let topicId = image.topic(named: topic.name)?.id
                var entry = DescribeShareGroupOffsetsResponse.DescribeShareGroupOffsetsResponseTopic(
                    topicName: topic.name, topicId: topicId ?? .zero, partitions: [])
                for partition in topic.partitions {
                    var result = DescribeShareGroupOffsetsResponse.DescribeShareGroupOffsetsResponsePartition(
                        partitionIndex: partition, startOffset: -1, leaderEpoch: -1, lag: -1)
                    guard let topicId, let metadata = image.topic(named: topic.name), partition >= 0, partition < metadata.partitionCount else {
                        result.errorCode = KafkaErrorCode.unknownTopicOrPartition.rawValue
                        entry.partitions.append(result)
                        continue
                    }
                    switch await broker.shareCoordinators.summary(ShareStateKey(groupId: group.groupId, topicId: topicId, partition: partition)) {
                    case .failure(let code):
                        result.errorCode = code.rawValue
                    case .success(let summary?):
                        result.startOffset = summary.startOffset
                        result.leaderEpoch = summary.leaderEpoch
                        if version >= 1, let log = broker.partitions.log(topic: topic.name, partition: partition) {
                            // Records not yet done: the high watermark known here minus the start and those done after it.
                            result.lag = max(0, log.offsets.highWatermark - summary.startOffset - summary.completedCount)
                        }
                    case .success(nil):
                        break
                    }
                    entry.partitions.append(result)
                }
                described.topics.append(entry)
            }
            response.groups.append(described)
        }
        return response
    }

    func alter(_ request: AlterShareGroupOffsetsRequest) async -> AlterShareGroupOffsetsResponse {
        var response = AlterShareGroupOffsetsResponse(responses: [])
        switch await broker.groupCoordinator.shareGroupOffsetsView(request.groupId) {
        case .failure(let code) where code != .groupIdNotFound:
            response.errorCode = code.rawValue
            return response
        case .success(let view) where view.memberCount > 0:
            response.errorCode = KafkaErrorCode.nonEmptyGroup.rawValue
            response.errorMessage = "share group \(request.groupId) has members: offsets can be reset only while it is empty"
            return response
        default:
            break
        }
        let image = broker.partitions.current
        var altered: [KafkaUUID: (name: String, partitions: Set<Int32>)] = [:]
        for topic in request.topics {
            let metadata = image.topic(named: topic.topicName)
            var entry = AlterShareGroupOffsetsResponse.AlterShareGroupOffsetsResponseTopic(
                topicName: topic.topicName, topicId: metadata?.id ?? .zero, partitions: [])
            for partition in topic.partitions {
                var result = AlterShareGroupOffsetsResponse.AlterShareGroupOffsetsResponsePartition(partitionIndex: partition.partitionIndex)
                guard let metadata, partition.partitionIndex >= 0, partition.partitionIndex < metadata.partitionCount else {
                    result.errorCode = KafkaErrorCode.unknownTopicOrPartition.rawValue
                    entry.partitions.append(result)
                    continue
                }
                guard partition.startOffset >= 0 else {
                    result.errorCode = KafkaErrorCode.invalidRequest.rawValue
                    result.errorMessage = "a start offset is at least 0"
                    entry.partitions.append(result)
                    continue
                }
                let key = ShareStateKey(groupId: request.groupId, topicId: metadata.id, partition: partition.partitionIndex)
                var code: KafkaErrorCode
                switch await broker.shareCoordinators.summary(key) {
                case .failure(let failure): code = failure
                case .success(let summary):
                    // A new state epoch: whoever holds the old state is fenced.
                    code = await broker.shareCoordinators.initialize(key, stateEpoch: (summary?.stateEpoch ?? 0) &+ 1, startOffset: partition.startOffset)
                }
                if code == .none {
                    altered[metadata.id, default: (metadata.name, [])].partitions.insert(partition.partitionIndex)
                    await broker.shareManager.unload(key)
                }
                result.errorCode = code.rawValue
                entry.partitions.append(result)
            }
            response.responses.append(entry)
        }
        if !altered.isEmpty {
            let code = await broker.groupCoordinator.recordShareOffsets(request.groupId, topics: altered)
            if code != .none { response.errorCode = code.rawValue }
        }
        return response
    }

    func delete(_ request: DeleteShareGroupOffsetsRequest) async -> DeleteShareGroupOffsetsResponse {
        var response = DeleteShareGroupOffsetsResponse(responses: [])
        let view: GroupStateMachine.ShareGroupOffsetsView
        switch await broker.groupCoordinator.shareGroupOffsetsView(request.groupId) {
        case .failure(let code):
            response.errorCode = code.rawValue
            return response
        case .success(let found): view = found
        }
        guard view.memberCount == 0 else {
            response.errorCode = KafkaErrorCode.nonEmptyGroup.rawValue
            response.errorMessage = "share group \(request.groupId) has members: offsets can be deleted only while it is empty"
            return response
        }
        var forgotten: Set<KafkaUUID> = []
        for topic in request.topics {
            guard let (topicId, state) = view.topics.first(where: { $0.value.name == topic.topicName }) else {
                response.responses.append(.init(topicName: topic.topicName, topicId: .zero, errorCode: KafkaErrorCode.unknownTopicOrPartition.rawValue))
                continue
            }
            var code = KafkaErrorCode.none
            for partition in state.partitions.sorted() {
                let key = ShareStateKey(groupId: request.groupId, topicId: topicId, partition: partition)
                let deleted = await broker.shareCoordinators.delete(key)
                await broker.shareManager.unload(key)
                if deleted != .none { code = deleted }
            }
            if code == .none { forgotten.insert(topicId) }
            response.responses.append(.init(topicName: topic.topicName, topicId: topicId, errorCode: code.rawValue))
        }
        if !forgotten.isEmpty {
            let code = await broker.groupCoordinator.forgetShareTopics(request.groupId, topicIds: forgotten)
            if code != .none { response.errorCode = code.rawValue }
        }
        return response
    }

    /// DeleteGroups of a share group: its share-partitions' states go first, then the group.
    /// Nil when `groupId` is no share group (the caller deletes it as any other).
    func deleteGroup(_ groupId: String) async -> KafkaErrorCode? {
        guard case .success(let view) = await broker.groupCoordinator.shareGroupOffsetsView(groupId) else { return nil }
        guard view.memberCount == 0 else { return .nonEmptyGroup }
        for (topicId, state) in view.topics {
            for partition in state.partitions.sorted() {
                let key = ShareStateKey(groupId: groupId, topicId: topicId, partition: partition)
                let code = await broker.shareCoordinators.delete(key)
                guard code == .none else { return code }
                await broker.shareManager.unload(key)
            }
        }
        return await broker.groupCoordinator.deleteGroup(groupId)
    }
}
