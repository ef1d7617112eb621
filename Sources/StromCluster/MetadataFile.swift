import Foundation
import KafkaProtocol
import NIOCore
import StromStorage

/// The embedded store's state on disk: `<data>/__cluster_metadata/metadata.json`.
///
/// One JSON object, written whole after every change (metadata changes are rare admin operations, and a
/// full rewrite leaves nothing to replay or compact):
///
///     {
///       "formatVersion" : 1,              always 1; any other value refuses to load
///       "clusterId" : "q1Sh-9_ISia_zwGINzRvyQ",
///       "nodeId" : 0,                     the node that owns the directory; another node refuses to load it
///       "revision" : 7,                   the MetadataImage revision this state is at
///       "topics" : [                      sorted by name
///         {
///           "name" : "orders",
///           "id" : "vVSwtpKxS1O6Q8tDJB8kHw",        Kafka's 22-character text form of the topic id
///           "isInternal" : false,
///           "configs" : { "retention.ms" : "3600000" },   topic-level overrides only
///           "partitions" : [                  partition i at index i
///             { "partition" : 0, "replicas" : [0], "leader" : 0, "leaderEpoch" : 0, "inSyncReplicas" : [0] }
///           ]
///         }
///       ]
///     }
///
/// Brokers are not stored: like an etcd lease, a registration lasts as long as the broker runs.
///
/// Writing never leaves a partial file under the name: the JSON goes to `metadata.json.tmp`, which is
/// fsynced, renamed over `metadata.json`, and the directory is fsynced so the rename survives a power cut.
/// After a crash the reader finds the old file or the new one, complete. A file that fails to parse or
/// to check out (duplicate names or ids, partitions out of order) is reported, never half-believed: the
/// broker must not start with topics missing.
struct MetadataFile: Sendable {
    static let formatVersion = 1
    static let fileName = "metadata.json"

    /// The `__cluster_metadata` directory.
    let directory: String
    let fileSystem: any StorageFileSystem

    var path: String { "\(directory)/\(Self.fileName)" }

    /// What the file holds.
    struct Contents: Sendable {
        var nodeId: Int32
        var image: MetadataImage
    }

    // MARK: Reading

    /// The file's contents, or nil if there is no file.
    func read() throws(MetadataError) -> Contents? {
        guard fileSystem.exists(path) else {
            return nil
        }
        let bytes = try readBytes()
        // The version first, so that a file of another format is reported as such, not as malformed.
        let version: Int
        do {
            version = try JSONDecoder().decode(VersionProbe.self, from: bytes).formatVersion
        } catch {
            throw .storage("\(path) is not metadata JSON with a format version: \(error)")
        }
        guard version == Self.formatVersion else {
            throw .storage("\(path) has format version \(version); this Strom reads version \(Self.formatVersion)")
        }
        let document: Document
        do {
            document = try JSONDecoder().decode(Document.self, from: bytes)
        } catch {
            throw .storage("\(path) is not valid metadata JSON: \(error)")
        }
        return try contents(of: document)
    }

    private func readBytes() throws(MetadataError) -> Data {
        let file = try io("open") { () throws(StorageIOError) in try fileSystem.open(path, create: false) }
        defer { try? file.close() }
        let sizeBytes = try io("size") { () throws(StorageIOError) in try file.size() }
        guard sizeBytes <= Limits.metadataFileSizeBytesMax else {
            throw .storage("\(path) is \(sizeBytes) bytes, more than the \(Limits.metadataFileSizeBytesMax) allowed")
        }
        let buffer = try io("read") { () throws(StorageIOError) in try file.read(at: 0, count: Int(sizeBytes)) }
        return Data(buffer.readableBytesView)
    }

