import StromClient

/// One client connection per other broker, opened on first use and replaced when the broker's
/// address changed or the connection closed: how a coordinator reaches partition leaders (and
/// leaders reach coordinators) on other brokers.
actor InterBrokerConnections {
    private let nodeId: Int32
    private let partitions: BrokerPartitions
    private let purpose: String
    private var connections: [Int32: KafkaClientConnection] = [:]

    init(nodeId: Int32, partitions: BrokerPartitions, purpose: String) {
        self.nodeId = nodeId
        self.partitions = partitions
        self.purpose = purpose
    }

    /// A connection to broker `node`; nil when it is unknown or cannot be reached now.
    func connection(to node: Int32) async -> KafkaClientConnection? {
        guard let broker = partitions.current.brokersById[node] else { return nil }
        if let open = connections[node], open.isOpen, open.host == broker.host, open.port == Int(broker.port) { return open }
        await connections[node]?.close()
        do {
            let connection = try await KafkaClientConnection.connect(
                host: broker.host, port: Int(broker.port), clientId: "strom-\(purpose)-\(nodeId)", requestTimeout: .seconds(5),
                connectTimeout: .seconds(2))
            connections[node] = connection
            return connection
        } catch {
            connections[node] = nil
            return nil
        }
    }

    /// Closes a connection that failed, so the next call opens a new one.
    func discard(_ connection: KafkaClientConnection) async {
        await connection.close()
        if let node = connections.first(where: { $0.value === connection })?.key { connections[node] = nil }
    }

    func shutdown() async {
        for connection in connections.values { await connection.close() }
        connections.removeAll()
    }
}
