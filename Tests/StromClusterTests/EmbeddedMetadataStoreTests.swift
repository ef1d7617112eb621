import Foundation
import KafkaProtocol
import StromStorage
import StromTestSupport
import Synchronization
import Testing

@testable import StromCluster

/// The embedded store on the simulated disk unless a test needs a real one.
private let dataDirectory = "/data"

private func openStore(
    _ fileSystem: any StorageFileSystem, dataDirectory: String = dataDirectory, nodeId: Int32 = 0,
    configuration: MetadataConfiguration = MetadataConfiguration()
) throws -> EmbeddedMetadataStore {
    try EmbeddedMetadataStore(
        dataDirectory: dataDirectory, nodeId: nodeId, fileSystem: fileSystem, configuration: configuration)
}

/// What a single-node topic's partitions must look like.
private func singleNodePartitions(_ count: Int32, node: Int32 = 0) -> [PartitionAssignment] {
    (0..<count).map {
        PartitionAssignment(partition: $0, replicas: [node], leader: node, leaderEpoch: 0, inSyncReplicas: [node])
    }
}

@Suite struct TopicLifecycleTests {
    @Test func createDescribeAndDeleteByName() async throws {
        let store = try openStore(SimulatedFileSystem())
        let created = try await store.createTopic(
            name: "orders", partitionCount: 3, replicationFactor: -1, configs: ["retention.ms": "3600000"])
        #expect(created.name == "orders")
        #expect(created.id != .zero)
        #expect(created.partitions == singleNodePartitions(3))
        #expect(created.configs == ["retention.ms": "3600000"])
        #expect(!created.isInternal)

        #expect(await store.topic(named: "orders") == created)
        #expect(await store.topic(id: created.id) == created)
        let other = try await store.createTopic(name: "audit", partitionCount: 1, replicationFactor: 1)
        #expect(await store.topics() == [other, created])  // by name

        #expect(try await store.deleteTopic(name: "orders") == created)
        #expect(await store.topic(named: "orders") == nil)
        #expect(await store.topic(id: created.id) == nil)
        #expect(await store.topics() == [other])
        await #expect(throws: MetadataError.unknownTopic(name: "orders")) {
            try await store.deleteTopic(name: "orders")
        }
    }

    @Test func deleteById() async throws {
        let store = try openStore(SimulatedFileSystem())
        let created = try await store.createTopic(name: "orders", partitionCount: 2, replicationFactor: 1)
        #expect(try await store.deleteTopic(id: created.id) == created)
        #expect(await store.topics().isEmpty)
        await #expect(throws: MetadataError.unknownTopicId(created.id)) {
            try await store.deleteTopic(id: created.id)
        }
        await #expect(throws: MetadataError.unknownTopicId(.zero)) {
            try await store.deleteTopic(id: .zero)
        }
    }

    @Test func recreatedTopicGetsANewId() async throws {
        let store = try openStore(SimulatedFileSystem())
        let first = try await store.createTopic(name: "orders", partitionCount: 1, replicationFactor: 1)
        try await store.deleteTopic(name: "orders")
        let second = try await store.createTopic(name: "orders", partitionCount: 1, replicationFactor: 1)
        #expect(second.id != first.id)
        #expect(await store.topic(id: first.id) == nil)
        #expect(await store.topic(id: second.id) == second)
    }

    @Test func duplicatesAreRejected() async throws {
        let store = try openStore(SimulatedFileSystem())
        let created = try await store.createTopic(name: "orders", partitionCount: 1, replicationFactor: 1)
        await #expect(throws: MetadataError.topicAlreadyExists(name: "orders")) {
            try await store.createTopic(name: "orders", partitionCount: 4, replicationFactor: 1)
        }
        #expect(await store.topic(named: "orders") == created)
        #expect(MetadataError.topicAlreadyExists(name: "orders").kafkaErrorCode == .topicAlreadyExists)
    }

    @Test func internalTopicsAreMarked() async throws {
        let store = try openStore(SimulatedFileSystem())
        let offsets = try await store.createTopic(
            name: "__consumer_offsets", partitionCount: 50, replicationFactor: 1,
            configs: ["cleanup.policy": "compact"])
        #expect(offsets.isInternal)
        #expect(try await store.createTopic(name: "__transaction_state", partitionCount: 1, replicationFactor: 1).isInternal)
        #expect(try await store.createTopic(name: "__share_group_state", partitionCount: 1, replicationFactor: 1).isInternal)
        #expect(!(try await store.createTopic(name: "__mine", partitionCount: 1, replicationFactor: 1).isInternal))
    }

    @Test func validateOnlyCommitsNothing() async throws {
        let store = try openStore(SimulatedFileSystem())
        let revision = await store.image().revision
        let planned = try await store.createTopic(
            name: "orders", partitionCount: 2, replicationFactor: 1, configs: [:], validateOnly: true)
        #expect(planned.partitions == singleNodePartitions(2))
        #expect(await store.topic(named: "orders") == nil)
        #expect(await store.image().revision == revision)
        await #expect(throws: MetadataError.invalidPartitions("Number of partitions was set to an invalid non-positive value.")) {
            try await store.createTopic(name: "orders", partitionCount: 0, replicationFactor: 1, configs: [:], validateOnly: true)
        }
    }
}