    private func contents(of document: Document) throws(MetadataError) -> Contents {
        func corrupt(_ reason: String) -> MetadataError { .storage("\(path): \(reason)") }
        guard !document.clusterId.isEmpty, document.revision >= 0 else {
            throw corrupt("empty cluster id or negative revision")
        }
        var topics: [TopicMetadata] = []
        var names: Set<String> = []
        var ids: Set<KafkaUUID> = []
        for record in document.topics {
            if let reason = TopicNames.invalidityReason(record.name) {
                throw corrupt("topic name is invalid: \(reason)")
            }
            guard let id = KafkaUUID(kafkaText: record.id), id != .zero else {
                throw corrupt("topic \(record.name) has an invalid id \(record.id)")
            }
            guard names.insert(record.name).inserted, ids.insert(id).inserted else {
                throw corrupt("topic \(record.name) or its id \(record.id) appears twice")
            }
            var partitions: [PartitionAssignment] = []
            for (index, partition) in record.partitions.enumerated() {
                guard partition.partition == index, !partition.replicas.isEmpty else {
                    throw corrupt("topic \(record.name) has partition \(partition.partition) at position \(index)")
                }
                partitions.append(
                    PartitionAssignment(
                        partition: partition.partition, replicas: partition.replicas, leader: partition.leader,
                        leaderEpoch: partition.leaderEpoch, inSyncReplicas: partition.inSyncReplicas))
            }
            guard !partitions.isEmpty else {
                throw corrupt("topic \(record.name) has no partitions")
            }
            topics.append(
                TopicMetadata(
                    name: record.name, id: id, partitions: partitions, configs: record.configs,
                    isInternal: record.isInternal))
        }
        let image = MetadataImage(
            clusterId: document.clusterId, controllerId: document.nodeId, revision: document.revision, topics: topics,
            brokerConfigs: document.brokerConfigs ?? [:], groupConfigs: document.groupConfigs ?? [:], nextProducerId: document.nextProducerId ?? 0)
        return Contents(nodeId: document.nodeId, image: image)
    }

    // MARK: Writing

    /// Replaces the file with `image`'s state, atomically and durably (see the type's documentation).
    func write(_ image: MetadataImage, nodeId: Int32) throws(MetadataError) {
        let document = Document(
            formatVersion: Self.formatVersion, clusterId: image.clusterId, nodeId: nodeId, revision: image.revision,
            topics: image.topics.map { topic in
                Document.Topic(
                    name: topic.name, id: topic.id.description, isInternal: topic.isInternal, configs: topic.configs,
                    partitions: topic.partitions.map {
                        Document.Partition(
                            partition: $0.partition, replicas: $0.replicas, leader: $0.leader,
                            leaderEpoch: $0.leaderEpoch, inSyncReplicas: $0.inSyncReplicas)
                    })
            },
            brokerConfigs: image.brokerConfigs.isEmpty ? nil : image.brokerConfigs,
            groupConfigs: image.groupConfigs.isEmpty ? nil : image.groupConfigs,
            nextProducerId: image.nextProducerId == 0 ? nil : image.nextProducerId)
        let encoder = JSONEncoder()
        // Sorted keys and sorted topics: the same state always gives the same bytes.
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let bytes: Data
        do {
            bytes = try encoder.encode(document)
        } catch {
            // Strings, integers, arrays and dictionaries always encode.
            preconditionFailure("metadata failed to encode: \(error)")
        }
        let contents = ByteBuffer(bytes: bytes)

        try io("replace") { () throws(StorageIOError) in
            try fileSystem.replaceAtomically(path, with: contents, directory: directory)
        }
    }

    /// Runs a file-system operation, turning its error into ``MetadataError/storage(_:)``.
    private func io<Value>(
        _ what: String, _ operation: () throws(StorageIOError) -> Value
    ) throws(MetadataError) -> Value {
        do throws(StorageIOError) {
            return try operation()
        } catch {
            throw .storage("\(what) failed: \(error)")
        }
    }

    // MARK: JSON shape

    private struct VersionProbe: Decodable {
        var formatVersion: Int
    }

    private struct Document: Codable {
        var formatVersion: Int
        var clusterId: String
        var nodeId: Int32
        var revision: Int64
        var topics: [Topic]
        /// Absent in files written before dynamic broker configs existed.
        var brokerConfigs: [String: [String: String]]?
        /// Absent until a group config was set.
        var groupConfigs: [String: [String: String]]?
        /// Absent until a producer id was handed out.
        var nextProducerId: Int64?

        struct Topic: Codable {
            var name: String
            var id: String
            var isInternal: Bool
            var configs: [String: String]
            var partitions: [Partition]
        }

        struct Partition: Codable {
            var partition: Int32
            var replicas: [Int32]
            var leader: Int32
            var leaderEpoch: Int32
            var inSyncReplicas: [Int32]
        }
    }
}
