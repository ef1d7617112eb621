import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import StromBroker

/// `strom serve`: runs one broker. Settings come from flags, then the environment
/// (`STROM_LISTEN`, `STROM_DATA_DIR`, `STROM_CONFIG`), then a Kafka-style properties file, then
/// defaults; the command only parses and hands a ``BrokerConfiguration`` to ``BrokerService``.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Run a broker (single node, embedded metadata).")

    @Option(name: .long, help: "HOST:PORT to listen on; port 0 picks a free port (env STROM_LISTEN; default 127.0.0.1:9092).")
    var listen: String?

    @Option(name: [.customLong("data-dir"), .customLong("data")], help: "Data directory (env STROM_DATA_DIR; default ./strom-data).")
    var dataDirectory: String?

    @Option(name: .long, help: "A properties file with Kafka's broker names (node.id, num.partitions, log.retention.ms, ...) (env STROM_CONFIG).")
    var config: String?

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        var configuration = BrokerConfiguration()
        if let path = config ?? environment["STROM_CONFIG"] {
            let text = try String(contentsOfFile: path, encoding: .utf8)
            try BrokerProperties.apply(BrokerProperties.parse(text), to: &configuration)
        }
        let listenAddress = listen ?? environment["STROM_LISTEN"] ?? "\(configuration.listenHost):\(configuration.listenPort)"
        guard let colon = listenAddress.lastIndex(of: ":"), let port = Int(listenAddress[listenAddress.index(after: colon)...]),
              (0...65_535).contains(port) else {
            throw ValidationError("--listen must be HOST:PORT, not \(listenAddress)")
        }
        configuration.listenHost = String(listenAddress[..<colon])
        configuration.listenPort = port
        configuration.dataDirectory = dataDirectory ?? environment["STROM_DATA_DIR"] ?? configuration.dataDirectory

        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .info
            return handler
        }
        try await BrokerService.run(configuration: configuration, logger: Logger(label: "strom"))
    }
}