@Suite struct TopicNameTests {
    /// Each of Kafka's rules, with Kafka's reason.
    @Test(arguments: [
        ("", "the empty string is not allowed"),
        (".", "'.' is not allowed"),
        ("..", "'..' is not allowed"),
        (String(repeating: "x", count: 250),
         "the length of '\(String(repeating: "x", count: 250))' is longer than the max allowed length 249"),
        ("with space", "'with space' contains one or more characters other than ASCII alphanumerics, '.', '_' and '-'"),
        ("slash/name", "'slash/name' contains one or more characters other than ASCII alphanumerics, '.', '_' and '-'"),
        ("colon:name", "'colon:name' contains one or more characters other than ASCII alphanumerics, '.', '_' and '-'"),
        ("café", "'café' contains one or more characters other than ASCII alphanumerics, '.', '_' and '-'"),
        ("tab\t", "'tab\t' contains one or more characters other than ASCII alphanumerics, '.', '_' and '-'"),
    ])
    func invalidNamesAreRejected(name: String, reason: String) async throws {
        let store = try openStore(SimulatedFileSystem())
        let expected = MetadataError.invalidTopicName(name: name, reason: reason)
        await #expect(throws: expected) {
            try await store.createTopic(name: name, partitionCount: 1, replicationFactor: 1)
        }
        #expect(expected.kafkaErrorCode == .invalidTopicException)
        #expect(expected.description == "Topic name is invalid: \(reason)")
        #expect(await store.topics().isEmpty)
    }

    @Test(arguments: [String(repeating: "x", count: 249), "a", "...", "Az09._-", "-leading-dash", "_x"])
    func validNamesAreAccepted(name: String) async throws {
        let store = try openStore(SimulatedFileSystem())
        #expect(try await store.createTopic(name: name, partitionCount: 1, replicationFactor: 1).name == name)
    }

    @Test func clusterMetadataIsReserved() async throws {
        let store = try openStore(SimulatedFileSystem())
        await #expect(throws: MetadataError.reservedTopicName("__cluster_metadata")) {
            try await store.createTopic(name: "__cluster_metadata", partitionCount: 1, replicationFactor: 1)
        }
        #expect(MetadataError.reservedTopicName("__cluster_metadata").kafkaErrorCode == .invalidRequest)
    }

    @Test func dotAndUnderscoreCollide() async throws {
        let store = try openStore(SimulatedFileSystem())
        try await store.createTopic(name: "metrics.cpu", partitionCount: 1, replicationFactor: 1)
        let collision = MetadataError.topicNameCollides(name: "metrics_cpu", existingTopic: "metrics.cpu")
        await #expect(throws: collision) {
            try await store.createTopic(name: "metrics_cpu", partitionCount: 1, replicationFactor: 1)
        }
        #expect(collision.kafkaErrorCode == .invalidTopicException)
        #expect(collision.description == "Topic 'metrics_cpu' collides with existing topic: metrics.cpu")
        // Mixed positions collide too; the same name is a duplicate, not a collision (Kafka's precedence).
        try await store.createTopic(name: "metrics_cpu.", partitionCount: 1, replicationFactor: 1)
        await #expect(throws: MetadataError.topicNameCollides(name: "metrics.cpu_", existingTopic: "metrics_cpu.")) {
            try await store.createTopic(name: "metrics.cpu_", partitionCount: 1, replicationFactor: 1)
        }
        await #expect(throws: MetadataError.topicAlreadyExists(name: "metrics.cpu")) {
            try await store.createTopic(name: "metrics.cpu", partitionCount: 1, replicationFactor: 1)
        }
        // '-' is not a collision character.
        try await store.createTopic(name: "metrics-cpu", partitionCount: 1, replicationFactor: 1)
        // Deleting frees the collision key.
        try await store.deleteTopic(name: "metrics.cpu")
        try await store.createTopic(name: "metrics_cpu", partitionCount: 1, replicationFactor: 1)
        await #expect(throws: MetadataError.topicNameCollides(name: "metrics.cpu", existingTopic: "metrics_cpu")) {
            try await store.createTopic(name: "metrics.cpu", partitionCount: 1, replicationFactor: 1)
        }
    }

    @Test func collisionsAreFoundAfterAReopen() async throws {
        let fileSystem = SimulatedFileSystem()
        try await openStore(fileSystem).createTopic(name: "a.b", partitionCount: 1, replicationFactor: 1)
        let reopened = try openStore(fileSystem)
        await #expect(throws: MetadataError.topicNameCollides(name: "a_b", existingTopic: "a.b")) {
            try await reopened.createTopic(name: "a_b", partitionCount: 1, replicationFactor: 1)
        }
    }

    @Test func clusterMetadataDirectoryIsNotAPartitionDirectory() {
        #expect(TopicPartition(directoryName: EmbeddedMetadataStore.directoryName) == nil)
    }
}

@Suite struct PartitionAndReplicationTests {
    static let nonPositive = "Number of partitions was set to an invalid non-positive value."

