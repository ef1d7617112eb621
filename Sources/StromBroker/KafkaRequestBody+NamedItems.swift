import KafkaProtocol

extension KafkaRequestBody {
    /// How many topics, partitions, groups, resources and members a request names: the work and
    /// memory its handling takes grow with it, so `request.max.partitions` bounds it. Topics and
    /// their partitions both count (a topic with no partitions is still looked up).
    var namedItemCount: Int {
        func sum<T>(_ items: [T], _ inner: (T) -> Int) -> Int { items.reduce(items.count) { $0 + inner($1) } }
        switch self {
        case .produce(let body): return sum(body.topicData) { $0.partitionData.count }
        case .fetch(let body): return sum(body.topics) { $0.partitions.count } + sum(body.forgottenTopicsData) { $0.partitions.count }
        case .listOffsets(let body): return sum(body.topics) { $0.partitions.count }
        case .metadata(let body): return body.topics?.count ?? 0
        case .offsetCommit(let body): return sum(body.topics) { $0.partitions.count }
        case .offsetFetch(let body):
            return sum(body.topics ?? []) { $0.partitionIndexes.count } + sum(body.groups) { sum($0.topics ?? []) { $0.partitionIndexes.count } }
        case .deleteRecords(let body): return sum(body.topics) { $0.partitions.count }
        case .createTopics(let body): return sum(body.topics) { $0.assignments.count + $0.configs.count }
        case .deleteTopics(let body): return body.topics.count + body.topicNames.count
        case .createPartitions(let body): return sum(body.topics) { $0.assignments?.count ?? 0 }
        case .describeConfigs(let body): return sum(body.resources) { $0.configurationKeys?.count ?? 0 }
        case .alterConfigs(let body): return sum(body.resources) { $0.configs.count }
        case .incrementalAlterConfigs(let body): return sum(body.resources) { $0.configs.count }
        case .deleteGroups(let body): return body.groupsNames.count
        case .describeGroups(let body): return body.groups.count
        case .offsetDelete(let body): return sum(body.topics) { $0.partitions.count }
        case .describeLogDirs(let body): return sum(body.topics ?? []) { $0.partitions.count }
        case .consumerGroupHeartbeat(let body):
            return (body.subscribedTopicNames?.count ?? 0) + sum(body.topicPartitions ?? []) { $0.partitions.count }
        case .leaveGroup(let body): return body.members.count
        case .consumerGroupDescribe(let body): return body.groupIds.count
        case .findCoordinator(let body): return body.coordinatorKeys.count
        case .joinGroup(let body): return body.protocols.count
        case .syncGroup(let body): return body.assignments.count
        default: return 0
        }
    }
}
