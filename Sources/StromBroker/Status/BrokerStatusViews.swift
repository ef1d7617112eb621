import StromCluster

/// What the admin listener's `/v1/` JSON shows of a broker and its cluster: plain values, built
/// from the metadata image this broker holds and the logs and groups it has.
public struct ClusterView: Sendable, Codable, Equatable {
    public struct Broker: Sendable, Codable, Equatable {
        public var nodeId: Int32
        public var host: String
        public var port: Int32
        public var rack: String?
    }

    public var clusterId: String
    public var controllerId: Int32
    /// The broker answering.
    public var nodeId: Int32
    public var brokers: [Broker]
}

public struct TopicView: Sendable, Codable, Equatable {
    public struct Partition: Sendable, Codable, Equatable {
        public var partition: Int32
        public var leader: Int32
        public var leaderEpoch: Int32
        public var replicas: [Int32]
        public var inSyncReplicas: [Int32]
        /// This broker's copy, if it holds one.
        public var logStartOffset: Int64?
        public var logEndOffset: Int64?
        public var highWatermark: Int64?
        public var sizeBytes: Int64?
        /// Why this broker's copy is offline (damaged data), if it is.
        public var offlineReason: String?
    }

    public var name: String
    public var isInternal: Bool
    public var configs: [String: String]
    public var partitions: [Partition]
}

/// A group coordinated by the answering broker, with its lag.
/// One config of a topic: its value and where it comes from, in Kafka's source names.
public struct TopicConfigView: Sendable, Codable, Equatable {
    public var name: String
    public var value: String
    /// DYNAMIC_TOPIC_CONFIG, DYNAMIC_BROKER_CONFIG, DYNAMIC_DEFAULT_BROKER_CONFIG, STATIC_BROKER_CONFIG or DEFAULT_CONFIG.
    public var source: String
}

public struct GroupLagView: Sendable, Codable, Equatable {
    public struct Partition: Sendable, Codable, Equatable {
        public var topic: String
        public var partition: Int32
        public var committedOffset: Int64
        public var logEndOffset: Int64
        public var lag: Int64
        public var timeLagSeconds: Double?
        public var status: String
    }

    public var group: String
    public var status: String
    public var partitions: [Partition]
}

extension Broker {
    public func clusterView() -> ClusterView {
        let image = partitions.current
        return ClusterView(
            clusterId: image.clusterId, controllerId: image.controllerId, nodeId: configuration.nodeId,
            brokers: image.brokers.map { .init(nodeId: $0.nodeId, host: $0.host, port: $0.port, rack: $0.rack) })
    }

    /// Every topic (internal ones too), sorted by name; `named` narrows to one.
    public func topicViews(named: String? = nil) -> [TopicView] {
        let image = partitions.current
        let topics = named.map { name in image.topic(named: name).map { [$0] } ?? [] } ?? image.topics
        return topics.sorted { $0.name < $1.name }.map { topic in
            TopicView(
                name: topic.name, isInternal: topic.isInternal, configs: topic.configs,
                partitions: topic.partitions.map { assignment in
                    let log = partitions.log(topic: topic.name, partition: assignment.partition)
                    let offsets = log?.offsets
                    return .init(
                        partition: assignment.partition, leader: assignment.leader, leaderEpoch: assignment.leaderEpoch,
                        replicas: assignment.replicas, inSyncReplicas: assignment.inSyncReplicas,
                        logStartOffset: offsets?.logStartOffset, logEndOffset: offsets?.logEndOffset,
                        highWatermark: offsets?.highWatermark, sizeBytes: log?.sizeBytes, offlineReason: log?.offlineReason)
                })
        }
    }

    /// A topic's configs with their sources; nil for a topic that does not exist.
    public func topicConfigViews(named name: String) -> [TopicConfigView]? {
        guard let topic = partitions.current.topic(named: name) else { return nil }
        return DescribeConfigsHandler(broker: self).topicConfigSources(overrides: topic.configs)
    }

    /// The groups this broker coordinates, with each partition's lag and Burrow's status.
    public func groupLagViews() -> [GroupLagView] {
        let byGroup = Dictionary(grouping: consumerLag(), by: \.key.group)
        return byGroup.keys.sorted().map { group in
            let partitions = byGroup[group]!
            return GroupLagView(
                group: group, status: GroupLagStatus(partitions: partitions.map(\.status)).rawValue,
                partitions: partitions.map { lag in
                    .init(
                        topic: lag.key.topic, partition: lag.key.partition, committedOffset: lag.committedOffset,
                        logEndOffset: lag.logEndOffset, lag: lag.lag, timeLagSeconds: lag.timeLagMs.map { Double($0) / 1_000 },
                        status: lag.status.rawValue)
                })
        }
    }
}

extension Broker {
    /// What the alert rules look at now: the lag of the groups coordinated here, and on the
    /// controller the partitions' health and the brokers that hold replicas but are not registered.
    public func alertObservations() -> AlertObservations {
        let image = partitions.current
        var observations = AlertObservations(lag: consumerLag())
        guard image.controllerId == configuration.nodeId else { return observations }
        let registered = Set(image.brokers.map(\.nodeId))
        var down = Set<Int32>()
        for topic in image.topics {
            let minInSync = logConfig(for: topic).minInSyncReplicas
            for assignment in topic.partitions {
                down.formUnion(assignment.replicas.filter { !registered.contains($0) })
                observations.partitions.append(.init(
                    topic: topic.name, partition: assignment.partition,
                    underMinInSync: assignment.leader != -1 && assignment.inSyncReplicas.count < minInSync,
                    offline: assignment.leader == -1))
            }
        }
        observations.brokersDown = down.sorted()
        return observations
    }
}
