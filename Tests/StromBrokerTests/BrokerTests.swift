import KafkaProtocol
import NIOCore
import StromStorage
import StromTestSupport
import Testing
@testable import StromBroker

/// The broker end to end without a network: request frames in, response frames out.
@Suite struct BrokerTests {
    let fileSystem = SimulatedFileSystem()

    func startBroker() async throws -> Broker {
        var configuration = BrokerConfiguration()
        configuration.dataDirectory = "/data"
        configuration.defaultPartitionCount = 3
        return try await Broker.start(configuration: configuration, advertisedHost: "127.0.0.1", advertisedPort: 9092, fileSystem: fileSystem)
    }

    func call<Request: KafkaRequestMessage>(_ broker: Broker, _ request: Request, version: Int16) async throws -> Request.Response? {
        var frame = ByteBuffer()
        try KafkaRequestFrame.encode(request, version: version, correlationId: 42, clientId: "test", into: &frame)
        let decoded = try KafkaRequestFrame.decode(frame.getSlice(at: 4, length: frame.readableBytes - 4)!)
        guard case .response(let response) = await broker.handle(decoded) else { return nil }
        let (header, body) = try KafkaResponseFrame.decode(Request.Response.self, version: version, from: response.getSlice(at: 4, length: response.readableBytes - 4)!)
        #expect(header.correlationId == 42)
        return body
    }

    @Test func apiVersionsAdvertisesWhatIsServed() async throws {
        let broker = try await startBroker()
        let response = try #require(try await call(broker, ApiVersionsRequest(), version: 3))
        let produce = try #require(response.apiKeys.first { $0.apiKey == ApiKey.produce.rawValue })
        #expect(produce.minVersion == 0 && produce.maxVersion == 11)
        let fetch = try #require(response.apiKeys.first { $0.apiKey == ApiKey.fetch.rawValue })
        #expect(fetch.minVersion == 4, "message formats 0 and 1 are not served (KIP-896)")
        try await broker.shutdown()
    }

    /// ApiVersions names exactly the APIs that have a handler: one request of every API the
    /// protocol defines (every field at its default, at the lowest version advertised or else
    /// defined) is framed, decoded and handed to its handler past the advertised-range check.
    @Test func apiVersionsAdvertisesExactlyTheApisWithAHandler() async throws {
        let broker = try await startBroker()
        let advertised = try #require(try await call(broker, ApiVersionsRequest(), version: 3)).apiKeys
        var handled: [ApiKey] = []
        for apiKey in ApiKey.allCases {
            let version = SupportedApis.versions[apiKey]?.lowerBound ?? apiKey.validVersions.lowerBound
            var frame = ByteBuffer()
            try KafkaRequestFrame.encode(
                KafkaRequestBody(defaultsFor: apiKey).message, version: version, correlationId: 7, clientId: "test", into: &frame)
            let request = try KafkaRequestFrame.decode(frame.getSlice(at: 4, length: frame.readableBytes - 4)!)
            if await broker.dispatch(request, sendsFiles: false, clientHost: "/127.0.0.1", connectionId: 1, orderedPhaseDone: {}) != nil {
                handled.append(apiKey)
            }
        }
        #expect(advertised.map(\.apiKey) == handled.map(\.rawValue).sorted())
        #expect(handled.count >= 50 && handled.contains(.fetch) && handled.contains(.shareFetch) && !handled.contains(.createAcls))
        try await broker.shutdown()
    }

    @Test func produceBeforeMessageFormatTwoClosesTheConnection() async throws {
        // Advertised from v0 for librdkafka's codec detection, answered from v3, as Kafka 4.
        let broker = try await startBroker()
        var builder = RecordBatchBuilder()
        builder.append(timestampMs: 5, key: nil, value: ByteBuffer(string: "v"))
        let request = ProduceRequest(acks: 1, timeoutMs: 1_000, topicData: [.init(name: "t", partitionData: [.init(index: 0, records: try builder.build())])])
        for version: Int16 in 0...2 {
            var frame = ByteBuffer()
            try KafkaRequestFrame.encode(request, version: version, correlationId: 42, clientId: "test", into: &frame)
            let decoded = try KafkaRequestFrame.decode(frame.getSlice(at: 4, length: frame.readableBytes - 4)!)
            guard case .close = await broker.handle(decoded) else {
                Issue.record("Produce v\(version) was answered")
                continue
            }
        }
        #expect(try await call(broker, request, version: 3) != nil)
        try await broker.shutdown()
    }

