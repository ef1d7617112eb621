import KafkaProtocol
public import NIOCore

/// A client for a Kafka-compatible cluster: a bootstrap connection, a connection per broker it
/// needs, and what Metadata said about brokers and topics.
///
/// Admin calls (topics, configs) go to the bootstrap broker, which forwards them to the
/// controller as KRaft brokers do; Produce, Fetch and ListOffsets go to each partition's leader.
/// Topic metadata is cached and dropped when a broker answers that its view is stale
/// (NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION, ...); this client does not retry, so
/// such an answer reaches the caller and the next call looks the topic up again.
///
/// ```swift
/// let client = try await KafkaClient.connect(host: "127.0.0.1", port: 9092)
/// try await client.createTopic(NewTopic(name: "orders", partitionCount: 3))
/// let produced = try await client.produce(topic: "orders", records: [ProducerRecord(value: ByteBuffer(string: "hello"))])
/// await client.close()
/// ```
public actor KafkaClient {
    /// The connection to the broker given at ``connect(host:port:clientId:requestTimeout:connectTimeout:eventLoopGroup:)``.
    public nonisolated let bootstrap: KafkaClientConnection
    private nonisolated let eventLoopGroup: (any EventLoopGroup)?
    private var brokers: [Int32: BrokerDescription] = [:]
    private var topics: [String: TopicDescription] = [:]
    /// Started or finished connects, shared by concurrent callers.
    private var nodeConnections: [Int32: Task<Result<KafkaClientConnection, StromClientError>, Never>] = [:]

    private init(bootstrap: KafkaClientConnection, eventLoopGroup: (any EventLoopGroup)?) {
        self.bootstrap = bootstrap
        self.eventLoopGroup = eventLoopGroup
    }

    /// Connects to one broker of the cluster (see ``KafkaClientConnection/connect(host:port:clientId:requestTimeout:connectTimeout:eventLoopGroup:)``).
    public static func connect(
        host: String, port: Int, clientId: String = "strom",
        requestTimeout: Duration = ClientLimits.requestTimeoutDefault,
        connectTimeout: Duration = ClientLimits.connectTimeoutDefault,
        eventLoopGroup: (any EventLoopGroup)? = nil
    ) async throws(StromClientError) -> KafkaClient {
        let bootstrap = try await KafkaClientConnection.connect(
            host: host, port: port, clientId: clientId, requestTimeout: requestTimeout, connectTimeout: connectTimeout,
            eventLoopGroup: eventLoopGroup)
        return KafkaClient(bootstrap: bootstrap, eventLoopGroup: eventLoopGroup)
    }

    /// Closes every connection; calls in flight fail.
    public func close() async {
        let connects = nodeConnections.values
        nodeConnections.removeAll()
        for connect in connects {
            if case .success(let connection) = await connect.value { await connection.close() }
        }
        await bootstrap.close()
    }

    /// Returns once every broker this client is connected to has processed the requests sent
    /// to it so far: one ApiVersions round trip per connection, which brokers answer only after
    /// the connection's earlier requests (they answer in order). Call it after acks=0 produces
    /// and before ``close()``, so that closing does not race the last unanswered requests.
    public func awaitRequestsProcessed() async throws(StromClientError) {
        var connections = [bootstrap]
        for connect in nodeConnections.values {
            if case .success(let connection) = await connect.value, connection.isOpen, connection !== bootstrap {
                connections.append(connection)
            }
        }
        for connection in connections {
            _ = try await connection.send(ApiVersionsRequest(clientSoftwareName: "strom", clientSoftwareVersion: "1"))
        }
    }

    // MARK: Metadata cache

    /// Remembers the brokers and topics of a Metadata answer.
    func remember(_ cluster: ClusterDescription) {
        for broker in cluster.brokers { brokers[broker.nodeId] = broker }
        for topic in cluster.topics where topic.errorCode == .none { topics[topic.name] = topic }
    }

    /// Drops a topic's cached metadata when an answer shows it is out of date.
    func forgetTopic(_ name: String, after error: StromClientError) {
        guard let code = error.kafkaErrorCode else { return }
        let staleMetadataCodes: Set<KafkaErrorCode> = [
            .notLeaderOrFollower, .unknownTopicOrPartition, .leaderNotAvailable, .fencedLeaderEpoch, .unknownLeaderEpoch,
            .unknownTopicId, .inconsistentTopicId,
        ]
        if staleMetadataCodes.contains(code) { topics[name] = nil }
    }

    /// True until a Metadata answer has named the brokers.
    var brokersAreUnknown: Bool { brokers.isEmpty }

    func forgetTopics(_ names: some Sequence<String>) {
        for name in names { topics[name] = nil }
    }

    /// The topic's metadata, from the cache or a Metadata request.
    /// - Parameter allowAutoTopicCreation: asks the broker to create a missing topic (as a
    ///   producer's lookup does, when the broker's `auto.create.topics.enable` allows it).
    func topicDescription(_ name: String, allowAutoTopicCreation: Bool = false) async throws(StromClientError) -> TopicDescription {
        if let cached = topics[name] { return cached }
        let cluster = try await metadata(topics: [name], allowAutoTopicCreation: allowAutoTopicCreation)
        guard let topic = cluster.topics.first(where: { $0.name == name }) else {
            throw .kafka(.unknownTopicOrPartition, resource: "topic \"\(name)\"", message: "not in the Metadata response")
        }
        if let error = StromClientError.check(topic.errorCode.rawValue, resource: "topic \"\(name)\"") { throw error }
        return topic
    }

    // MARK: Connections

    /// The connection to a partition's leader.
    func leaderConnection(topic: TopicDescription, partition: Int32) async throws(StromClientError) -> KafkaClientConnection {
        guard let description = topic.partition(partition) else {
            throw .kafka(.unknownTopicOrPartition, resource: "topic \"\(topic.name)\" partition \(partition)", message: "the topic has \(topic.partitions.count) partitions")
        }
        guard description.leaderId >= 0 else {
            throw .kafka(.leaderNotAvailable, resource: "topic \"\(topic.name)\" partition \(partition)", message: nil)
        }
        return try await connection(toNode: description.leaderId)
    }

    /// The connection to a broker by node id: the bootstrap connection when the broker's
    /// advertised address is the bootstrap address, else one opened on first use.
    func connection(toNode nodeId: Int32) async throws(StromClientError) -> KafkaClientConnection {
        guard let broker = brokers[nodeId] else {
            throw .kafka(.brokerNotAvailable, resource: "broker \(nodeId)", message: "not in the last Metadata response")
        }
        if broker.host == bootstrap.host && broker.port == bootstrap.port && bootstrap.isOpen { return bootstrap }
        if let connect = nodeConnections[nodeId] {
            let result = await connect.value
            if case .success(let connection) = result, connection.isOpen { return connection }
            // Only the caller that still sees its own failed task removes it (another may have replaced it).
            if nodeConnections[nodeId] == connect { nodeConnections[nodeId] = nil }
            if case .failure(let error) = result { throw error }
        }
        let (clientId, requestTimeout, eventLoopGroup) = (bootstrap.clientId, bootstrap.requestTimeout, self.eventLoopGroup)
        let connect = Task { () async -> Result<KafkaClientConnection, StromClientError> in
            do throws(StromClientError) {
                return .success(try await KafkaClientConnection.connect(
                    host: broker.host, port: broker.port, clientId: clientId, requestTimeout: requestTimeout, eventLoopGroup: eventLoopGroup))
            } catch {
                return .failure(error)
            }
        }
        nodeConnections[nodeId] = connect
        switch await connect.value {
        case .success(let connection):
            return connection
        case .failure(let error):
            if nodeConnections[nodeId] == connect { nodeConnections[nodeId] = nil }
            throw error
        }
    }

    /// Groups partitions by the connection to their leader. Partitions without a reachable
    /// leader come back as failures, so one bad partition does not fail the others.
    func partitionsByLeader(
        topic: TopicDescription, partitions: some Sequence<Int32>
    ) async -> (byLeader: [(connection: KafkaClientConnection, partitions: [Int32])], failures: [Int32: StromClientError]) {
        var byLeader: [(connection: KafkaClientConnection, partitions: [Int32])] = []
        var failures: [Int32: StromClientError] = [:]
        for partition in partitions {
            do {
                let connection = try await leaderConnection(topic: topic, partition: partition)
                if let index = byLeader.firstIndex(where: { $0.connection === connection }) {
                    byLeader[index].partitions.append(partition)
                } else {
                    byLeader.append((connection, [partition]))
                }
            } catch {
                failures[partition] = error
            }
        }
        return (byLeader, failures)
    }
}