    @Test(arguments: [Int32(0), -2, -100, .min])
    func invalidPartitionCountsAreRejected(partitionCount: Int32) async throws {
        let store = try openStore(SimulatedFileSystem())
        let expected = MetadataError.invalidPartitions(Self.nonPositive)
        await #expect(throws: expected) {
            try await store.createTopic(name: "orders", partitionCount: partitionCount, replicationFactor: 1)
        }
        #expect(expected.kafkaErrorCode == .invalidPartitions)
        #expect(await store.topics().isEmpty)
    }

    @Test func minusOneTakesTheDefaults() async throws {
        let store = try openStore(SimulatedFileSystem(), configuration: MetadataConfiguration(defaultPartitionCount: 6))
        let topic = try await store.createTopic(name: "orders", partitionCount: -1, replicationFactor: -1)
        #expect(topic.partitions == singleNodePartitions(6))
    }

    @Test func partitionCountIsBounded() async throws {
        let store = try openStore(SimulatedFileSystem())
        await #expect(throws: MetadataError.self) {
            try await store.createTopic(name: "huge", partitionCount: Limits.partitionCountMax + 1, replicationFactor: 1)
        }
        let largest = try await store.createTopic(
            name: "largest", partitionCount: Limits.partitionCountMax, replicationFactor: 1)
        #expect(largest.partitionCount == Limits.partitionCountMax)
    }

    @Test(arguments: [Int16(2), 3, .max])
    func replicationBeyondOneNodeIsRejected(replicationFactor: Int16) async throws {
        let store = try openStore(SimulatedFileSystem())
        let expected = MetadataError.invalidReplicationFactor(
            "Unable to replicate the partition \(replicationFactor) time(s): The target replication factor of "
                + "\(replicationFactor) cannot be reached because only 1 broker(s) are registered.")
        await #expect(throws: expected) {
            try await store.createTopic(name: "orders", partitionCount: 1, replicationFactor: replicationFactor)
        }
        #expect(expected.kafkaErrorCode == .invalidReplicationFactor)
        #expect(await store.topics().isEmpty)
    }

    @Test(arguments: [Int16(0), -2, .min])
    func nonPositiveReplicationFactorsAreRejected(replicationFactor: Int16) async throws {
        let store = try openStore(SimulatedFileSystem())
        await #expect(
            throws: MetadataError.invalidReplicationFactor(
                "Replication factor must be larger than 0, or -1 to use the default value.")
        ) {
            try await store.createTopic(name: "orders", partitionCount: 1, replicationFactor: replicationFactor)
        }
    }

    @Test func aDefaultReplicationFactorAboveOneFails() async throws {
        let store = try openStore(
            SimulatedFileSystem(), configuration: MetadataConfiguration(defaultReplicationFactor: 3))
        await #expect(throws: MetadataError.self) {
            try await store.createTopic(name: "orders", partitionCount: 1, replicationFactor: -1)
        }
    }

    @Test func checksRunInKafkasOrder() async throws {
        let store = try openStore(SimulatedFileSystem())
        try await store.createTopic(name: "orders", partitionCount: 1, replicationFactor: 1)
        // Name before everything; existence before configs; configs before replication factor; replication
        // factor before partitions.
        await #expect(throws: MetadataError.invalidTopicName(name: "", reason: "the empty string is not allowed")) {
            try await store.createTopic(name: "", partitionCount: 0, replicationFactor: 0, configs: ["x": "y"])
        }
        await #expect(throws: MetadataError.topicAlreadyExists(name: "orders")) {
            try await store.createTopic(name: "orders", partitionCount: 0, replicationFactor: 0, configs: ["x": "y"])
        }
        await #expect(throws: MetadataError.invalidConfig(key: "x", reason: "Unknown topic config name: x")) {
            try await store.createTopic(name: "new", partitionCount: 0, replicationFactor: 0, configs: ["x": "y"])
        }
        await #expect(
            throws: MetadataError.invalidReplicationFactor(
                "Replication factor must be larger than 0, or -1 to use the default value.")
        ) {
            try await store.createTopic(name: "new", partitionCount: 0, replicationFactor: 0)
        }
    }

    @Test func createPartitionsOnlyGrows() async throws {
        let store = try openStore(SimulatedFileSystem())
        let created = try await store.createTopic(name: "orders", partitionCount: 2, replicationFactor: 1)
        let grown = try await store.createPartitions(topic: "orders", newTotalCount: 5)
        #expect(grown.id == created.id)
        #expect(grown.partitions == singleNodePartitions(5))
        #expect(await store.topic(named: "orders") == grown)

        await #expect(throws: MetadataError.invalidPartitions("Topic already has 5 partition(s).")) {
            try await store.createPartitions(topic: "orders", newTotalCount: 5)
        }
        await #expect(
            throws: MetadataError.invalidPartitions(
                "The topic orders currently has 5 partition(s); 3 would not be an increase.")
        ) {
            try await store.createPartitions(topic: "orders", newTotalCount: 3)
        }
        await #expect(throws: MetadataError.self) {
            try await store.createPartitions(topic: "orders", newTotalCount: Limits.partitionCountMax + 1)
        }
        await #expect(throws: MetadataError.unknownTopic(name: "nope")) {
            try await store.createPartitions(topic: "nope", newTotalCount: 3)
        }
        let planned = try await store.createPartitions(topic: "orders", newTotalCount: 7, validateOnly: true)
        #expect(planned.partitionCount == 7)
        #expect(await store.topic(named: "orders") == grown)
    }

    @Test func placementSpreadsOverSeveralNodes() throws {
        // The embedded store has one node; the shared placement serves a cluster too.
        let partitions = try MetadataImage.assignReplicas(partitions: 0..<4, replicationFactor: 2, nodeIds: [7, 3, 5])
        #expect(partitions.map(\.replicas) == [[3, 5], [5, 7], [7, 3], [3, 5]])
        #expect(partitions.map(\.leader) == [3, 5, 7, 3])
        #expect(partitions.allSatisfy { $0.inSyncReplicas == $0.replicas && $0.leaderEpoch == 0 })
    }
}

