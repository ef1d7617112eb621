public import KafkaProtocol

/// The APIs and versions this broker serves, advertised in ApiVersions. Only what is really
/// implemented belongs here (STYLE.md: "advertise in ApiVersions only what we really serve").
public enum SupportedApis {
    /// As Kafka 4 (KIP-896), only message format 2 is served: Fetch from v4, Produce from v3.
    /// Produce is still advertised from 0, as Kafka 4 advertises it (KAFKA-18659): librdkafka
    /// before 2.11.1 (Debian's kcat) enables gzip, snappy and lz4 only when the broker's Produce
    /// range starts at 0, and otherwise silently sends uncompressed batches. A Produce v0-2
    /// request is answered as Kafka 4 answers it: the connection is closed (``served``).
    public static let versions: [ApiKey: ClosedRange<Int16>] = [
        .apiVersions: 0...4,
        .produce: 0...11,
        .fetch: 4...16,
        .listOffsets: 1...9,
        .offsetForLeaderEpoch: 0...4,
        .metadata: 0...12,
        .createTopics: 2...7,
        .deleteTopics: 1...6,
        .deleteRecords: 0...2,
        .initProducerId: 0...5,
        // Transactions (KIP-98), with KIP-890's verification between brokers (AddPartitionsToTxn
        // v4+). The transaction.version feature is not advertised: no client here uses version 2.
        .addPartitionsToTxn: 0...5,
        .addOffsetsToTxn: 0...4,
        .endTxn: 0...5,
        .writeTxnMarkers: 0...1,
        .txnOffsetCommit: 0...4,
        .describeProducers: 0...0,
        .describeTransactions: 0...0,
        .listTransactions: 0...1,
        .describeConfigs: 0...4,
        .alterConfigs: 0...2,
        .createPartitions: 0...3,
        .describeLogDirs: 0...4,
        .incrementalAlterConfigs: 0...1,
        .describeCluster: 0...1,
        .electLeaders: 0...2,
        .findCoordinator: 0...6,
        .joinGroup: 0...9,
        .syncGroup: 0...5,
        .heartbeat: 0...4,
        .leaveGroup: 0...5,
        .offsetCommit: 0...9,
        .offsetFetch: 0...9,
        .listGroups: 0...5,
        .describeGroups: 0...5,
        .deleteGroups: 0...2,
        .offsetDelete: 0...0,
        .consumerGroupHeartbeat: 0...1,
        .consumerGroupDescribe: 0...0,
        // Share groups (KIP-932): the three client APIs go together (librdkafka sends ShareFetch
        // at version -1 when the heartbeat is offered without it).
        .shareGroupHeartbeat: 1...1,
        .shareGroupDescribe: 1...1,
        .shareFetch: 1...2,
        .shareAcknowledge: 1...2,
        .describeShareGroupOffsets: 0...1,
        .alterShareGroupOffsets: 0...0,
        .deleteShareGroupOffsets: 0...0,
        // The share coordinator's APIs, between brokers.
        .initializeShareGroupState: 0...0,
        .readShareGroupState: 0...0,
        .writeShareGroupState: 0...1,
        .deleteShareGroupState: 0...0,
        .readShareGroupStateSummary: 0...1,
    ]

    /// The ranges in API-key order, for ApiVersions responses.
    public static var sortedKeys: [ApiVersionsResponse.ApiVersion] {
        versions.sorted { $0.key.rawValue < $1.key.rawValue }.map { key, range in
            ApiVersionsResponse.ApiVersion(apiKey: key.rawValue, minVersion: range.lowerBound, maxVersion: range.upperBound)
        }
    }

    /// What is answered: the advertised ranges but Produce, which is answered from v3 only.
    public static let served: [ApiKey: ClosedRange<Int16>] = versions.merging([.produce: 3...11]) { _, served in served }

    /// Whether a request at this version is answered (otherwise the connection is closed).
    public static func supports(_ apiKey: ApiKey, version: Int16) -> Bool {
        served[apiKey]?.contains(version) ?? false
    }
}
