import Foundation
import StromStorage

/// The broker settings Strom has, under Kafka's `server.properties` names, applied to a
/// ``BrokerConfiguration`` with their types checked; unknown keys are refused so typos do not pass
/// silently. Where the values come from (flags, environment, file) is ``BrokerSettings``' job.
public enum BrokerProperties {
    public struct InvalidProperty: Error, CustomStringConvertible {
        public var key: String
        public var reason: String
        public var description: String { "\(key): \(reason)" }
    }

    /// Broker keys whose topic-level twin (`log.retention.ms` → `retention.ms`) sets a log default:
    /// Kafka's synonyms, from the topic config table.
    static let logDefaultKeys: [String: String] = Dictionary(
        uniqueKeysWithValues: LogConfig.keys.map { ($0.serverDefaultProperty, $0.name) })

    /// The broker's own keys; every key of ``logDefaultKeys`` is accepted too.
    static let brokerKeys: [String] = [
        "node.id", "broker.id", "num.partitions", "default.replication.factor", "auto.create.topics.enable",
        "socket.request.max.bytes", "log.dirs", "log.dir", "advertised.host.name", "advertised.port", "produce.batch.validation",
        "max.connections", "max.connections.per.ip", "connections.max.idle.ms", "log.files.open.max",
        "produce.batch.max.records", "produce.batch.max.decompressed.bytes", "request.max.partitions", "fetch.max.bytes",
        "offsets.topic.num.partitions", "offsets.topic.replication.factor", "offsets.topic.segment.bytes", "offsets.retention.minutes",
        "offsets.retention.check.interval.ms", "offset.metadata.max.bytes", "group.initial.rebalance.delay.ms",
        "group.min.session.timeout.ms", "group.max.session.timeout.ms", "group.max.size",
        "group.consumer.session.timeout.ms", "group.consumer.heartbeat.interval.ms",
        "etcd.endpoints", "etcd.prefix", "broker.rack", "broker.session.timeout.ms", "replica.lag.time.max.ms",
        "replica.fetch.wait.max.ms", "replica.fetch.max.bytes", "replica.fetch.response.max.bytes",
        "controlled.shutdown.max.wait.ms", "advertised.listeners",
        "group.share.record.lock.duration.ms", "group.share.min.record.lock.duration.ms", "group.share.max.record.lock.duration.ms",
        "group.share.delivery.count.limit", "group.share.partition.max.record.locks", "group.share.max.share.sessions",
        "group.share.session.timeout.ms", "group.share.heartbeat.interval.ms", "group.share.min.session.timeout.ms",
        "group.share.max.session.timeout.ms", "group.share.min.heartbeat.interval.ms", "group.share.max.heartbeat.interval.ms",
        "group.share.max.size", "share.coordinator.state.topic.num.partitions", "share.coordinator.state.topic.replication.factor",
        "share.coordinator.state.topic.segment.bytes", "share.coordinator.snapshot.update.records.per.snapshot",
        "transaction.state.log.num.partitions", "transaction.state.log.replication.factor", "transaction.state.log.min.isr",
        "transaction.state.log.segment.bytes", "transaction.max.timeout.ms", "transaction.abort.timed.out.transaction.cleanup.interval.ms",
        "transaction.remove.expired.transaction.cleanup.interval.ms", "transactional.id.expiration.ms",
        "log.format", BrokerSettings.adminListenKey, BrokerSettings.alertsFileKey, BrokerSettings.consolePasswordHashKey,
        BrokerSettings.consoleReadOnlyPasswordHashKey,
    ]

    /// Every key ``apply(_:to:)`` accepts.
    public static var knownKeys: [String] { brokerKeys + logDefaultKeys.keys.sorted() }

