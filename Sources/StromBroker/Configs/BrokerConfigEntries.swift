import StromStorage

/// One broker-level config as DescribeConfigs reports it for a BROKER resource.
struct BrokerConfigEntry: Sendable {
    var name: String
    var value: String
    var type: ConfigValueType
    var documentation: String
}

extension BrokerConfiguration {
    /// Every broker-level key Strom has, with its current value: the broker's own settings and
    /// the broker synonyms of the topic configs (`log.retention.ms` for `retention.ms`, ...).
    var describedEntries: [BrokerConfigEntry] {
        var entries: [BrokerConfigEntry] = [
            BrokerConfigEntry(name: "node.id", value: String(nodeId), type: .int, documentation: "This broker's id in the cluster."),
            BrokerConfigEntry(
                name: "num.partitions", value: String(defaultPartitionCount), type: .int,
                documentation: "Partitions of a topic created without a count (auto-created topics too)."),
            BrokerConfigEntry(
                name: "default.replication.factor", value: String(defaultReplicationFactor), type: .int,
                documentation: "Replication factor of a topic created without one."),
            BrokerConfigEntry(
                name: "auto.create.topics.enable", value: String(autoCreateTopicsEnable), type: .boolean,
                documentation: "Whether a Metadata request for an unknown topic creates it."),
            BrokerConfigEntry(
                name: "socket.request.max.bytes", value: String(requestSizeBytesMax), type: .int,
                documentation: "The largest request frame the broker reads."),
            BrokerConfigEntry(
                name: "max.connections", value: String(connectionsMax), type: .int,
                documentation: "The most client connections the broker keeps open; more are closed at once with a log line."),
            BrokerConfigEntry(
                name: "max.connections.per.ip", value: String(connectionsPerAddressMax), type: .int,
                documentation: "The most connections from one client address."),
            BrokerConfigEntry(
                name: "connections.max.idle.ms", value: String(connectionIdleTimeMaxMs), type: .long,
                documentation: "A connection without traffic or requests for this long is closed."),
            BrokerConfigEntry(
                name: "produce.batch.validation", value: produceValidation.rawValue, type: .string,
                documentation: "strict: check every record of a produced batch, decompressing it (Kafka's checks); relaxed: check compressed batches for non-compacted topics by CRC and header only."),
            BrokerConfigEntry(
                name: "produce.batch.max.records", value: String(batchRecordsMax), type: .int,
                documentation: "The most records one produced batch may hold; more is refused with INVALID_RECORD."),
            BrokerConfigEntry(
                name: "produce.batch.max.decompressed.bytes", value: String(decompressedBatchSizeBytesMax), type: .int,
                documentation: "The most a compressed batch may inflate to while it is validated; more is refused with MESSAGE_TOO_LARGE."),
            BrokerConfigEntry(
                name: "request.max.partitions", value: String(requestPartitionsMax), type: .int,
                documentation: "The most topics, partitions, groups or config entries one request may name; a request naming more closes its connection."),
            BrokerConfigEntry(
                name: "fetch.max.bytes", value: String(fetchResponseBytesMax), type: .int,
                documentation: "The most record bytes one Fetch response carries (the first batch still goes whole)."),
            BrokerConfigEntry(
                name: "log.files.open.max", value: logFilesOpenMax.map(String.init) ?? String(OpenFilesLimit.defaultLogFilesOpenMax), type: .int,
                documentation: "How many segment and index files stay open at once; the least recently used are closed and reopened on use."),
            BrokerConfigEntry(
                name: "offsets.topic.num.partitions", value: String(groups.offsetsTopicPartitionCount), type: .int,
                documentation: "Partitions of __consumer_offsets (fixed once it exists)."),
            BrokerConfigEntry(
                name: "offsets.topic.segment.bytes", value: String(groups.offsetsTopicSegmentBytes), type: .int,
                documentation: "segment.bytes of __consumer_offsets."),
            BrokerConfigEntry(
                name: "offsets.retention.minutes", value: String(groups.offsetsRetentionMs / 60_000), type: .int,
                documentation: "How long the committed offsets of a group without members are kept."),
            BrokerConfigEntry(
                name: "offsets.retention.check.interval.ms", value: String(groups.offsetsRetentionCheckIntervalMs), type: .long,
                documentation: "How often committed offsets are checked for expiry."),
            BrokerConfigEntry(
                name: "offset.metadata.max.bytes", value: String(groups.offsetMetadataMaxBytes), type: .int,
                documentation: "The largest metadata string of a committed offset."),
            BrokerConfigEntry(
                name: "group.initial.rebalance.delay.ms", value: String(groups.initialRebalanceDelayMs), type: .int,
                documentation: "How long the first rebalance of an empty group waits for more members."),
            BrokerConfigEntry(
                name: "group.min.session.timeout.ms", value: String(groups.minSessionTimeoutMs), type: .int,
                documentation: "The shortest session timeout a member may ask for."),
            BrokerConfigEntry(
                name: "group.max.session.timeout.ms", value: String(groups.maxSessionTimeoutMs), type: .int,
                documentation: "The longest session timeout a member may ask for."),
            BrokerConfigEntry(
                name: "group.consumer.session.timeout.ms", value: String(groups.consumerSessionTimeoutMs), type: .int,
                documentation: "How long a KIP-848 consumer may go without a heartbeat before it leaves its group."),
            BrokerConfigEntry(
                name: "group.consumer.heartbeat.interval.ms", value: String(groups.consumerHeartbeatIntervalMs), type: .int,
                documentation: "How often KIP-848 consumers heartbeat."),
            BrokerConfigEntry(
                name: "group.max.size", value: String(groups.maxGroupSize), type: .int,
                documentation: "The most members a group may have."),
            BrokerConfigEntry(name: "group.share.record.lock.duration.ms", value: String(shareGroups.recordLockDurationMs), type: .int, documentation: "How long a record acquired by a share consumer stays locked (a group's share.record.lock.duration.ms overrides it)."),
            BrokerConfigEntry(name: "group.share.min.record.lock.duration.ms", value: String(shareGroups.minRecordLockDurationMs), type: .int, documentation: "The shortest share.record.lock.duration.ms a group may set."),
            BrokerConfigEntry(name: "group.share.max.record.lock.duration.ms", value: String(shareGroups.maxRecordLockDurationMs), type: .int, documentation: "The longest share.record.lock.duration.ms a group may set."),
            BrokerConfigEntry(name: "group.share.partition.max.record.locks", value: String(shareGroups.partitionMaxRecordLocks), type: .int, documentation: "The most records in flight per share-partition; fetches wait while it is full."),
            BrokerConfigEntry(name: "group.share.max.share.sessions", value: String(shareGroups.maxShareSessions), type: .int, documentation: "The most share sessions this broker keeps."),
            BrokerConfigEntry(name: "group.share.session.timeout.ms", value: String(groups.shareSessionTimeoutMs), type: .int, documentation: "How long a share group member may go without a heartbeat (a group's share.session.timeout.ms overrides it)."),
            BrokerConfigEntry(name: "group.share.heartbeat.interval.ms", value: String(groups.shareHeartbeatIntervalMs), type: .int, documentation: "How often share group members heartbeat (a group's share.heartbeat.interval.ms overrides it)."),
            BrokerConfigEntry(name: "group.share.min.session.timeout.ms", value: String(groups.shareMinSessionTimeoutMs), type: .int, documentation: "The shortest share.session.timeout.ms a group may set."),
            BrokerConfigEntry(name: "group.share.max.session.timeout.ms", value: String(groups.shareMaxSessionTimeoutMs), type: .int, documentation: "The longest share.session.timeout.ms a group may set."),
            BrokerConfigEntry(name: "group.share.min.heartbeat.interval.ms", value: String(groups.shareMinHeartbeatIntervalMs), type: .int, documentation: "The shortest share.heartbeat.interval.ms a group may set."),
            BrokerConfigEntry(name: "group.share.max.heartbeat.interval.ms", value: String(groups.shareMaxHeartbeatIntervalMs), type: .int, documentation: "The longest share.heartbeat.interval.ms a group may set."),
            BrokerConfigEntry(name: "group.share.max.size", value: String(groups.shareGroupMaxSize), type: .int, documentation: "The most members a share group may have."),
            BrokerConfigEntry(name: "share.coordinator.state.topic.num.partitions", value: String(shareCoordinator.stateTopicPartitionCount), type: .int, documentation: "Partitions of __share_group_state (fixed once it exists)."),
            BrokerConfigEntry(name: "share.coordinator.state.topic.replication.factor", value: String(shareCoordinator.stateTopicReplicationFactor), type: .int, documentation: "Replicas of each __share_group_state partition (at most the brokers there are)."),
            BrokerConfigEntry(name: "share.coordinator.state.topic.segment.bytes", value: String(shareCoordinator.stateTopicSegmentBytes), type: .long, documentation: "segment.bytes of __share_group_state."),
            BrokerConfigEntry(name: "share.coordinator.snapshot.update.records.per.snapshot", value: String(shareCoordinator.updateRecordsPerSnapshot), type: .int, documentation: "After this many updates of one share-partition's state the next is written as a whole snapshot."),
            BrokerConfigEntry(
                name: "group.share.delivery.count.limit", value: String(shareGroups.deliveryCountLimit), type: .int,
                documentation: "Deliveries after which a record released or timed out is archived instead of offered again."),
            BrokerConfigEntry(
                name: BrokerSettings.adminListenKey, value: adminListen.map { "\($0.host):\($0.port)" } ?? "", type: .string,
                documentation: "The admin listener (metrics, health, the /v1/ JSON): HOST:PORT, empty when off. The CLI finds each broker's through this entry."),
            BrokerConfigEntry(
                name: "log.format", value: logFormat.rawValue, type: .string,
                documentation: "text: swift-log's stream lines; json: one JSON object per line (time, level, logger, source, message, metadata)."),
            BrokerConfigEntry(name: "log.dirs", value: dataDirectory, type: .string, documentation: "The data directory."),
            BrokerConfigEntry(
                name: "listeners", value: "PLAINTEXT://\(listenHost):\(listenPort)", type: .list,
                documentation: "The address the broker listens on."),
        ]
        let topicDefaults = logDefaults.properties
        for key in LogConfig.keys {
            entries.append(BrokerConfigEntry(
                name: key.serverDefaultProperty, value: topicDefaults[key.name] ?? key.defaultValue,
                type: ConfigValueType(key.type), documentation: key.documentation))
        }
        return entries.sorted { $0.name < $1.name }
    }
}