    @Test func createDescribeAndRejectTopics() async throws {
        let broker = try await startBroker()
        let created = try #require(try await call(broker, CreateTopicsRequest(topics: [
            .init(name: "orders", numPartitions: 2, replicationFactor: 1, configs: [.init(name: "retention.ms", value: "60000")]),
            .init(name: "bad name!", numPartitions: 1, replicationFactor: 1),
            .init(name: "too-many-replicas", numPartitions: 1, replicationFactor: 3),
            .init(name: "bad-config", numPartitions: 1, replicationFactor: 1, configs: [.init(name: "retention.ms", value: "soon")]),
        ], timeoutMs: 1_000), version: 7))
        #expect(created.topics.map(\.errorCode) == [0, KafkaErrorCode.invalidTopicException.rawValue,
                                                    KafkaErrorCode.invalidReplicationFactor.rawValue, KafkaErrorCode.invalidConfig.rawValue])
        #expect(created.topics[0].topicId != .zero && created.topics[0].numPartitions == 2)
        let again = try #require(try await call(broker, CreateTopicsRequest(topics: [.init(name: "orders", numPartitions: 1, replicationFactor: 1)], timeoutMs: 1_000), version: 7))
        #expect(again.topics[0].errorCode == KafkaErrorCode.topicAlreadyExists.rawValue)
        let validated = try #require(try await call(broker, CreateTopicsRequest(topics: [.init(name: "dry", numPartitions: 1, replicationFactor: 1)], timeoutMs: 1_000, validateOnly: true), version: 7))
        #expect(validated.topics[0].errorCode == 0)

        let metadata = try #require(try await call(broker, MetadataRequest(topics: nil, allowAutoTopicCreation: false), version: 12))
        #expect(metadata.topics.map(\.name) == ["orders"], "validate-only created nothing")
        #expect(metadata.topics[0].partitions.map(\.partitionIndex) == [0, 1])
        #expect(metadata.topics[0].partitions.allSatisfy { $0.leaderId == 0 && $0.isrNodes == [0] })
        #expect(metadata.brokers.map(\.port) == [9092] && metadata.clusterId?.isEmpty == false)
        try await broker.shutdown()
    }

    @Test func deleteTopicsByNameAndById() async throws {
        let broker = try await startBroker()
        let created = try #require(try await call(broker, CreateTopicsRequest(topics: [
            .init(name: "a", numPartitions: 2, replicationFactor: 1), .init(name: "b", numPartitions: 1, replicationFactor: 1),
        ], timeoutMs: 1_000), version: 7))
        let idOfB = created.topics[1].topicId
        let byName = try #require(try await call(broker, DeleteTopicsRequest(topicNames: ["a", "missing"], timeoutMs: 1_000), version: 4))
        #expect(byName.responses.map(\.errorCode) == [0, KafkaErrorCode.unknownTopicOrPartition.rawValue])
        let byId = try #require(try await call(broker, DeleteTopicsRequest(topics: [.init(name: nil, topicId: idOfB)], timeoutMs: 1_000), version: 6))
        #expect(byId.responses.map(\.errorCode) == [0] && byId.responses[0].name == "b")
        let metadata = try #require(try await call(broker, MetadataRequest(topics: nil, allowAutoTopicCreation: false), version: 12))
        #expect(metadata.topics.isEmpty)
        #expect(!fileSystem.exists("/data/a-0") && !fileSystem.exists("/data/b-0"), "logs removed from disk")
        try await broker.shutdown()
    }

    @Test func metadataAutoCreatesOnlyWhenAllowed() async throws {
        let broker = try await startBroker()
        let refused = try #require(try await call(broker, MetadataRequest(topics: [.init(name: "events")], allowAutoTopicCreation: false), version: 12))
        #expect(refused.topics[0].errorCode == KafkaErrorCode.unknownTopicOrPartition.rawValue)
        let created = try #require(try await call(broker, MetadataRequest(topics: [.init(name: "events")], allowAutoTopicCreation: true), version: 12))
        #expect(created.topics[0].errorCode == 0 && created.topics[0].partitions.count == 3)
        try await broker.shutdown()
    }

    @Test func metadataV0ListsEveryTopicForAnEmptyListAndCreatesNamedOnes() async throws {
        // Old clients still send v0, where the topic list is not nullable: empty means every topic.
        let broker = try await startBroker()
        _ = try #require(try await call(broker, CreateTopicsRequest(topics: [.init(name: "a", numPartitions: 1, replicationFactor: 1)], timeoutMs: 1_000), version: 7))
        let all = try #require(try await call(broker, MetadataRequest(topics: []), version: 0))
        #expect(all.topics.map(\.name) == ["a"])
        #expect(all.brokers.map(\.nodeId) == [0] && all.brokers[0].port == 9092)
        let named = try #require(try await call(broker, MetadataRequest(topics: [.init(name: "b")]), version: 0))
        #expect(named.topics.map(\.errorCode) == [0], "v0 always allowed auto-creation")
        #expect(named.topics[0].partitions.map(\.leaderId) == [0, 0, 0])
        let v1 = try #require(try await call(broker, MetadataRequest(topics: []), version: 1))
        #expect(v1.topics.isEmpty, "from v1 an empty list asks for no topic")
        try await broker.shutdown()
    }

    @Test func initProducerIdNeverHandsOutAnIdTwice() async throws {
        var broker = try await startBroker()
        var ids: [Int64] = []
        for _ in 0..<3 {
            let response = try #require(try await call(broker, InitProducerIdRequest(transactionalId: nil, transactionTimeoutMs: 60_000), version: 4))
            #expect(response.errorCode == 0 && response.producerEpoch == 0)
            ids.append(response.producerId)
        }
        let transactional = try #require(try await call(broker, InitProducerIdRequest(transactionalId: "tx", transactionTimeoutMs: 60_000), version: 4))
        #expect(transactional.errorCode == 0 && transactional.producerEpoch == 0, "a new transactional id starts at epoch 0")
        ids.append(transactional.producerId)
        try await broker.shutdown()
        broker = try await startBroker()
        let afterRestart = try #require(try await call(broker, InitProducerIdRequest(transactionalId: nil, transactionTimeoutMs: 60_000), version: 4))
        ids.append(afterRestart.producerId)
        #expect(Set(ids).count == 5 && ids.allSatisfy { $0 >= 0 }, "\(ids)")
        try await broker.shutdown()
    }

    @Test func producedRecordsSurviveARestart() async throws {
        var broker = try await startBroker()
        _ = try await call(broker, CreateTopicsRequest(topics: [.init(name: "log", numPartitions: 1, replicationFactor: 1)], timeoutMs: 1_000), version: 7)
        var builder = RecordBatchBuilder()
        for index in 0..<10 { builder.append(timestampMs: 1_000, key: nil, value: ByteBuffer(string: "r\(index)")) }
        let produced = try #require(try await call(broker, ProduceRequest(acks: -1, timeoutMs: 1_000, topicData: [
            .init(name: "log", partitionData: [.init(index: 0, records: try builder.build())]),
        ]), version: 9))
        #expect(produced.responses[0].partitionResponses[0].errorCode == 0)
        try await broker.shutdown()
        broker = try await startBroker()
        let fetched = try #require(try await call(broker, FetchRequest(maxWaitMs: 0, minBytes: 1, topics: [
            .init(topic: "log", partitions: [.init(partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20)]),
        ]), version: 12))
        #expect(fetched.responses[0].partitions[0].highWatermark == 10)
        var records = try #require(fetched.responses[0].partitions[0].records)
        let batch = try RecordBatch.read(from: &records)
        #expect(batch.header.recordCount == 10)
        try await broker.shutdown()
    }
}