@Suite struct TopicConfigTests {
    @Test func alterSetsAndRemovesOverrides() async throws {
        let store = try openStore(SimulatedFileSystem())
        try await store.createTopic(
            name: "orders", partitionCount: 1, replicationFactor: 1, configs: ["cleanup.policy": "compact"])
        var topic = try await store.alterTopicConfigs(topic: "orders", set: ["retention.ms": "1000"])
        #expect(topic.configs == ["cleanup.policy": "compact", "retention.ms": "1000"])
        topic = try await store.alterTopicConfigs(topic: "orders", set: ["retention.ms": "2000"], remove: ["cleanup.policy"])
        #expect(topic.configs == ["retention.ms": "2000"])
        #expect(await store.topic(named: "orders")?.configs == ["retention.ms": "2000"])

        // Removing a key that isn't set changes nothing, not even the revision.
        let revision = await store.image().revision
        topic = try await store.alterTopicConfigs(topic: "orders", remove: ["segment.ms"])
        #expect(topic.configs == ["retention.ms": "2000"])
        #expect(await store.image().revision == revision)

        let planned = try await store.alterTopicConfigs(
            topic: "orders", set: ["segment.ms": "60000"], remove: [], validateOnly: true)
        #expect(planned.configs == ["retention.ms": "2000", "segment.ms": "60000"])
        #expect(await store.topic(named: "orders")?.configs == ["retention.ms": "2000"])
    }

    @Test func invalidConfigsAreRejected() async throws {
        let store = try openStore(SimulatedFileSystem())
        try await store.createTopic(name: "orders", partitionCount: 1, replicationFactor: 1, configs: ["retention.ms": "5"])

        let unknown = MetadataError.invalidConfig(key: "no.such.config", reason: "Unknown topic config name: no.such.config")
        await #expect(throws: unknown) {
            try await store.alterTopicConfigs(topic: "orders", set: ["no.such.config": "1"])
        }
        #expect(unknown.kafkaErrorCode == .invalidConfig)
        await #expect(
            throws: MetadataError.invalidConfig(
                key: "segment.bytes",
                reason: LogConfigError.invalidValue(key: "segment.bytes", value: "1", reason: "must be at least 14").description)
        ) {
            try await store.alterTopicConfigs(topic: "orders", set: ["segment.bytes": "1"])
        }
        await #expect(throws: MetadataError.self) {
            try await store.alterTopicConfigs(topic: "orders", set: ["retention.ms": "soon"])
        }
        // Checked as a whole: the pair can be wrong where each value alone is fine.
        await #expect(throws: MetadataError.self) {
            try await store.alterTopicConfigs(
                topic: "orders", set: ["min.compaction.lag.ms": "10", "max.compaction.lag.ms": "5"])
        }
        await #expect(throws: MetadataError.self) {
            try await store.alterTopicConfigs(topic: "orders", set: ["retention.ms": "7"], remove: ["retention.ms"])
        }
        await #expect(throws: MetadataError.unknownTopic(name: "nope")) {
            try await store.alterTopicConfigs(topic: "nope", set: ["retention.ms": "7"])
        }
        #expect(await store.topic(named: "orders")?.configs == ["retention.ms": "5"])

        await #expect(throws: MetadataError.self) {
            try await store.createTopic(
                name: "bad", partitionCount: 1, replicationFactor: 1, configs: ["compression.type": "brotli"])
        }
        #expect(await store.topic(named: "bad") == nil)
    }

    @Test func overridesAreValidatedOnTheBrokersDefaults() async throws {
        var defaults = LogConfig.defaults
        defaults.maxCompactionLagMs = 100
        let store = try openStore(SimulatedFileSystem(), configuration: MetadataConfiguration(logConfigDefaults: defaults))
        // 1000 alone is a fine min.compaction.lag.ms, but not above this broker's max.compaction.lag.ms.
        await #expect(throws: MetadataError.self) {
            try await store.createTopic(
                name: "orders", partitionCount: 1, replicationFactor: 1, configs: ["min.compaction.lag.ms": "1000"])
        }
    }
}

@Suite struct PersistenceTests {
    @Test func everythingSurvivesAReopen() async throws {
        let directory = try TemporaryDirectory(prefix: "strom-metadata")
        let dataDirectory = directory.path + "/data"
        let store = try openStore(PosixFileSystem(), dataDirectory: dataDirectory)
        try await store.createTopic(
            name: "orders", partitionCount: 3, replicationFactor: 1,
            configs: ["retention.ms": "1000", "cleanup.policy": "compact,delete"])
        try await store.createTopic(name: "gone", partitionCount: 1, replicationFactor: 1)
        try await store.createTopic(name: "__consumer_offsets", partitionCount: 5, replicationFactor: 1)
        try await store.createPartitions(topic: "orders", newTotalCount: 4)
        try await store.alterTopicConfigs(topic: "orders", set: ["segment.ms": "60000"], remove: ["retention.ms"])
        try await store.deleteTopic(name: "gone")
        let before = await store.image()

        let reopened = try openStore(PosixFileSystem(), dataDirectory: dataDirectory)
        #expect(reopened.clusterId == store.clusterId)
        #expect(await reopened.image() == before)
        #expect(await reopened.topic(named: "orders")?.configs == ["cleanup.policy": "compact,delete", "segment.ms": "60000"])
        #expect(await reopened.topic(named: "__consumer_offsets")?.isInternal == true)

        // The file is where the documentation says, in the documented shape.
        let path = "\(dataDirectory)/__cluster_metadata/metadata.json"
        let json = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        #expect(json["formatVersion"] as? Int == 1)
        #expect(json["clusterId"] as? String == store.clusterId)
        #expect((json["topics"] as? [Any])?.count == 2)
    }

