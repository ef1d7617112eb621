import KafkaProtocol
import StromClient

/// The partitions of one leader and the connection to it: a producer's unit of pipelining.
struct BenchLane: Sendable {
    var connection: KafkaClientConnection
    /// Sorted.
    var partitions: [Int32]
}

/// A benchmark's topic: created if asked and missing, checked that every partition has a leader,
/// and its partitions grouped by leader connection for producing.
///
/// Connections to leaders other than the bootstrap broker are opened here (``KafkaClient`` keeps
/// its own private), and closed by ``close()``.
struct BenchTopic: Sendable {
    let name: String
    let partitionCount: Int
    let lanes: [BenchLane]
    private let openedConnections: [KafkaClientConnection]

    /// Metadata look-ups while a new topic's partitions get leaders: Strom elects them before
    /// CreateTopics answers, a cluster may take a moment; 50 × 100 ms bounds the wait at ~5 s.
    static let leaderLookupAttemptsMax = 50
    static let leaderLookupInterval: Duration = .milliseconds(100)

    /// - Parameters:
    ///   - createWithPartitions: create the topic with this many partitions unless it exists (nil:
    ///     it must exist). An existing topic is used as it is; a different partition count is noted
    ///     on the error stream, as kbench does.
    /// - Throws: ``BenchError/topicNotReady(topic:reason:)``, or the client's error.
    static func prepare(
        _ name: String, client: KafkaClient, createWithPartitions partitionCount: Int32?, output: some CommandOutput
    ) async throws -> BenchTopic {
        if let partitionCount {
            do {
                // Replication factor: the broker's default.
                try await client.createTopic(NewTopic(name: name, partitionCount: partitionCount))
            } catch {
                // An existing topic is used as it is.
                if error.kafkaErrorCode != .topicAlreadyExists { throw error }
            }
        }
        var lastReason = "no metadata"
        for attempt in 0..<leaderLookupAttemptsMax {
            if attempt > 0 { try await Task.sleep(for: leaderLookupInterval) }
            let cluster = try await client.metadata(topics: [name])
            guard let topic = cluster.topics.first(where: { $0.name == name }) else {
                lastReason = "not in the Metadata response"
                continue
            }
            if topic.errorCode != .none {
                lastReason = topic.errorCode.name
                // A missing topic that nobody creates will not appear.
                if topic.errorCode == .unknownTopicOrPartition && partitionCount == nil { break }
                continue
            }
            if topic.partitions.isEmpty {
                lastReason = "no partitions"
                continue
            }
            if let leaderless = topic.partitions.first(where: { $0.leaderId < 0 || $0.errorCode != .none }) {
                lastReason = "partition \(leaderless.partition) has no leader (\(leaderless.errorCode.name))"
                continue
            }
            if let partitionCount, topic.partitions.count != Int(partitionCount) {
                output.writeError("strom bench: note: topic \(name) has \(topic.partitions.count) partitions (asked \(partitionCount))\n")
            }
            return try await routed(topic, brokers: cluster.brokers, client: client)
        }
        throw BenchError.topicNotReady(topic: name, reason: lastReason)
    }

    /// Groups the partitions by leader and connects to each leader.
    private static func routed(_ topic: TopicDescription, brokers: [BrokerDescription], client: KafkaClient) async throws -> BenchTopic {
        var opened: [KafkaClientConnection] = []
        var lanes: [BenchLane] = []
        do {
            for (leaderId, partitions) in Dictionary(grouping: topic.partitions, by: \.leaderId).sorted(by: { $0.key < $1.key }) {
                guard let broker = brokers.first(where: { $0.nodeId == leaderId }) else {
                    throw BenchError.topicNotReady(topic: topic.name, reason: "leader \(leaderId) is not among the brokers")
                }
                let bootstrap = client.bootstrap
                let connection: KafkaClientConnection
                if broker.host == bootstrap.host && broker.port == bootstrap.port {
                    connection = bootstrap
                } else {
                    connection = try await KafkaClientConnection.connect(
                        host: broker.host, port: broker.port, clientId: bootstrap.clientId, requestTimeout: bootstrap.requestTimeout)
                    opened.append(connection)
                }
                lanes.append(BenchLane(connection: connection, partitions: partitions.map(\.partition).sorted()))
            }
        } catch {
            for connection in opened { await connection.close() }
            throw error
        }
        return BenchTopic(name: topic.name, partitionCount: topic.partitions.count, lanes: lanes, openedConnections: opened)
    }

    /// Closes the connections this value opened (not the client's bootstrap connection).
    func close() async {
        for connection in openedConnections { await connection.close() }
    }
}
