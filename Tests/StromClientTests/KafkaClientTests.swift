import KafkaProtocol
import NIOCore
import StromClient
import Testing

/// The client against a real in-process broker: admin, produce, fetch and offsets.
@Suite struct KafkaClientTests {
    @Test func createsListsDescribesAndDeletesTopics() async throws {
        try await withBrokerAndClient { client, port in
            let created = try await client.createTopic(NewTopic(name: "orders", partitionCount: 3, configs: ["retention.ms": "60000"]))
            #expect(created.partitionCount == 3 && created.replicationFactor == 1 && created.topicId != .zero)
            try await client.createTopic(NewTopic(name: "audit"))

            #expect(try await client.listTopics().map(\.name) == ["audit", "orders"])
            let orders = try await client.describeTopic("orders")
            #expect(orders.topicId == created.topicId)
            #expect(orders.partitions.map(\.partition) == [0, 1, 2])
            #expect(orders.partitions.allSatisfy { $0.leaderId == 0 && $0.replicas == [0] && $0.inSyncReplicas == [0] && $0.errorCode == .none })
            let cluster = try await client.metadata(topics: [])
            #expect(cluster.brokers == [BrokerDescription(nodeId: 0, host: "127.0.0.1", port: port, rack: nil)])

            try await client.deleteTopic("audit")
            #expect(try await client.listTopics().map(\.name) == ["orders"])
        }
    }