    @Test func theClusterIdIsKafkaShapedAndKept() async throws {
        let fileSystem = SimulatedFileSystem()
        let clusterId = try openStore(fileSystem).clusterId
        #expect(clusterId.utf8.count == 22)
        #expect(KafkaUUID(kafkaText: clusterId) != nil)
        #expect(try openStore(fileSystem).clusterId == clusterId)
        #expect(try openStore(SimulatedFileSystem()).clusterId != clusterId)
    }

    @Test(arguments: 0..<64)
    func theClusterIdSurvivesAPowerCutRightAfterTheFirstStart(seed: UInt64) throws {
        // A data directory that doesn't exist yet, several levels deep.
        let fileSystem = SimulatedFileSystem()
        let clusterId = try openStore(fileSystem, dataDirectory: "/var/lib/strom/data").clusterId
        let report = fileSystem.crash(seed: seed)
        #expect(try openStore(fileSystem, dataDirectory: "/var/lib/strom/data").clusterId == clusterId, "\(report)")
    }

    @Test func anotherFormatVersionIsReportedAsSuch() throws {
        let directory = try TemporaryDirectory(prefix: "strom-metadata")
        let metadataDirectory = directory.path + "/__cluster_metadata"
        try FileManager.default.createDirectory(atPath: metadataDirectory, withIntermediateDirectories: true)
        try Data(#"{"formatVersion": 2, "somethingNew": []}"#.utf8)
            .write(to: URL(fileURLWithPath: metadataDirectory + "/metadata.json"))
        let error = #expect(throws: MetadataError.self) {
            try openStore(PosixFileSystem(), dataDirectory: directory.path)
        }
        #expect(error?.description.contains("format version 2") == true, "\(String(describing: error))")
    }

    @Test func anotherNodeCannotOpenTheDirectory() async throws {
        let fileSystem = SimulatedFileSystem()
        _ = try openStore(fileSystem, nodeId: 1)
        #expect(throws: MetadataError.self) { try openStore(fileSystem, nodeId: 2) }
        #expect(try openStore(fileSystem, nodeId: 1).nodeId == 1)
    }

    @Test func otherNodeIdsPlacePartitionsOnThatNode() async throws {
        let store = try openStore(SimulatedFileSystem(), nodeId: 3)
        let topic = try await store.createTopic(name: "orders", partitionCount: 2, replicationFactor: 1)
        #expect(topic.partitions == singleNodePartitions(2, node: 3))
        #expect(await store.image().controllerId == 3)
    }

    @Test(arguments: [
        "",
        "{",
        "[]",
        "{\"formatVersion\": 1}",
        "{\"formatVersion\": 2, \"clusterId\": \"q1Sh-9_ISia_zwGINzRvyQ\", \"nodeId\": 0, \"revision\": 0, \"topics\": []}",
        "{\"formatVersion\": 1, \"clusterId\": \"q1Sh-9_ISia_zwGINzRvyQ\", \"nodeId\": 0, \"revision\": 0, \"topics\": "
            + "[{\"name\": \"a/b\", \"id\": \"AAAAAAAAAAAAAAAAAAAAAQ\", \"isInternal\": false, \"configs\": {}, \"partitions\": "
            + "[{\"partition\": 0, \"replicas\": [0], \"leader\": 0, \"leaderEpoch\": 0, \"inSyncReplicas\": [0]}]}]}",
        "{\"formatVersion\": 1, \"clusterId\": \"q1Sh-9_ISia_zwGINzRvyQ\", \"nodeId\": 0, \"revision\": 0, \"topics\": "
            + "[{\"name\": \"a\", \"id\": \"not-an-id\", \"isInternal\": false, \"configs\": {}, \"partitions\": []}]}",
        "{\"formatVersion\": 1, \"clusterId\": \"q1Sh-9_ISia_zwGINzRvyQ\", \"nodeId\": 0, \"revision\": 0, \"topics\": "
            + "[{\"name\": \"a\", \"id\": \"AAAAAAAAAAAAAAAAAAAAAQ\", \"isInternal\": false, \"configs\": {}, \"partitions\": "
            + "[{\"partition\": 1, \"replicas\": [0], \"leader\": 0, \"leaderEpoch\": 0, \"inSyncReplicas\": [0]}]}]}",
    ])
    func aDamagedFileIsReportedNotBelieved(contents: String) throws {
        let directory = try TemporaryDirectory(prefix: "strom-metadata")
        let metadataDirectory = directory.path + "/__cluster_metadata"
        try FileManager.default.createDirectory(atPath: metadataDirectory, withIntermediateDirectories: true)
        try Data(contents.utf8).write(to: URL(fileURLWithPath: metadataDirectory + "/metadata.json"))
        let error = #expect(throws: MetadataError.self) {
            try openStore(PosixFileSystem(), dataDirectory: directory.path)
        }
        guard case .storage? = error else {
            Issue.record("expected a storage error, got \(String(describing: error))")
            return
        }
    }

    @Test func aWellFormedHandWrittenFileLoads() async throws {
        let directory = try TemporaryDirectory(prefix: "strom-metadata")
        let metadataDirectory = directory.path + "/__cluster_metadata"
        try FileManager.default.createDirectory(atPath: metadataDirectory, withIntermediateDirectories: true)
        let contents = """
            {"formatVersion": 1, "clusterId": "q1Sh-9_ISia_zwGINzRvyQ", "nodeId": 0, "revision": 9, "topics":
             [{"name": "a", "id": "AAAAAAAAAAAAAAAAAAAAAQ", "isInternal": false, "configs": {"retention.ms": "5"},
               "partitions": [{"partition": 0, "replicas": [0], "leader": 0, "leaderEpoch": 0, "inSyncReplicas": [0]}]}]}
            """
        try Data(contents.utf8).write(to: URL(fileURLWithPath: metadataDirectory + "/metadata.json"))
        let store = try openStore(PosixFileSystem(), dataDirectory: directory.path)
        #expect(store.clusterId == "q1Sh-9_ISia_zwGINzRvyQ")
        #expect(await store.image().revision == 9)
        #expect(
            await store.topic(id: KafkaUUID(high: 0, low: 1))
                == TopicMetadata(
                    name: "a", id: KafkaUUID(high: 0, low: 1), partitions: singleNodePartitions(1),
                    configs: ["retention.ms": "5"], isInternal: false))
    }
}

