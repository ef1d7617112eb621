import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import StromAdmin
import StromBroker

/// `strom serve`: runs one broker. Settings come from flags, then the environment
/// (`STROM_LISTEN`, `STROM_DATA_DIR`, `STROM_CONFIG`, `STROM_NUM_PARTITIONS`, ...), then a
/// Kafka-style properties file, then defaults (``BrokerSettings``); the command only parses.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Run a broker: alone on its embedded metadata, or in a cluster on etcd (--etcd).")

    @Option(name: .long, help: "HOST:PORT to listen on; port 0 picks a free port (env STROM_LISTEN; default 127.0.0.1:9092).")
    var listen: String?

    @Option(name: [.customLong("data-dir"), .customLong("data")], help: "Data directory (env STROM_DATA_DIR; default ./strom-data).")
    var dataDirectory: String?

    @Option(name: .customLong("node-id"), help: "This broker's node.id, unique in its cluster (default 0).")
    var nodeId: Int32?

    @Option(name: .long, help: "Join the cluster whose metadata is in etcd: HOST:PORT[,HOST:PORT...] (etcd.endpoints; env STROM_ETCD_ENDPOINTS). Without it the broker runs alone.")
    var etcd: String?

    @Option(name: .customLong("admin-listen"), help: "HOST:PORT of the admin listener (/metrics, /health, /ready); empty turns it off (admin.listen; env STROM_ADMIN_LISTEN; default 127.0.0.1:9644).")
    var adminListen: String?

    @Option(name: .customLong("alerts-file"), help: "Alert rules (JSON): consumer lag, partition and broker conditions, webhooks (alerts.file; env STROM_ALERTS_FILE). Needs the admin listener.")
    var alertsFile: String?

    @Option(name: .long, help: "HOST:PORT clients and other brokers connect to (advertised.listeners); default: the listen address.")
    var advertise: String?

    @Option(name: .long, help: "A properties file with Kafka's broker names (node.id, num.partitions, log.retention.ms, ...) (env STROM_CONFIG).")
    var config: String?

    @Option(name: .customLong("override"), help: ArgumentHelp(
        "A broker setting as KEY=VALUE with Kafka's name (num.partitions=3); repeatable; wins over the environment and the file.",
        valueName: "key=value"))
    var overrides: [String] = []

    func run() async throws {
        var flags: [String: String] = [:]
        for override in overrides {
            guard let equals = override.firstIndex(of: "="), equals != override.startIndex else {
                throw ValidationError("--override needs KEY=VALUE, not \(override)")
            }
            flags[String(override[..<equals])] = String(override[override.index(after: equals)...])
        }
        if let listen { flags[BrokerSettings.listenKey] = listen }
        if let dataDirectory { flags[BrokerSettings.dataDirectoryKey] = dataDirectory }
        if let config { flags[BrokerSettings.configFileKey] = config }
        if let nodeId { flags["node.id"] = String(nodeId) }
        if let etcd { flags["etcd.endpoints"] = etcd }
        if let advertise { flags["advertised.listeners"] = advertise }
        if let adminListen { flags[BrokerSettings.adminListenKey] = adminListen }
        if let alertsFile { flags[BrokerSettings.alertsFileKey] = alertsFile }
        let configuration: BrokerConfiguration
        do {
            configuration = try await BrokerSettings.load(flags: flags)
        } catch {
            throw ValidationError("\(error)")
        }

        if configuration.alertsFile != nil && configuration.adminListen == nil {
            throw ValidationError("alerts.file needs the admin listener (admin.listen), which evaluates the rules")
        }
        let format = configuration.logFormat
        LoggingSystem.bootstrap { label in format.handler(label: label) }
        let admin = configuration.adminListen.map {
            AdminServer(
                host: $0.host, port: $0.port, alertsFile: configuration.alertsFile,
                access: ConsoleAccess(
                    host: $0.host, passwordHash: configuration.consolePasswordHash,
                    readOnlyPasswordHash: configuration.consoleReadOnlyPasswordHash),
                logger: Logger(label: "strom.admin"))
        }
        try await BrokerService.run(configuration: configuration, logger: Logger(label: "strom"), companion: admin)
    }
}
