import KafkaProtocol
import NIOCore
import StromStorage
import StromTestSupport
import Testing
@testable import StromBroker

/// The admin APIs frame-in/frame-out: CreatePartitions, DescribeConfigs, AlterConfigs,
/// IncrementalAlterConfigs, DescribeCluster, DeleteRecords and DescribeLogDirs, with the errors
/// a Kafka broker returns.
@Suite struct AdminApiTests {
    let fileSystem = SimulatedFileSystem()
    let client = BrokerTests()

    func startBroker(properties: [String: String] = [:]) async throws -> Broker {
        var configuration = BrokerConfiguration()
        configuration.dataDirectory = "/data"
        try BrokerProperties.apply(properties, to: &configuration)
        return try await Broker.start(configuration: configuration, advertisedHost: "127.0.0.1", advertisedPort: 9092, fileSystem: fileSystem)
    }

    func createTopic(_ broker: Broker, _ name: String, partitions: Int32 = 1, configs: [String: String] = [:]) async throws {
        let response = try #require(try await client.call(broker, CreateTopicsRequest(topics: [
            .init(name: name, numPartitions: partitions, replicationFactor: 1, configs: configs.map { .init(name: $0.key, value: $0.value) }),
        ], timeoutMs: 1_000), version: 7))
        #expect(response.topics[0].errorCode == 0)
    }

    func produce(_ broker: Broker, _ topic: String, partition: Int32 = 0, count: Int) async throws -> Int16 {
        var builder = RecordBatchBuilder()
        for index in 0..<count { builder.append(timestampMs: 1_000, key: nil, value: ByteBuffer(string: "r\(index)")) }
        let response = try #require(try await client.call(broker, ProduceRequest(acks: -1, timeoutMs: 1_000, topicData: [
            .init(name: topic, partitionData: [.init(index: partition, records: try builder.build())]),
        ]), version: 9))
        return response.responses[0].partitionResponses[0].errorCode
    }

    func describe(_ broker: Broker, type: Int8 = 2, _ name: String, keys: [String]? = nil, synonyms: Bool = false, version: Int16 = 4)
        async throws -> DescribeConfigsResponse.DescribeConfigsResult
    {
        let response = try #require(try await client.call(broker, DescribeConfigsRequest(
            resources: [.init(resourceType: type, resourceName: name, configurationKeys: keys)],
            includeSynonyms: synonyms, includeDocumentation: version >= 3), version: version))
        return response.results[0]
    }

    func incrementalAlter(_ broker: Broker, type: Int8 = 2, _ name: String, _ configs: [(String, ConfigOperation, String?)], validateOnly: Bool = false)
        async throws -> Int16
    {
        let response = try #require(try await client.call(broker, IncrementalAlterConfigsRequest(resources: [
            .init(resourceType: type, resourceName: name, configs: configs.map { .init(name: $0.0, configOperation: $0.1.rawValue, value: $0.2) }),
        ], validateOnly: validateOnly), version: 1))
        return response.responses[0].errorCode
    }

    @Test func createPartitionsGrowsTopicsAndRefusesWhatKafkaRefuses() async throws {
        let broker = try await startBroker()
        try await createTopic(broker, "grow")
        let response = try #require(try await client.call(broker, CreatePartitionsRequest(topics: [
            .init(name: "grow", count: 3, assignments: nil),
            .init(name: "missing", count: 2, assignments: nil),
            .init(name: "twice", count: 2, assignments: nil), .init(name: "twice", count: 2, assignments: nil),
        ], timeoutMs: 1_000, validateOnly: false), version: 3))
        #expect(response.results.map(\.errorCode) == [
            0, KafkaErrorCode.unknownTopicOrPartition.rawValue, KafkaErrorCode.invalidRequest.rawValue, KafkaErrorCode.invalidRequest.rawValue,
        ])
        #expect(try await produce(broker, "grow", partition: 2, count: 1) == 0, "a new partition takes records")
        let shrink = try #require(try await client.call(broker, CreatePartitionsRequest(topics: [.init(name: "grow", count: 2, assignments: nil)], timeoutMs: 1_000, validateOnly: false), version: 3))
        #expect(shrink.results[0].errorCode == KafkaErrorCode.invalidPartitions.rawValue)
        let elsewhere = try #require(try await client.call(broker, CreatePartitionsRequest(topics: [
            .init(name: "grow", count: 4, assignments: [.init(brokerIds: [7])]),
        ], timeoutMs: 1_000, validateOnly: false), version: 3))
        #expect(elsewhere.results[0].errorCode == KafkaErrorCode.invalidReplicaAssignment.rawValue)
        let dry = try #require(try await client.call(broker, CreatePartitionsRequest(topics: [.init(name: "grow", count: 9, assignments: nil)], timeoutMs: 1_000, validateOnly: true), version: 3))
        #expect(dry.results[0].errorCode == 0)
        let metadata = try #require(try await client.call(broker, MetadataRequest(topics: [.init(name: "grow")], allowAutoTopicCreation: false), version: 12))
        #expect(metadata.topics[0].partitions.count == 3, "validate-only changed nothing")
        try await broker.shutdown()
    }

    @Test func aTopicWhoseLogsCannotOpenIsNotCreated() async throws {
        let broker = try await startBroker()
        fileSystem.failOpens(under: "/data/doomed-2")
        let refused = try #require(try await client.call(broker, CreateTopicsRequest(topics: [
            .init(name: "doomed", numPartitions: 3, replicationFactor: 1),
        ], timeoutMs: 1_000), version: 7))
        #expect(refused.topics[0].errorCode == KafkaErrorCode.unknownServerError.rawValue)
        let metadata = try #require(try await client.call(broker, MetadataRequest(topics: nil, allowAutoTopicCreation: false), version: 12))
        #expect(metadata.topics.isEmpty, "the half-created topic was taken back")
        #expect(!fileSystem.exists("/data/doomed-0"), "and its logs removed")
        fileSystem.clearFaults()
        try await createTopic(broker, "doomed", partitions: 3)
        #expect(try await produce(broker, "doomed", partition: 2, count: 1) == 0)
        try await broker.shutdown()
    }

    @Test func describeConfigsReportsValuesSourcesAndSynonyms() async throws {
        let broker = try await startBroker(properties: ["log.retention.ms": "3600000"])
        try await createTopic(broker, "described", configs: ["cleanup.policy": "compact"])
        let topic = try await describe(broker, "described", synonyms: true)
        #expect(topic.errorCode == 0)
        let byName = Dictionary(uniqueKeysWithValues: topic.configs.map { ($0.name, $0) })
        #expect(byName.count == LogConfig.keys.count)
        let policy = try #require(byName["cleanup.policy"])
        #expect(policy.value == "compact" && policy.configSource == ConfigSource.topicConfig.rawValue)
        #expect(policy.synonyms.map(\.name) == ["cleanup.policy", "log.cleanup.policy"])
        #expect(policy.configType == ConfigValueType.list.rawValue && policy.documentation?.isEmpty == false)
        let retention = try #require(byName["retention.ms"])
        #expect(retention.value == "3600000" && retention.configSource == ConfigSource.staticBrokerConfig.rawValue)
        #expect(retention.synonyms.map(\.source) == [ConfigSource.staticBrokerConfig.rawValue, ConfigSource.defaultConfig.rawValue])
        let segment = try #require(byName["segment.bytes"])
        #expect(segment.value == "1073741824" && segment.configSource == ConfigSource.defaultConfig.rawValue)

        let filtered = try await describe(broker, "described", keys: ["retention.ms"])
        #expect(filtered.configs.map(\.name) == ["retention.ms"] && filtered.configs[0].synonyms.isEmpty)
        let old = try await describe(broker, "described", keys: ["cleanup.policy", "segment.bytes"], version: 0)
        #expect(old.configs.map(\.isDefault) == [false, true])
        #expect(try await describe(broker, "missing").errorCode == KafkaErrorCode.unknownTopicOrPartition.rawValue)

        let brokerConfigs = try await describe(broker, type: 4, "0")
        let brokerByName = Dictionary(uniqueKeysWithValues: brokerConfigs.configs.map { ($0.name, $0) })
        #expect(brokerByName["log.retention.ms"]?.value == "3600000")
        #expect(brokerByName["log.retention.ms"]?.configSource == ConfigSource.staticBrokerConfig.rawValue)
        #expect(brokerByName["num.partitions"]?.value == "1" && brokerByName["num.partitions"]?.configSource == ConfigSource.defaultConfig.rawValue)
        #expect(brokerByName["message.max.bytes"]?.value == "1048588")
        #expect(try await describe(broker, type: 4, "5").errorCode == KafkaErrorCode.invalidRequest.rawValue)
        #expect(try await describe(broker, type: 4, "").configs.isEmpty, "no cluster-wide dynamic defaults")
        try await broker.shutdown()
    }

    @Test func incrementalAlterConfigsSetsDeletesAppendsAndValidates() async throws {
        let broker = try await startBroker()
        try await createTopic(broker, "altered", configs: ["retention.ms": "1000"])
        #expect(try await incrementalAlter(broker, "altered", [
            ("retention.ms", .delete, nil), ("segment.bytes", .set, "1048576"), ("cleanup.policy", .append, "compact"),
        ]) == 0)
        let byName = Dictionary(uniqueKeysWithValues: try await describe(broker, "altered").configs.map { ($0.name, $0) })
        #expect(byName["retention.ms"]?.configSource == ConfigSource.defaultConfig.rawValue)
        #expect(byName["segment.bytes"]?.value == "1048576")
        #expect(byName["cleanup.policy"]?.value == "delete,compact")
        let log = try #require(broker.partitions.log(topic: "altered", partition: 0))
        #expect(log.config.segmentSizeBytes == 1_048_576 && log.config.isCompacted, "the log runs with the new config")

        #expect(try await incrementalAlter(broker, "altered", [("cleanup.policy", .subtract, "delete")]) == 0)
        #expect(log.config.cleanupPolicy == .compact)
        let invalid = KafkaErrorCode.invalidConfig.rawValue
        #expect(try await incrementalAlter(broker, "altered", [("retention.ms", .append, "5")]) == invalid)
        #expect(try await incrementalAlter(broker, "altered", [("retention.ms", .set, "soon")]) == invalid)
        #expect(try await incrementalAlter(broker, "altered", [("no.such.key", .set, "1")]) == invalid)
        #expect(try await incrementalAlter(broker, "altered", [("retention.ms", .set, "1"), ("retention.ms", .delete, nil)]) == KafkaErrorCode.invalidRequest.rawValue)
        #expect(try await incrementalAlter(broker, "altered", [("retention.ms", .set, nil)]) == KafkaErrorCode.invalidRequest.rawValue)
        #expect(try await incrementalAlter(broker, "missing", [("retention.ms", .set, "1")]) == KafkaErrorCode.unknownTopicOrPartition.rawValue)
        #expect(try await incrementalAlter(broker, "altered", [("retention.ms", .set, "42")], validateOnly: true) == 0)
        let after = try await describe(broker, "altered", keys: ["retention.ms"])
        #expect(after.configs[0].configSource == ConfigSource.defaultConfig.rawValue, "validate-only changed nothing")
        try await broker.shutdown()
    }

    @Test func dynamicBrokerConfigsChangeTopicDefaultsAndSurviveARestart() async throws {
        var broker = try await startBroker(properties: ["log.retention.ms": "3600000"])
        try await createTopic(broker, "plain")
        try await createTopic(broker, "own", configs: ["retention.ms": "5000"])
        #expect(try await incrementalAlter(broker, type: 4, "", [("log.retention.ms", .set, "1000")]) == 0)
        var retention = try await describe(broker, "plain", keys: ["retention.ms"], synonyms: true).configs[0]
        #expect(retention.value == "1000" && retention.configSource == ConfigSource.dynamicDefaultBrokerConfig.rawValue)
        #expect(retention.synonyms.map(\.source) == [3, 4, 5], "dynamic default, static, Kafka's default")
        #expect(try #require(broker.partitions.log(topic: "plain", partition: 0)).config.retentionMs == 1000)
        #expect(try #require(broker.partitions.log(topic: "own", partition: 0)).config.retentionMs == 5000, "a topic override still wins")

        #expect(try await incrementalAlter(broker, type: 4, "0", [("log.retention.ms", .set, "2000")]) == 0)
        retention = try await describe(broker, "plain", keys: ["retention.ms"]).configs[0]
        #expect(retention.value == "2000" && retention.configSource == ConfigSource.dynamicBrokerConfig.rawValue)
        let clusterDefaults = try await describe(broker, type: 4, "").configs
        #expect(clusterDefaults.map(\.name) == ["log.retention.ms"] && clusterDefaults[0].value == "1000")
        let onBroker = try await describe(broker, type: 4, "0", keys: ["log.retention.ms", "num.partitions"]).configs
        #expect(onBroker.map(\.readOnly) == [false, true])

        #expect(try await incrementalAlter(broker, type: 4, "0", [("num.partitions", .set, "3")]) == KafkaErrorCode.invalidRequest.rawValue)
        #expect(try await incrementalAlter(broker, type: 4, "0", [("log.retention.ms", .set, "soon")]) == KafkaErrorCode.invalidConfig.rawValue)
        #expect(try await incrementalAlter(broker, type: 4, "5", [("log.retention.ms", .set, "1")]) == KafkaErrorCode.invalidRequest.rawValue)
        #expect(try await incrementalAlter(broker, type: 4, "", [("log.cleanup.policy", .append, "compact")]) == 0)
        #expect(try #require(broker.partitions.log(topic: "plain", partition: 0)).config.cleanupPolicy == [.delete, .compact])

        #expect(try await incrementalAlter(broker, type: 4, "", [("message.max.bytes", .set, "100")]) == 0)
        #expect(try await produce(broker, "plain", count: 20) == KafkaErrorCode.messageTooLarge.rawValue, "the new default limit applies at once")

        try await broker.shutdown()
        broker = try await startBroker(properties: ["log.retention.ms": "3600000"])
        #expect(try #require(broker.partitions.log(topic: "plain", partition: 0)).config.retentionMs == 2000, "dynamic configs are kept")
        #expect(try await incrementalAlter(broker, type: 4, "0", [("log.retention.ms", .delete, nil)]) == 0)
        #expect(try #require(broker.partitions.log(topic: "plain", partition: 0)).config.retentionMs == 1000)
        try await broker.shutdown()
    }

    @Test func alterConfigsReplacesEveryOverride() async throws {
        let broker = try await startBroker()
        try await createTopic(broker, "replaced", configs: ["retention.ms": "1000", "segment.bytes": "1048576"])
        let response = try #require(try await client.call(broker, AlterConfigsRequest(resources: [
            .init(resourceType: 2, resourceName: "replaced", configs: [.init(name: "retention.ms", value: "2000")]),
        ], validateOnly: false), version: 2))
        #expect(response.responses[0].errorCode == 0)
        let overrides = try await describe(broker, "replaced").configs.filter { $0.configSource == ConfigSource.topicConfig.rawValue }
        #expect(overrides.map(\.name) == ["retention.ms"] && overrides[0].value == "2000")
        let nullValue = try #require(try await client.call(broker, AlterConfigsRequest(resources: [
            .init(resourceType: 2, resourceName: "replaced", configs: [.init(name: "retention.ms", value: nil)]),
        ], validateOnly: false), version: 2))
        #expect(nullValue.responses[0].errorCode == KafkaErrorCode.invalidRequest.rawValue)
        try await broker.shutdown()
    }

    @Test func describeClusterListsTheBroker() async throws {
        let broker = try await startBroker()
        let response = try #require(try await client.call(broker, DescribeClusterRequest(includeClusterAuthorizedOperations: true), version: 1))
        #expect(response.errorCode == 0 && !response.clusterId.isEmpty && response.controllerId == 0)
        #expect(response.brokers.map(\.port) == [9092] && response.brokers.map(\.host) == ["127.0.0.1"])
        #expect(response.clusterAuthorizedOperations & (1 << 8) != 0, "DESCRIBE is allowed")
        let controllers = try #require(try await client.call(broker, DescribeClusterRequest(endpointType: 2), version: 1))
        #expect(controllers.errorCode == KafkaErrorCode.unsupportedEndpointType.rawValue)
        try await broker.shutdown()
    }

    @Test func deleteRecordsMovesTheStartOffsetDurably() async throws {
        var broker = try await startBroker()
        try await createTopic(broker, "trimmed", partitions: 2)
        #expect(try await produce(broker, "trimmed", count: 10) == 0)
        let response = try #require(try await client.call(broker, DeleteRecordsRequest(topics: [
            .init(name: "trimmed", partitions: [.init(partitionIndex: 0, offset: 5), .init(partitionIndex: 1, offset: 3), .init(partitionIndex: 7, offset: 0)]),
        ], timeoutMs: 1_000), version: 2))
        let results = response.topics[0].partitions
        #expect(results.map(\.errorCode) == [0, KafkaErrorCode.offsetOutOfRange.rawValue, KafkaErrorCode.unknownTopicOrPartition.rawValue])
        #expect(results[0].lowWatermark == 5)
        let fetched = try #require(try await client.call(broker, FetchRequest(maxWaitMs: 0, minBytes: 1, topics: [
            .init(topic: "trimmed", partitions: [.init(partition: 0, fetchOffset: 2, partitionMaxBytes: 1 << 20)]),
        ]), version: 12))
        #expect(fetched.responses[0].partitions[0].errorCode == KafkaErrorCode.offsetOutOfRange.rawValue)
        #expect(fetched.responses[0].partitions[0].logStartOffset == 5)

        // A crash right after the answer must not bring the deleted records back.
        fileSystem.crash(seed: 7)
        broker = try await startBroker()
        #expect(try await earliestOffset(broker, "trimmed") == 5)
        let toEnd = try #require(try await client.call(broker, DeleteRecordsRequest(topics: [
            .init(name: "trimmed", partitions: [.init(partitionIndex: 0, offset: -1)]),
        ], timeoutMs: 1_000), version: 2))
        #expect(toEnd.topics[0].partitions[0].lowWatermark == 10, "-1 means the high watermark")
        #expect(try await earliestOffset(broker, "trimmed") == 10)
        try await broker.shutdown()
    }

    func earliestOffset(_ broker: Broker, _ topic: String) async throws -> Int64 {
        let response = try #require(try await client.call(broker, ListOffsetsRequest(replicaId: -1, topics: [
            .init(name: topic, partitions: [.init(partitionIndex: 0, timestamp: -2)]),
        ]), version: 7))
        return response.topics[0].partitions[0].offset
    }

    @Test func describeLogDirsReportsPartitionSizes() async throws {
        let broker = try await startBroker()
        try await createTopic(broker, "sized", partitions: 2)
        try await createTopic(broker, "other")
        #expect(try await produce(broker, "sized", count: 10) == 0)
        let all = try #require(try await client.call(broker, DescribeLogDirsRequest(topics: nil), version: 4))
        #expect(all.results.count == 1 && all.results[0].logDir.hasSuffix("/data"))
        #expect(Set(all.results[0].topics.map(\.name)) == ["sized", "other"])
        let some = try #require(try await client.call(broker, DescribeLogDirsRequest(topics: [.init(topic: "sized", partitions: [0, 1, 9])]), version: 4))
        let partitions = try #require(some.results[0].topics.first?.partitions)
        #expect(partitions.map(\.partitionIndex) == [0, 1], "partitions that do not exist are left out")
        #expect(partitions[0].partitionSize > 0 && partitions[1].partitionSize == 0)
        try await broker.shutdown()
    }
}