/// Power cuts on the simulated disk after calls returned: every change a call reported as done must be
/// there after the reboot, exactly, and nothing else.
@Suite struct MetadataPowerLossTests {
    static let rounds = Int(ProcessInfo.processInfo.environment["STROM_POWER_LOSS_ROUNDS"] ?? "") ?? 200

    struct Mismatch: Error, CustomStringConvertible { let description: String }

    @Test func everyReturnedChangeSurvivesAPowerCut() async throws {
        var failures: [String] = []
        for seed in UInt64(0)..<UInt64(Self.rounds) {
            do {
                try await Self.round(seed: seed)
            } catch {
                failures.append("seed \(seed): \(error)")
            }
        }
        #expect(failures.isEmpty, "\(failures.count) rounds failed, e.g. \(failures.prefix(3))")
    }

    /// Random operations, some of them refused; after each cut the reopened store must equal the model.
    static func round(seed: UInt64) async throws {
        var random = SplitMix64(seed: seed)
        let fileSystem = SimulatedFileSystem()
        var store = try openStore(fileSystem)
        let clusterId = store.clusterId
        var model: [String: TopicMetadata] = [:]
        let names = ["orders", "a.b", "a_b", "logs-1", "__consumer_offsets"]
        for cut in 0..<3 {
            for _ in 0..<random.below(12) {
                let name = names[random.below(names.count)]
                do {
                    switch random.below(6) {
                    case 0, 1:
                        let configs = random.oneIn(3) ? ["retention.ms": random.oneIn(4) ? "never" : "1000"] : [:]
                        let validateOnly = random.oneIn(5)
                        let topic = try await store.createTopic(
                            name: name, partitionCount: Int32(random.below(4)), replicationFactor: 1, configs: configs,
                            validateOnly: validateOnly)
                        if !validateOnly { model[name] = topic }
                    case 2:
                        if random.oneIn(2), let id = model[name]?.id {
                            try await store.deleteTopic(id: id)
                        } else {
                            try await store.deleteTopic(name: name)
                        }
                        model[name] = nil
                    case 3:
                        let count = (model[name]?.partitionCount ?? 1) + Int32(random.below(3))
                        model[name] = try await store.createPartitions(topic: name, newTotalCount: count)
                    default:
                        model[name] = try await store.alterTopicConfigs(
                            topic: name, set: random.oneIn(2) ? ["segment.ms": "\(random.below(5))"] : [:],
                            remove: random.oneIn(2) ? ["retention.ms"] : [])
                    }
                } catch {
                    // Refusals are part of the test; a storage failure is not.
                    if case .storage = error { throw error }
                }
            }
            guard await store.topics() == model.values.sorted(by: { $0.name < $1.name }) else {
                throw Mismatch(description: "store differs from the model before cut \(cut)")
            }
            // Half the time the power fails during one more change: a fault stops it part-way, so the crash
            // finds unsynced writes and directory changes. Its outcome is unknown, so either state may load.
            var inFlight: String?
            if random.oneIn(2) {
                let name = names[random.below(names.count)]
                switch random.below(3) {
                case 0: fileSystem.failSync()
                case 1: fileSystem.failSync("\(dataDirectory)/__cluster_metadata")
                default: fileSystem.failWrites(after: random.below(1_500))
                }
                do {
                    if model[name] != nil {
                        try await store.deleteTopic(name: name)
                        model[name] = nil
                    } else {
                        model[name] = try await store.createTopic(name: name, partitionCount: 2, replicationFactor: 1)
                    }
                } catch {
                    // Refused (a collision, say) or stopped by the fault, and then its outcome is unknown.
                    if case .storage = error { inFlight = name }
                }
            }
            let report = fileSystem.crash(seed: random.next())
            fileSystem.clearFaults()
            store = try openStore(fileSystem)
            guard store.clusterId == clusterId else {
                throw Mismatch(description: "cluster id changed at cut \(cut): \(report)")
            }
            var found = Dictionary(uniqueKeysWithValues: await store.topics().map { ($0.name, $0) })
            var outcome: TopicMetadata?
            if let name = inFlight {
                // The change in flight may differ from the model, and only as that change would have.
                let before = model[name]
                outcome = found[name]
                let created = before == nil && outcome?.partitions == singleNodePartitions(2) && outcome?.configs == [:]
                let deleted = before != nil && outcome == nil
                guard outcome == before || created || deleted else {
                    throw Mismatch(description: "in-flight change to \(name) left \(String(describing: outcome)): \(report)")
                }
                found[name] = before
            }
            guard found == model else {
                throw Mismatch(description: "topics differ after cut \(cut): \(report)")
            }
            if let name = inFlight {
                // The disk decided the in-flight change's fate; the next cut builds on it.
                model[name] = outcome
            }
        }
    }

