public import Logging
public import StromBroker

/// A real broker inside the test process: the network server on 127.0.0.1 with an ephemeral
/// port and the broker on a fresh temporary data directory. Every test that starts one calls
/// ``stop()``; the directory goes with the value.
public final class InProcessBroker: Sendable {
    public let port: Int
    public let broker: Broker
    public let dataDirectory: TemporaryDirectory
    private let server: KafkaServer

    private init(port: Int, broker: Broker, dataDirectory: TemporaryDirectory, server: KafkaServer) {
        self.port = port
        self.broker = broker
        self.dataDirectory = dataDirectory
        self.server = server
    }

    /// "127.0.0.1:PORT", for clients.
    public var bootstrap: String { "127.0.0.1:\(port)" }

    /// Starts a broker; `configure` may change any setting but the address and data directory.
    /// - Parameter dataDirectory: reuse one to restart on the same data.
    public static func start(
        dataDirectory: TemporaryDirectory? = nil, logger: Logger = Logger(label: "strom.test"),
        configure: (inout BrokerConfiguration) -> Void = { _ in }
    ) async throws -> InProcessBroker {
        let directory = try dataDirectory ?? TemporaryDirectory(prefix: "strom-broker")
        var configuration = BrokerConfiguration()
        // No admin listener runs beside an in-process broker: its config must not name one.
        configuration.adminListen = nil
        configure(&configuration)
        configuration.listenHost = "127.0.0.1"
        configuration.listenPort = 0
        configuration.dataDirectory = directory.path
        let processor = BrokerRequestProcessor()
        let server = KafkaServer(configuration: KafkaServerConfiguration(host: "127.0.0.1", port: 0), processor: processor, logger: logger)
        let address = try await server.start()
        guard let port = address.port else {
            await server.shutdown()
            throw InProcessBrokerError.noPort
        }
        do {
            let broker = try await Broker.start(configuration: configuration, advertisedHost: "127.0.0.1", advertisedPort: port)
            processor.attach(broker)
            return InProcessBroker(port: port, broker: broker, dataDirectory: directory, server: server)
        } catch {
            await server.shutdown()
            throw error
        }
    }

    /// Stops accepting, finishes in-flight requests, then closes every log cleanly.
    public func stop() async throws {
        await server.shutdown()
        try await broker.shutdown()
    }
}

public enum InProcessBrokerError: Error {
    case noPort
}
