import Foundation

// The JSON values of Strom's etcd keys (EtcdKeyLayout). Each is small and written whole by one
// transaction; readers ignore fields they do not know, so a later Strom may add fields.

struct BrokerRecord: Codable, Hashable {
    var host: String
    var port: Int32
    var rack: String?
}

struct ControllerRecord: Codable, Hashable {
    var nodeId: Int32
}

struct TopicRecord: Codable, Hashable {
    /// Kafka's 22-character text form of the topic id.
    var id: String
    var isInternal: Bool
    var configs: [String: String]
    /// How many `partitions/<name>/<n>` keys belong to the topic (a topic is whole only with all).
    var partitionCount: Int32
}

struct PartitionRecord: Codable, Hashable {
    var replicas: [Int32]
    var leader: Int32
    var leaderEpoch: Int32
    var partitionEpoch: Int32
    var inSyncReplicas: [Int32]

    init(_ assignment: PartitionAssignment) {
        replicas = assignment.replicas
        leader = assignment.leader
        leaderEpoch = assignment.leaderEpoch
        partitionEpoch = assignment.partitionEpoch
        inSyncReplicas = assignment.inSyncReplicas
    }

    func assignment(partition: Int32) -> PartitionAssignment {
        PartitionAssignment(
            partition: partition, replicas: replicas, leader: leader, leaderEpoch: leaderEpoch,
            inSyncReplicas: inSyncReplicas, partitionEpoch: partitionEpoch)
    }
}

struct ProducerIdsRecord: Codable, Hashable {
    var next: Int64
}

enum EtcdJSON {
    static func encode<Value: Encodable>(_ value: Value) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        // Encoding these plain records cannot fail.
        return (try? encoder.encode(value)) ?? Data()
    }

    static func decode<Value: Decodable>(_ type: Value.Type, _ data: Data) -> Value? {
        try? JSONDecoder().decode(type, from: data)
    }
}
