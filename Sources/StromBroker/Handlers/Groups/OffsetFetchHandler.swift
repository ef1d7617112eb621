import KafkaProtocol

/// OffsetFetch: committed offsets of one group (v0-7) or several (v8+); -1 where nothing is
/// committed; every committed partition when no topics are named. With `require_stable` (v7+), a
/// partition whose offset waits for its transaction to end answers UNSTABLE_OFFSET_COMMIT, and the
/// client asks again (Kafka's behaviour for read_committed consumers).
struct OffsetFetchHandler: Sendable {
    let broker: Broker

    func handle(_ request: OffsetFetchRequest, version: Int16) async -> OffsetFetchResponse {
        guard version < 8 else {
            var groups: [OffsetFetchResponse.OffsetFetchResponseGroup] = []
            for group in request.groups {
                // v9 names the KIP-848 member asking; a stale or unknown one learns so (Kafka puts
                // the error on the group, with no topics).
                if version >= 9, let code = await broker.groupCoordinator.validateOffsetFetch(
                    groupId: group.groupId, memberId: group.memberId, memberEpoch: group.memberEpoch) {
                    groups.append(.init(groupId: group.groupId, topics: [], errorCode: code.rawValue))
                    continue
                }
                let topics = group.topics.map { $0.map { (name: $0.name, partitions: $0.partitionIndexes) } }
                let unstable = request.requireStable ? await broker.groupCoordinator.unstableOffsets(groupId: group.groupId) : []
                groups.append(Self.groupResult(
                    group.groupId, await broker.groupCoordinator.fetchOffsets(groupId: group.groupId, topics: topics), unstable: unstable))
            }
            return OffsetFetchResponse(groups: groups)
        }
        let topics = request.topics.map { $0.map { (name: $0.name, partitions: $0.partitionIndexes) } }
        guard let found = await broker.groupCoordinator.fetchOffsets(groupId: request.groupId, topics: topics) else {
            // v0-1 have no top-level error: each named partition carries it.
            let code = KafkaErrorCode.coordinatorNotAvailable.rawValue
            let failed: [OffsetFetchResponse.OffsetFetchResponseTopic] = (request.topics ?? []).map { topic in
                .init(name: topic.name, partitions: topic.partitionIndexes.map { .init(partitionIndex: $0, committedOffset: -1, metadata: "", errorCode: code) })
            }
            return OffsetFetchResponse(topics: failed, errorCode: code)
        }
        let unstable = version >= 7 && request.requireStable ? await broker.groupCoordinator.unstableOffsets(groupId: request.groupId) : []
        return OffsetFetchResponse(topics: found.map { topic in
            .init(name: topic.name, partitions: topic.partitions.map { index, committed in
                unstable.contains(.init(topic: topic.name, partition: index))
                    ? .init(partitionIndex: index, committedOffset: -1, metadata: "", errorCode: KafkaErrorCode.unstableOffsetCommit.rawValue)
                    : Self.partition(index, committed)
            })
        })
    }

    private static func groupResult(
        _ groupId: String, _ found: [GroupStateMachine.TopicOffsets]?, unstable: Set<GroupStateMachine.OffsetKey>
    ) -> OffsetFetchResponse.OffsetFetchResponseGroup {
        guard let found else {
            return .init(groupId: groupId, topics: [], errorCode: KafkaErrorCode.coordinatorNotAvailable.rawValue)
        }
        let topics: [OffsetFetchResponse.OffsetFetchResponseTopics] = found.map { topic in
            .init(name: topic.name, partitions: topic.partitions.map { partition, committed in
                unstable.contains(.init(topic: topic.name, partition: partition))
                    ? .init(partitionIndex: partition, committedOffset: -1, committedLeaderEpoch: -1, metadata: "",
                            errorCode: KafkaErrorCode.unstableOffsetCommit.rawValue)
                    : .init(
                        partitionIndex: partition, committedOffset: committed?.offset ?? -1, committedLeaderEpoch: committed?.leaderEpoch ?? -1,
                        metadata: committed?.metadata ?? "", errorCode: 0)
            })
        }
        return .init(groupId: groupId, topics: topics, errorCode: 0)
    }

    private static func partition(_ index: Int32, _ committed: GroupStateMachine.CommittedOffset?) -> OffsetFetchResponse.OffsetFetchResponsePartition {
        .init(
            partitionIndex: index, committedOffset: committed?.offset ?? -1, committedLeaderEpoch: committed?.leaderEpoch ?? -1,
            metadata: committed?.metadata ?? "", errorCode: 0)
    }
}
