import KafkaProtocol

/// ListGroups (with its state and type filters), DescribeGroups, DeleteGroups and OffsetDelete:
/// the administrative view of the coordinator's groups.
struct GroupAdminHandlers: Sendable {
    let broker: Broker

    func listGroups(_ request: ListGroupsRequest) async -> ListGroupsResponse {
        let types = Set(request.typesFilter.map { $0.lowercased() })
        let states = Set(request.statesFilter.map { $0.lowercased() })
        return ListGroupsResponse(groups: await broker.groupCoordinator.listGroups(statesFilter: states, typesFilter: types))
    }

    func describeGroups(_ request: DescribeGroupsRequest) async -> DescribeGroupsResponse {
        var groups: [DescribeGroupsResponse.DescribedGroup] = []
        for groupId in request.groups {
            var described = await broker.groupCoordinator.describeGroup(groupId)
            // Strom has no ACLs yet: everything a group allows (Kafka's bit set of READ,
            // DESCRIBE, DELETE) only when asked for, otherwise Kafka's "not requested" value.
            described.authorizedOperations = request.includeAuthorizedOperations ? AuthorizedOperations.group : Int32.min
            groups.append(described)
        }
        return DescribeGroupsResponse(groups: groups)
    }

    func describeConsumerGroups(_ request: ConsumerGroupDescribeRequest) async -> ConsumerGroupDescribeResponse {
        var groups: [ConsumerGroupDescribeResponse.DescribedGroup] = []
        for groupId in request.groupIds {
            var described = await broker.groupCoordinator.describeConsumerGroup(groupId)
            described.authorizedOperations = request.includeAuthorizedOperations ? AuthorizedOperations.group : Int32.min
            groups.append(described)
        }
        return ConsumerGroupDescribeResponse(groups: groups)
    }

    func describeShareGroups(_ request: ShareGroupDescribeRequest) async -> ShareGroupDescribeResponse {
        var groups: [ShareGroupDescribeResponse.DescribedGroup] = []
        for groupId in request.groupIds {
            var described = await broker.groupCoordinator.describeShareGroup(groupId)
            described.authorizedOperations = request.includeAuthorizedOperations ? AuthorizedOperations.group : Int32.min
            groups.append(described)
        }
        return ShareGroupDescribeResponse(groups: groups)
    }

    /// READ (3), DELETE (6), DESCRIBE (8).

    func deleteGroups(_ request: DeleteGroupsRequest) async -> DeleteGroupsResponse {
        var results: [DeleteGroupsResponse.DeletableGroupResult] = []
        for groupId in request.groupsNames {
            let code: KafkaErrorCode
            if let shareCode = await ShareGroupOffsetsHandlers(broker: broker).deleteGroup(groupId) {
                code = shareCode
            } else {
                code = await broker.groupCoordinator.deleteGroup(groupId)
            }
            results.append(.init(groupId: groupId, errorCode: code.rawValue))
        }
        return DeleteGroupsResponse(results: results)
    }

    func deleteOffsets(_ request: OffsetDeleteRequest) async -> OffsetDeleteResponse {
        let image = broker.partitions.current
        var keys: [GroupStateMachine.OffsetKey] = []
        for topic in request.topics {
            for partition in topic.partitions { keys.append(.init(topic: topic.name, partition: partition.partitionIndex)) }
        }
        let existing = keys.filter { key in
            image.topic(named: key.topic).map { key.partition >= 0 && key.partition < $0.partitionCount } ?? false
        }
        let (code, codes) = await broker.groupCoordinator.deleteOffsets(groupId: request.groupId, partitions: existing)
        guard code == .none else { return OffsetDeleteResponse(errorCode: code.rawValue) }
        return OffsetDeleteResponse(topics: request.topics.map { topic in
            .init(name: topic.name, partitions: topic.partitions.map { partition in
                let key = GroupStateMachine.OffsetKey(topic: topic.name, partition: partition.partitionIndex)
                return .init(partitionIndex: partition.partitionIndex, errorCode: (codes[key] ?? .unknownTopicOrPartition).rawValue)
            })
        })
    }
}