    @Test func adminErrorsCarryTheKafkaCodeAndMessage() async throws {
        try await withBrokerAndClient { client, _ in
            try await client.createTopic(NewTopic(name: "orders"))
            await #expect {
                try await client.createTopic(NewTopic(name: "orders"))
            } throws: { error in
                (error as? StromClientError)?.kafkaErrorCode == .topicAlreadyExists
            }
            let results = try await client.createTopics([NewTopic(name: "bad name!"), NewTopic(name: "fine", partitionCount: 2)])
            #expect(throws: (any Error).self) { try results["bad name!"]?.get() }
            #expect(try results["fine"]?.get().partitionCount == 2)
            await #expect(throws: StromClientError.kafka(.unknownTopicOrPartition, resource: "topic \"missing\"", message: nil)) {
                try await client.describeTopic("missing")
            }
            await #expect {
                try await client.deleteTopic("missing")
            } throws: { error in
                (error as? StromClientError)?.kafkaErrorCode == .unknownTopicOrPartition
            }
        }
    }

    @Test(arguments: CompressionCodec.allCases)
    func producedRecordsComeBackWithKeysHeadersAndTimestamps(compression: CompressionCodec) async throws {
        try await withBrokerAndClient { client, _ in
            try await client.createTopic(NewTopic(name: "events", partitionCount: 1))
            let records = (0..<20).map { index in
                ProducerRecord(
                    key: index == 3 ? nil : ByteBuffer(string: "k\(index)"), value: index == 7 ? nil : ByteBuffer(string: "value \(index)"),
                    headers: [.init(key: "h", value: ByteBuffer(string: "\(index)")), .init(key: "empty", value: nil)],
                    partition: 0, timestampMs: 1_700_000_000_000 + Int64(index))
            }
            let produced = try await client.produce(topic: "events", records: records, compression: compression)
            #expect(produced.count == 1 && produced[0].partition == 0 && produced[0].recordCount == 20)
            #expect(try produced[0].baseOffset.get() == 0)

            let fetched = try await fetchRecords(client, topic: "events", count: 20)
            #expect(fetched.map(\.offset) == Array(0..<20))
            #expect(fetched[0].key.text == "k0" && fetched[3].key == nil)
            #expect(fetched[8].value.text == "value 8" && fetched[7].value == nil)
            #expect(fetched[5].timestampMs == 1_700_000_000_005 && fetched[5].timestampType == .createTime)
            #expect(fetched[5].headers.map(\.key) == ["h", "empty"])
            #expect(fetched[5].headers[0].value.text == "5" && fetched[5].headers[1].value == nil)
        }
    }

    @Test func keyedRecordsLandWhereKafkasPartitionerPutsThem() async throws {
        try await withBrokerAndClient { client, _ in
            try await client.createTopic(NewTopic(name: "keyed", partitionCount: 4))
            let keys = (0..<40).map { "key-\($0)" }
            let produced = try await client.produce(topic: "keyed", records: keys.map { ProducerRecord(key: ByteBuffer(string: $0), value: ByteBuffer(string: $0)) })
            var expected: [Int32: [String]] = [:]
            for key in keys { expected[KeyPartitioner.partition(forKey: ByteBuffer(string: key), partitionCount: 4), default: []].append(key) }
            #expect(produced.map(\.partition) == expected.keys.sorted())
            for partition in produced {
                #expect(try partition.baseOffset.get() == 0)
                let records = try await fetchRecords(client, topic: "keyed", partition: partition.partition, count: partition.recordCount)
                #expect(records.map { $0.key.text ?? "" } == expected[partition.partition] ?? [])
            }
        }
    }

    @Test func recordsWithoutKeyOrPartitionGoToOnePartitionPerCall() async throws {
        try await withBrokerAndClient { client, _ in
            try await client.createTopic(NewTopic(name: "sticky", partitionCount: 5))
            let produced = try await client.produce(topic: "sticky", records: (0..<10).map { ProducerRecord(value: ByteBuffer(string: "\($0)")) })
            #expect(produced.count == 1 && produced[0].recordCount == 10)
        }
    }

    @Test func producingWithoutAcknowledgementStillWrites() async throws {
        try await withBrokerAndClient { client, _ in
            try await client.createTopic(NewTopic(name: "fire", partitionCount: 1))
            let produced = try await client.produce(topic: "fire", records: [ProducerRecord(value: ByteBuffer(string: "x"), partition: 0)], acks: .unacknowledged)
            #expect(try produced[0].baseOffset.get() == -1)
            #expect(try await fetchRecords(client, topic: "fire", count: 1).map { $0.value.text } == ["x"])
        }
    }

    @Test func partitionErrorsAreReportedPerPartition() async throws {
        try await withBrokerAndClient { client, _ in
            try await client.createTopic(NewTopic(name: "two", partitionCount: 2))
            let produced = try await client.produce(topic: "two", records: [
                ProducerRecord(value: ByteBuffer(string: "ok"), partition: 1),
                ProducerRecord(value: ByteBuffer(string: "lost"), partition: 9),
            ])
            #expect(produced.map(\.partition) == [1, 9])
            #expect(try produced[0].baseOffset.get() == 0)
            #expect(throws: StromClientError.kafka(.unknownTopicOrPartition, resource: "topic \"two\" partition 9", message: "the topic has 2 partitions")) {
                try produced[1].baseOffset.get()
            }
            let tooLarge = try await client.produce(topic: "two", records: [
                ProducerRecord(value: ByteBuffer(repeating: 0x61, count: 2 << 20), partition: 0),
            ])
            #expect(throws: (any Error).self) { try tooLarge[0].baseOffset.get() }
            if case .failure(let error) = tooLarge[0].baseOffset { #expect(error.kafkaErrorCode == .messageTooLarge) }

            let outOfRange = try await client.fetch(topic: "two", offsets: [1: 50], maxWaitMs: 0)
            #expect(throws: (any Error).self) { try outOfRange[0].result.get() }
            if case .failure(let error) = outOfRange[0].result { #expect(error.kafkaErrorCode == .offsetOutOfRange) }
        }
    }

    @Test func producingToAMissingTopicCreatesItWhenTheBrokerAllows() async throws {
        try await withBrokerAndClient { client, _ in
            let produced = try await client.produce(topic: "auto", records: [ProducerRecord(value: ByteBuffer(string: "a"))])
            #expect(try produced[0].baseOffset.get() == 0)
            #expect(try await client.listTopics().map(\.name) == ["auto"])
        }
        try await withBrokerAndClient(configure: { $0.autoCreateTopicsEnable = false }) { client, _ in
            await #expect {
                try await client.produce(topic: "auto", records: [ProducerRecord(value: ByteBuffer(string: "a"))])
            } throws: { error in
                (error as? StromClientError)?.kafkaErrorCode == .unknownTopicOrPartition
            }
        }
    }

    @Test func listOffsetsFindsEarliestLatestAndByTimestamp() async throws {
        try await withBrokerAndClient { client, _ in
            try await client.createTopic(NewTopic(name: "times", partitionCount: 2))
            let records = (0..<5).map { ProducerRecord(value: ByteBuffer(string: "\($0)"), partition: 0, timestampMs: 1_000 * Int64($0 + 1)) }
            _ = try await client.produce(topic: "times", records: records)

            let earliest = try await client.listOffsets(topic: "times", spec: .earliest)
            #expect(try earliest[0]?.get().offset == 0 && earliest[1]?.get().offset == 0)
            let latest = try await client.listOffsets(topic: "times", spec: .latest)
            #expect(try latest[0]?.get().offset == 5 && latest[1]?.get().offset == 0)
            let byTime = try await client.listOffsets(topic: "times", partitions: [0], spec: .timestamp(2_500))
            #expect(try byTime[0]?.get() == ListedOffset(offset: 2, timestampMs: 3_000))
            let afterAll = try await client.listOffsets(topic: "times", partitions: [0], spec: .timestamp(99_000))
            #expect(try afterAll[0]?.get().offset == nil)
            let newest = try await client.listOffsets(topic: "times", partitions: [0], spec: .maxTimestamp)
            #expect(try newest[0]?.get() == ListedOffset(offset: 4, timestampMs: 5_000))
        }
    }

    @Test func fetchHonoursTheOffsetAndReportsTheHighWatermark() async throws {
        try await withBrokerAndClient { client, _ in
            try await client.createTopic(NewTopic(name: "log", partitionCount: 1))
            for batch in 0..<3 {
                let records = (0..<4).map { ProducerRecord(value: ByteBuffer(string: "\(batch)-\($0)"), partition: 0) }
                _ = try await client.produce(topic: "log", records: records)
            }
            let fetched = try await client.fetch(topic: "log", offsets: [0: 6], maxWaitMs: 0)
            let partition = try fetched[0].result.get()
            #expect(partition.records.first?.offset == 6)
            #expect(partition.records.map { $0.value.text } == ["1-2", "1-3", "2-0", "2-1", "2-2", "2-3"])
            #expect(partition.nextOffset == 12 && partition.highWatermark == 12 && partition.logStartOffset == 0)

            let empty = try await client.fetch(topic: "log", offsets: [0: 12], maxWaitMs: 0)
            #expect(try empty[0].result.get().records.isEmpty && empty[0].result.get().nextOffset == 12)
        }
    }

    /// Topic configs through DescribeConfigs and IncrementalAlterConfigs: the topic's own configs
    /// with their source, a set and a delete, and an unknown topic's error.
    @Test func topicConfigsAreDescribedAndAltered() async throws {
        try await withBrokerAndClient { client, _ in
            try await client.createTopic(NewTopic(name: "configured", configs: ["retention.ms": "60000", "cleanup.policy": "compact"]))
            let versions = client.bootstrap.apiVersions
            #expect(versions.supports(DescribeConfigsRequest.self) && versions.supports(IncrementalAlterConfigsRequest.self))
            let before = try await client.describeConfigs(.topic("configured"))
            let setOnTopic = before.filter { $0.source == .topicConfig }
            #expect(Dictionary(uniqueKeysWithValues: setOnTopic.map { ($0.name, $0.value) }) == ["retention.ms": "60000", "cleanup.policy": "compact"])
            try await client.incrementalAlterConfigs(.topic("configured"), [.set(name: "retention.ms", value: "5000"), .delete(name: "cleanup.policy")])
            let after = try await client.describeConfigs(.topic("configured"), keys: ["retention.ms", "cleanup.policy"])
            #expect(after.first { $0.name == "retention.ms" }?.value == "5000")
            #expect(after.first { $0.name == "cleanup.policy" }?.source != .topicConfig)
            await #expect {
                try await client.describeConfigs(.topic("missing"))
            } throws: { error in
                (error as? StromClientError)?.kafkaErrorCode == .unknownTopicOrPartition
            }
        }
    }
}