/// Every advertised version of every API answers: a response field a version cannot carry must
/// never make encoding fail (which would leave the client with a closed connection).
@Suite struct AdvertisedVersionTests {
    @Test func everyAdvertisedVersionAnswers() async throws {
        var configuration = BrokerConfiguration()
        configuration.dataDirectory = "/data"
        let broker = try await Broker.start(configuration: configuration, advertisedHost: "127.0.0.1", advertisedPort: 9092, fileSystem: SimulatedFileSystem())
        let tests = BrokerTests()
        _ = try await tests.call(broker, CreateTopicsRequest(topics: [.init(name: "t", numPartitions: 1, replicationFactor: 1)], timeoutMs: 1_000), version: 7)
        var builder = RecordBatchBuilder()
        builder.append(timestampMs: 5, key: nil, value: ByteBuffer(string: "v"))
        let batch = try builder.build()
        for version in SupportedApis.versions[.apiVersions]! {
            #expect(try await tests.call(broker, ApiVersionsRequest(), version: version) != nil, "ApiVersions v\(version)")
        }
        for version in SupportedApis.versions[.metadata]! {
            #expect(try await tests.call(broker, MetadataRequest(topics: [.init(name: "t")], allowAutoTopicCreation: version >= 4 ? false : true), version: version) != nil, "Metadata v\(version)")
        }
        for version in SupportedApis.versions[.produce]! where version >= 3 {
            let response = try await tests.call(broker, ProduceRequest(acks: 1, timeoutMs: 1_000, topicData: [
                .init(name: "t", partitionData: [.init(index: 0, records: batch)]),
            ]), version: version)
            #expect(response?.responses.first?.partitionResponses.first?.errorCode == 0, "Produce v\(version)")
        }
        for version in SupportedApis.versions[.fetch]! where version < 13 {
            let response = try await tests.call(broker, FetchRequest(maxWaitMs: 0, minBytes: 0, topics: [
                .init(topic: "t", partitions: [.init(partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20)]),
            ]), version: version)
            #expect(response != nil, "Fetch v\(version)")
        }
        for version in SupportedApis.versions[.listOffsets]! {
            let response = try await tests.call(broker, ListOffsetsRequest(replicaId: -1, topics: [
                .init(name: "t", partitions: [.init(partitionIndex: 0, timestamp: -2)]),
            ]), version: version)
            #expect(response?.topics.first?.partitions.first?.errorCode == 0, "ListOffsets v\(version)")
        }
        for version in SupportedApis.versions[.createTopics]! {
            let response = try await tests.call(broker, CreateTopicsRequest(topics: [.init(name: "c\(version)", numPartitions: 1, replicationFactor: 1)], timeoutMs: 1_000), version: version)
            #expect(response?.topics.first?.errorCode == 0, "CreateTopics v\(version)")
        }
        for version in SupportedApis.versions[.deleteTopics]! {
            let request = version >= 6
                ? DeleteTopicsRequest(topics: [.init(name: "c\(version + 1)", topicId: .zero)], timeoutMs: 1_000)
                : DeleteTopicsRequest(topicNames: ["c\(version + 1)"], timeoutMs: 1_000)
            let response = try await tests.call(broker, request, version: version)
            #expect(response?.responses.first?.errorCode == 0, "DeleteTopics v\(version)")
        }
        for version in SupportedApis.versions[.initProducerId]! {
            let response = try await tests.call(broker, InitProducerIdRequest(transactionalId: nil, transactionTimeoutMs: 60_000), version: version)
            #expect(response?.errorCode == 0 && response?.producerId ?? -1 >= 0, "InitProducerId v\(version)")
        }
        for version in SupportedApis.versions[.createPartitions]! {
            let response = try await tests.call(broker, CreatePartitionsRequest(topics: [.init(name: "t", count: Int32(version) + 2, assignments: nil)], timeoutMs: 1_000, validateOnly: false), version: version)
            #expect(response?.results.first?.errorCode == 0, "CreatePartitions v\(version)")
        }
        for version in SupportedApis.versions[.describeConfigs]! {
            let response = try await tests.call(broker, DescribeConfigsRequest(resources: [
                .init(resourceType: 2, resourceName: "t", configurationKeys: nil), .init(resourceType: 4, resourceName: "0", configurationKeys: nil),
            ], includeSynonyms: version >= 1, includeDocumentation: version >= 3), version: version)
            #expect(response?.results.map(\.errorCode) == [0, 0], "DescribeConfigs v\(version)")
        }
        for version in SupportedApis.versions[.alterConfigs]! {
            let response = try await tests.call(broker, AlterConfigsRequest(resources: [
                .init(resourceType: 2, resourceName: "t", configs: [.init(name: "retention.ms", value: "100\(version)")]),
            ], validateOnly: false), version: version)
            #expect(response?.responses.first?.errorCode == 0, "AlterConfigs v\(version)")
        }
        for version in SupportedApis.versions[.incrementalAlterConfigs]! {
            let response = try await tests.call(broker, IncrementalAlterConfigsRequest(resources: [
                .init(resourceType: 2, resourceName: "t", configs: [.init(name: "retention.ms", configOperation: 1, value: nil)]),
            ], validateOnly: false), version: version)
            #expect(response?.responses.first?.errorCode == 0, "IncrementalAlterConfigs v\(version)")
        }
        for version in SupportedApis.versions[.describeCluster]! {
            let response = try await tests.call(broker, DescribeClusterRequest(), version: version)
            #expect(response?.errorCode == 0 && response?.brokers.count == 1, "DescribeCluster v\(version)")
        }
        for version in SupportedApis.versions[.deleteRecords]! {
            let response = try await tests.call(broker, DeleteRecordsRequest(topics: [
                .init(name: "t", partitions: [.init(partitionIndex: 0, offset: -1)]),
            ], timeoutMs: 1_000), version: version)
            #expect(response?.topics.first?.partitions.first?.errorCode == 0, "DeleteRecords v\(version)")
        }
        for version in SupportedApis.versions[.describeLogDirs]! {
            let response = try await tests.call(broker, DescribeLogDirsRequest(topics: nil), version: version)
            #expect(response?.results.first?.topics.isEmpty == false, "DescribeLogDirs v\(version)")
        }
        try await broker.shutdown()
    }
}