    @Test func aFailedSyncChangesNothing() async throws {
        let fileSystem = SimulatedFileSystem()
        let store = try openStore(fileSystem)
        fileSystem.failSync()
        let error = await #expect(throws: MetadataError.self) {
            try await store.createTopic(name: "orders", partitionCount: 1, replicationFactor: 1)
        }
        guard case .storage? = error else {
            Issue.record("expected a storage error, got \(String(describing: error))")
            return
        }
        #expect(await store.topic(named: "orders") == nil)
        #expect(await store.image().revision == 0)
        fileSystem.clearFaults()
        let topic = try await store.createTopic(name: "orders", partitionCount: 1, replicationFactor: 1)
        fileSystem.crash(seed: 1)
        #expect(try await openStore(fileSystem).topics() == [topic])
    }

    /// A disk that fills up part-way through writing the new file: the call fails, the store is unchanged,
    /// and after a power cut the old state loads.
    @Test(arguments: [0, 1, 10, 100, 400])
    func aFullDiskChangesNothing(writeBudgetBytes: Int) async throws {
        for seed in UInt64(0)..<20 {
            let fileSystem = SimulatedFileSystem()
            let store = try openStore(fileSystem)
            let kept = try await store.createTopic(name: "kept", partitionCount: 2, replicationFactor: 1)
            fileSystem.failWrites(after: writeBudgetBytes)
            await #expect(throws: MetadataError.self) {
                try await store.createTopic(name: "orders", partitionCount: 1, replicationFactor: 1)
            }
            #expect(await store.topics() == [kept])
            fileSystem.crash(seed: seed)
            fileSystem.clearFaults()
            #expect(try await openStore(fileSystem).topics() == [kept], "seed \(seed)")
        }
    }

    /// The rename went through but the directory fsync failed: the call reports failure and the store is
    /// unchanged, but the disk may hold either state — both must load.
    @Test func aFailedDirectorySyncLeavesEitherState() async throws {
        var sawOld = false
        var sawNew = false
        for seed in UInt64(0)..<40 {
            let fileSystem = SimulatedFileSystem()
            let store = try openStore(fileSystem)
            let kept = try await store.createTopic(name: "kept", partitionCount: 1, replicationFactor: 1)
            fileSystem.failSync("\(dataDirectory)/__cluster_metadata")
            await #expect(throws: MetadataError.self) {
                try await store.createTopic(name: "maybe", partitionCount: 1, replicationFactor: 1)
            }
            #expect(await store.topics() == [kept])
            fileSystem.crash(seed: seed)
            fileSystem.clearFaults()
            let names = try await openStore(fileSystem).topics().map(\.name)
            #expect(names == ["kept"] || names == ["kept", "maybe"], "seed \(seed)")
            sawOld = sawOld || names == ["kept"]
            sawNew = sawNew || names == ["kept", "maybe"]
        }
        #expect(sawOld && sawNew, "40 seeds should show both outcomes")
    }
}

@Suite struct MetadataChangeTests {
    @Test func changesStartWithASnapshotAndFollowEveryCommit() async throws {
        let store = try openStore(SimulatedFileSystem())
        let before = try await store.createTopic(name: "before", partitionCount: 1, replicationFactor: 1)
        let stream = await store.changes()
        var iterator = stream.makeAsyncIterator()
        let first = try #require(await iterator.next())
        guard case .snapshot(var image) = first.kind else {
            Issue.record("first change is \(first.kind), not a snapshot")
            return
        }
        #expect(image == (await store.image()))
        #expect(image.topic(named: "before") == before)
        #expect(first.revision == image.revision)

        let broker = BrokerRegistration(nodeId: 0, host: "localhost", port: 9092, rack: "r1")
        try await store.registerBroker(broker)
        let created = try await store.createTopic(name: "orders", partitionCount: 2, replicationFactor: 1)
        let grown = try await store.createPartitions(topic: "orders", newTotalCount: 3)
        let altered = try await store.alterTopicConfigs(topic: "orders", set: ["retention.ms": "1000"])
        // Neither a refused call nor a call that changes nothing is a change.
        _ = try? await store.createTopic(name: "orders", partitionCount: 1, replicationFactor: 1)
        try await store.alterTopicConfigs(topic: "orders", set: ["retention.ms": "1000"])
        _ = try await store.createTopic(name: "planned", partitionCount: 1, replicationFactor: 1, configs: [:], validateOnly: true)
        let deleted = try await store.deleteTopic(name: "orders")

        let expectedKinds: [MetadataChange.Kind] = [
            .brokerRegistered(broker), .topicCreated(created), .partitionsCreated(grown),
            .topicConfigsAltered(altered), .topicDeleted(deleted),
        ]
        for (offset, expectedKind) in expectedKinds.enumerated() {
            let change = try #require(await iterator.next())
            #expect(change.kind == expectedKind)
            #expect(change.revision == first.revision + Int64(offset) + 1)
            image.apply(change)
        }
        // Applying the changes to the snapshot arrives where the store is.
        #expect(image == (await store.image()))
        #expect(await store.brokers() == [broker])
    }

    @Test func aSubscriberThatFallsBehindIsEnded() async throws {
        let store = try openStore(SimulatedFileSystem())
        let stream = await store.changes()
        let broker = BrokerRegistration(nodeId: 0, host: "localhost", port: 9092)
        for _ in 0..<(Limits.changesBufferedMax + 10) {
            try await store.registerBroker(broker)
        }
        #expect(await store.subscriberCount == 0)
        var received: [MetadataChange] = []
        for await change in stream {
            received.append(change)
        }
        // The snapshot and the changes that fit, with no gap; then the end.
        #expect(received.count == Limits.changesBufferedMax)
        #expect(received.map(\.revision) == Array(0..<Int64(Limits.changesBufferedMax)))
        // A new subscription starts from the current state.
        var iterator = await store.changes().makeAsyncIterator()
        #expect(await iterator.next()?.revision == Int64(Limits.changesBufferedMax + 10))
    }