    public static func apply(_ properties: [String: String], to configuration: inout BrokerConfiguration) throws {
        var logProperties: [String: String] = [:]
        var clusterProperties: [String: String] = [:]
        configuration.staticProperties.merge(properties) { _, new in new }
        for (key, value) in properties.sorted(by: { $0.key < $1.key }) {
            func integer<T: FixedWidthInteger>(_: T.Type) throws -> T {
                guard let parsed = T(value) else { throw InvalidProperty(key: key, reason: "not an integer: \(value)") }
                return parsed
            }
            switch key {
            case "node.id", "broker.id": configuration.nodeId = try integer(Int32.self)
            case "num.partitions": configuration.defaultPartitionCount = try integer(Int32.self)
            case "default.replication.factor": configuration.defaultReplicationFactor = try integer(Int16.self)
            case "auto.create.topics.enable":
                guard let flag = Bool(value.lowercased()) else { throw InvalidProperty(key: key, reason: "not true or false: \(value)") }
                configuration.autoCreateTopicsEnable = flag
            case "socket.request.max.bytes": configuration.requestSizeBytesMax = try integer(Int.self)
            case "max.connections": configuration.connectionsMax = max(1, try integer(Int.self))
            case "max.connections.per.ip": configuration.connectionsPerAddressMax = max(1, try integer(Int.self))
            case "connections.max.idle.ms": configuration.connectionIdleTimeMaxMs = max(1, try integer(Int64.self))
            case "produce.batch.max.records": configuration.batchRecordsMax = max(1, try integer(Int.self))
            case "produce.batch.max.decompressed.bytes": configuration.decompressedBatchSizeBytesMax = max(1_024, try integer(Int.self))
            case "request.max.partitions": configuration.requestPartitionsMax = max(1, try integer(Int.self))
            case "fetch.max.bytes": configuration.fetchResponseBytesMax = max(1_024, try integer(Int.self))
            case "log.files.open.max": configuration.logFilesOpenMax = max(1, try integer(Int.self))
            case "log.dirs", "log.dir": configuration.dataDirectory = value
            case "advertised.host.name": configuration.advertisedHost = value
            case "advertised.port": configuration.advertisedPort = try integer(Int.self)
            case "advertised.listeners":
                // Kafka's form, one listener: PLAINTEXT://host:port (the scheme may be left out).
                let address = value.split(separator: ",").first.map { $0.split(separator: "/").last.map(String.init) ?? "" } ?? ""
                guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]) else {
                    throw InvalidProperty(key: key, reason: "not [PLAINTEXT://]HOST:PORT: \(value)")
                }
                configuration.advertisedHost = String(address[..<colon])
                configuration.advertisedPort = port
            case "broker.rack": configuration.rack = value.isEmpty ? nil : value
            case "etcd.endpoints":
                let endpoints = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                if endpoints.isEmpty {
                    configuration.cluster = nil
                } else {
                    configuration.cluster = configuration.cluster ?? ClusterSettings(etcdEndpoints: endpoints)
                    configuration.cluster?.etcdEndpoints = endpoints
                }
            case "etcd.prefix", "broker.session.timeout.ms", "replica.lag.time.max.ms", "replica.fetch.wait.max.ms",
                 "replica.fetch.max.bytes", "replica.fetch.response.max.bytes", "controlled.shutdown.max.wait.ms":
                clusterProperties[key] = value
            case "offsets.topic.num.partitions":
                configuration.groups.offsetsTopicPartitionCount = try integer(Int32.self)
                guard configuration.groups.offsetsTopicPartitionCount > 0 else { throw InvalidProperty(key: key, reason: "must be at least 1") }
            case "offsets.topic.replication.factor": configuration.groups.offsetsTopicReplicationFactor = max(1, try integer(Int16.self))
            case "offsets.topic.segment.bytes": configuration.groups.offsetsTopicSegmentBytes = try integer(Int64.self)
            case "offsets.retention.minutes": configuration.groups.offsetsRetentionMs = try integer(Int64.self) * 60_000
            case "offsets.retention.check.interval.ms": configuration.groups.offsetsRetentionCheckIntervalMs = max(1, try integer(Int64.self))
            case "offset.metadata.max.bytes": configuration.groups.offsetMetadataMaxBytes = try integer(Int.self)
            case "group.initial.rebalance.delay.ms": configuration.groups.initialRebalanceDelayMs = max(0, try integer(Int64.self))
            case "group.min.session.timeout.ms": configuration.groups.minSessionTimeoutMs = try integer(Int32.self)
            case "group.max.session.timeout.ms": configuration.groups.maxSessionTimeoutMs = try integer(Int32.self)
            case "group.consumer.session.timeout.ms": configuration.groups.consumerSessionTimeoutMs = max(1, try integer(Int32.self))
            case "group.consumer.heartbeat.interval.ms": configuration.groups.consumerHeartbeatIntervalMs = max(1, try integer(Int32.self))
            case "group.max.size": configuration.groups.maxGroupSize = max(1, try integer(Int.self))
            case "group.share.record.lock.duration.ms": configuration.shareGroups.recordLockDurationMs = max(1, try integer(Int32.self))
            case "group.share.min.record.lock.duration.ms": configuration.shareGroups.minRecordLockDurationMs = max(1, try integer(Int32.self))
            case "group.share.max.record.lock.duration.ms": configuration.shareGroups.maxRecordLockDurationMs = max(1, try integer(Int32.self))
            case "group.share.partition.max.record.locks": configuration.shareGroups.partitionMaxRecordLocks = max(1, try integer(Int.self))
            case "group.share.max.share.sessions": configuration.shareGroups.maxShareSessions = max(1, try integer(Int.self))
            case "group.share.session.timeout.ms": configuration.groups.shareSessionTimeoutMs = max(1, try integer(Int32.self))
            case "group.share.heartbeat.interval.ms": configuration.groups.shareHeartbeatIntervalMs = max(1, try integer(Int32.self))
            case "group.share.min.session.timeout.ms": configuration.groups.shareMinSessionTimeoutMs = max(1, try integer(Int32.self))
            case "group.share.max.session.timeout.ms": configuration.groups.shareMaxSessionTimeoutMs = max(1, try integer(Int32.self))
            case "group.share.min.heartbeat.interval.ms": configuration.groups.shareMinHeartbeatIntervalMs = max(1, try integer(Int32.self))
            case "group.share.max.heartbeat.interval.ms": configuration.groups.shareMaxHeartbeatIntervalMs = max(1, try integer(Int32.self))
            case "group.share.max.size": configuration.groups.shareGroupMaxSize = max(1, try integer(Int.self))
            case "share.coordinator.state.topic.num.partitions": configuration.shareCoordinator.stateTopicPartitionCount = max(1, try integer(Int32.self))
            case "share.coordinator.state.topic.replication.factor": configuration.shareCoordinator.stateTopicReplicationFactor = max(1, try integer(Int16.self))
            case "share.coordinator.state.topic.segment.bytes": configuration.shareCoordinator.stateTopicSegmentBytes = max(1, try integer(Int64.self))
            case "share.coordinator.snapshot.update.records.per.snapshot": configuration.shareCoordinator.updateRecordsPerSnapshot = max(1, try integer(Int.self))
            case "transaction.state.log.num.partitions": configuration.transactions.stateTopicPartitionCount = max(1, try integer(Int32.self))
            case "transaction.state.log.replication.factor": configuration.transactions.stateTopicReplicationFactor = max(1, try integer(Int16.self))
            case "transaction.state.log.min.isr": configuration.transactions.stateTopicMinInSyncReplicas = max(1, try integer(Int16.self))
            case "transaction.state.log.segment.bytes": configuration.transactions.stateTopicSegmentBytes = max(1, try integer(Int64.self))
            case "transaction.max.timeout.ms": configuration.transactions.maxTimeoutMs = max(1, try integer(Int32.self))
            case "transaction.abort.timed.out.transaction.cleanup.interval.ms": configuration.transactions.abortTimedOutIntervalMs = max(1, try integer(Int64.self))
            case "transaction.remove.expired.transaction.cleanup.interval.ms": configuration.transactions.removeExpiredIntervalMs = max(1, try integer(Int64.self))
            case "transactional.id.expiration.ms": configuration.transactions.transactionalIdExpirationMs = max(1, try integer(Int64.self))
            case "group.share.delivery.count.limit":
                let limit = try integer(Int16.self)
                guard (2...10).contains(limit) else { throw InvalidProperty(key: key, reason: "must be between 2 and 10") }
                configuration.shareGroups.deliveryCountLimit = limit
            case "log.format":
                guard let format = LogFormat(rawValue: value.lowercased()) else {
                    throw InvalidProperty(key: key, reason: "not text or json: \(value)")
                }
                configuration.logFormat = format
            case BrokerSettings.adminListenKey, BrokerSettings.alertsFileKey, BrokerSettings.consolePasswordHashKey,
                 BrokerSettings.consoleReadOnlyPasswordHashKey:
                continue  // BrokerSettings reads them: they are Strom's, not Kafka's, and not log defaults.
            case "produce.batch.validation":
                guard let mode = ProduceValidation(rawValue: value.lowercased()) else {
                    throw InvalidProperty(key: key, reason: "not strict or relaxed: \(value)")
                }
                configuration.produceValidation = mode
            default:
                guard let topicKey = logDefaultKeys[key] else { throw InvalidProperty(key: key, reason: "unknown or not supported yet") }
                logProperties[topicKey] = value
            }
        }
        // Replication settings mean something only in a cluster; alone they are accepted and unused.
        for (key, value) in clusterProperties where configuration.cluster != nil {
            func integer<T: FixedWidthInteger>(_: T.Type) throws -> T {
                guard let parsed = T(value), parsed > 0 else { throw InvalidProperty(key: key, reason: "not a positive integer: \(value)") }
                return parsed
            }
            switch key {
            case "etcd.prefix":
                guard value.hasPrefix("/") else { throw InvalidProperty(key: key, reason: "must start with /: \(value)") }
                configuration.cluster?.etcdPrefix = value
            case "broker.session.timeout.ms": configuration.cluster?.sessionTimeoutMs = try integer(Int64.self)
            case "replica.lag.time.max.ms": configuration.cluster?.replicaLagTimeMaxMs = try integer(Int64.self)
            case "replica.fetch.wait.max.ms": configuration.cluster?.replicaFetchWaitMaxMs = try integer(Int32.self)
            case "replica.fetch.max.bytes": configuration.cluster?.replicaFetchMaxBytes = try integer(Int32.self)
            case "replica.fetch.response.max.bytes": configuration.cluster?.replicaFetchResponseMaxBytes = try integer(Int32.self)
            case "controlled.shutdown.max.wait.ms": configuration.cluster?.controlledShutdownWaitMaxMs = try integer(Int64.self)
            default: continue
            }
        }
        if !logProperties.isEmpty {
            do {
                configuration.logDefaults = try LogConfig(properties: logProperties, defaults: configuration.logDefaults)
            } catch {
                throw InvalidProperty(key: "log.*", reason: "\(error)")
            }
        }
    }
}