    @Test func droppingAStreamUnsubscribes() async throws {
        let store = try openStore(SimulatedFileSystem())
        do {
            let stream = await store.changes()
            _ = stream
            #expect(await store.subscriberCount == 1)
        }
        #expect(await store.subscriberCount == 0)
    }

    @Test func cancellingTheReaderUnsubscribes() async throws {
        let store = try openStore(SimulatedFileSystem())
        let stream = await store.changes()
        let reader = Task {
            var count = 0
            for await _ in stream { count += 1 }
            return count
        }
        reader.cancel()
        #expect(await reader.value <= 1)
        // Bounded wait for the termination handler: it runs when the cancelled iterator finishes.
        for _ in 0..<1_000 {
            if await store.subscriberCount == 0 { break }
            await Task.yield()
        }
        #expect(await store.subscriberCount == 0)
    }
}

@Suite struct TopicIdTests {
    /// Hands out the given UUIDs in order, then the last one forever.
    final class UUIDSequence: Sendable {
        private let remaining: Mutex<[KafkaUUID]>
        init(_ uuids: [KafkaUUID]) { remaining = Mutex(uuids) }
        func next() -> KafkaUUID {
            remaining.withLock { $0.count > 1 ? $0.removeFirst() : $0[0] }
        }
    }

    @Test func anIdInUseIsDrawnAgain() async throws {
        let (clusterUUID, taken, fresh) = (KafkaUUID(high: 1, low: 1), KafkaUUID(high: 2, low: 2), KafkaUUID(high: 3, low: 3))
        let sequence = UUIDSequence([clusterUUID, taken, .zero, taken, fresh])
        let store = try EmbeddedMetadataStore(
            dataDirectory: dataDirectory, nodeId: 0, fileSystem: SimulatedFileSystem(),
            configuration: MetadataConfiguration(), makeUUID: sequence.next)
        #expect(store.clusterId == clusterUUID.description)
        #expect(try await store.createTopic(name: "a", partitionCount: 1, replicationFactor: 1).id == taken)
        #expect(try await store.createTopic(name: "b", partitionCount: 1, replicationFactor: 1).id == fresh)
        // A generator that only repeats itself is an error, not a hang.
        await #expect(throws: MetadataError.self) {
            try await store.createTopic(name: "c", partitionCount: 1, replicationFactor: 1)
        }
    }

    @Test func randomIdsFollowKafkasRules() {
        var generator = SplitMix64(seed: 42)
        var seen: Set<KafkaUUID> = []
        for _ in 0..<10_000 {
            let id = KafkaUUID.random(using: &generator)
            #expect(!id.description.hasPrefix("-"))
            #expect((id.high >> 12) & 0xF == 4)  // version 4
            #expect(id.low >> 62 == 0b10)  // IETF variant
            seen.insert(id)
        }
        #expect(seen.count == 10_000)
    }

    @Test func kafkaTextRoundTrips() {
        var generator = SplitMix64(seed: 7)
        var samples = [KafkaUUID.zero, KafkaUUID(high: 0, low: 1), KafkaUUID(high: .max, low: .max)]
        for _ in 0..<1_000 {
            samples.append(KafkaUUID(high: generator.arbitraryInteger(UInt64.self), low: generator.arbitraryInteger(UInt64.self)))
        }
        for uuid in samples {
            #expect(KafkaUUID(kafkaText: uuid.description) == uuid, "\(uuid.high) \(uuid.low)")
        }
        #expect(KafkaUUID(kafkaText: "AAAAAAAAAAAAAAAAAAAAAQ") == KafkaUUID(high: 0, low: 1))
        #expect(KafkaUUID(kafkaText: "AAAAAAAAAAAAAAAAAAAAAB") == nil)  // unused bits set: not canonical
        #expect(KafkaUUID(kafkaText: "AAAAAAAAAAAAAAAAAAAAA") == nil)  // 21 characters
        #expect(KafkaUUID(kafkaText: "AAAAAAAAAAAAAAAAAAAAAAA") == nil)  // 23 characters
        #expect(KafkaUUID(kafkaText: "AAAAAAAAAAAAAAAAAAAA+A") == nil)  // standard, not URL-safe, base64
    }
}

@Suite struct MetadataErrorTests {
    @Test func everyCaseHasKafkasCode() {
        let id = KafkaUUID(high: 1, low: 2)
        let cases: [(MetadataError, KafkaErrorCode)] = [
            (.topicAlreadyExists(name: "a"), .topicAlreadyExists),
            (.unknownTopic(name: "a"), .unknownTopicOrPartition),
            (.unknownTopicId(id), .unknownTopicId),
            (.invalidTopicName(name: "", reason: "r"), .invalidTopicException),
            (.topicNameCollides(name: "a.b", existingTopic: "a_b"), .invalidTopicException),
            (.reservedTopicName("__cluster_metadata"), .invalidRequest),
            (.invalidPartitions("r"), .invalidPartitions),
            (.invalidReplicationFactor("r"), .invalidReplicationFactor),
            (.invalidConfig(key: "k", reason: "r"), .invalidConfig),
            (.storage("r"), .unknownServerError),
        ]
        for (error, code) in cases {
            #expect(error.kafkaErrorCode == code, "\(error)")
            #expect(!error.description.isEmpty)
        }
    }
}
