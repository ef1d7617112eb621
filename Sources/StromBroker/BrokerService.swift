import Foundation
public import Logging
#if canImport(Glibc)
import Glibc
#endif

/// glibc's `malloc_trim(0)` (a GNU extension the Glibc module does not export), looked up once.
private let mallocTrim: (@convention(c) (Int) -> Int32)? = {
    #if canImport(Glibc)
    guard let symbol = dlsym(nil, "malloc_trim") else { return nil }
    return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
    #else
    return nil
    #endif
}()

private func releaseFreedMemory() {
    _ = mallocTrim?(0)
}
import NIOCore
import ServiceLifecycle

/// Runs a broker until SIGTERM or SIGINT: binds the listener, opens the data directory, serves,
/// and on the signal stops accepting, lets in-flight requests finish, then flushes every log and
/// writes the clean-shutdown marker.
public enum BrokerService {
    /// - Parameter companion: started first and stopped last (the admin listener).
    public static func run(configuration: BrokerConfiguration, logger: Logger, companion: (any BrokerCompanion)? = nil) async throws {
        var configuration = configuration
        if let companion, let admin = configuration.adminListen {
            let port = try await companion.start()
            // DescribeConfigs reports the bound port (the CLI finds the listener by it), not 0.
            configuration.adminListen = (admin.host, port)
            // Tests and scripts read this line to learn the admin port.
            FileHandle.standardOutput.write(Data("strom admin listening on \(admin.host):\(port)\n".utf8))
        }
        do {
            try await serve(configuration: configuration, logger: logger, companion: companion)
        } catch {
            await companion?.stop()
            throw error
        }
        await companion?.stop()
    }

    private static func serve(configuration: BrokerConfiguration, logger: Logger, companion: (any BrokerCompanion)?) async throws {
        let openFilesLimit = OpenFilesLimit.raiseToHardLimit()
        logger.info("descriptor limit \(openFilesLimit), log files open at most \(configuration.logFilesOpenMax ?? OpenFilesLimit.defaultLogFilesOpenMax)")
        let processor = BrokerRequestProcessor()
        var serverConfiguration = KafkaServerConfiguration(host: configuration.listenHost, port: configuration.listenPort)
        serverConfiguration.frameSizeBytesMax = configuration.requestSizeBytesMax
        serverConfiguration.connectionsMax = configuration.connectionsMax
        serverConfiguration.connectionsPerAddressMax = configuration.connectionsPerAddressMax
        serverConfiguration.connectionIdleTimeMax = .milliseconds(configuration.connectionIdleTimeMaxMs)
        if let metrics = companion?.metrics {
            serverConfiguration.requestQueued = { apiKey, waited in metrics.queued(apiKey: apiKey, waited: waited) }
            serverConfiguration.connectionsChanged = { count, opened in metrics.connectionsChanged(count: count, opened: opened) }
        }
        let server = KafkaServer(configuration: serverConfiguration, processor: processor, logger: logger)
        let address = try await server.start()
        let port = address.port ?? configuration.listenPort
        let broker = try await Broker.start(
            configuration: configuration, advertisedHost: configuration.advertisedHost ?? configuration.listenHost,
            advertisedPort: configuration.advertisedPort ?? port, logger: logger, metrics: companion?.metrics ?? BrokerMetrics())
        processor.attach(broker)
        for log in broker.logs.allLogs {
            if let reason = log.offlineReason { logger.error("partition \(log.topicPartition) is offline: \(reason)") }
        }
        let readiness = ReadinessService(
            announce: {
                companion?.brokerStarted(broker)
                // Tests and scripts read this line to learn the port, and may stop the broker at once.
                FileHandle.standardOutput.write(Data("strom listening on \(configuration.listenHost):\(port) data \(configuration.dataDirectory)\n".utf8))
            },
            stopping: { companion?.brokerStopping() })
        let group = ServiceGroup(
            configuration: .init(
                // Shut down in reverse order: leaderships move away while the server still answers.
                services: [
                    .init(service: server), .init(service: MaintenanceService(broker: broker, logger: logger)),
                    .init(service: LagSamplingService(broker: broker)),
                    .init(service: ControlledShutdownService(broker: broker)), .init(service: readiness),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        companion?.brokerStopping()
        try await broker.shutdown()
        logger.info("strom stopped cleanly")
    }
}

/// The last service of the group: when it runs the group already traps SIGTERM and SIGINT, so
/// the broker may say it listens and become ready (a stop right after is a clean one); at graceful
/// shutdown it stops first, and the broker is no longer ready while the others wind down.
struct ReadinessService: Service {
    let announce: @Sendable () -> Void
    let stopping: @Sendable () -> Void

    func run() async throws {
        announce()
        try? await gracefulShutdown()
        stopping()
    }
}

/// Flush-by-policy, retention and compaction, once a second, until graceful shutdown; then
/// memory the broker freed is handed back to the system (glibc keeps freed request buffers in
/// its arenas otherwise, and RSS only grows).
struct MaintenanceService: Service {
    let broker: Broker
    let logger: Logger

    func run() async throws {
        let broker = self.broker
        let logger = self.logger
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                if Task.isCancelled { break }
                do {
                    for (partition, corruption) in try broker.runMaintenance() {
                        logger.error("partition \(partition) is offline: \(corruption)")
                    }
                } catch {
                    logger.error("maintenance failed: \(error)")
                }
                releaseFreedMemory()
            }
        }
    }
}

/// A lag sample of the groups coordinated here once a second (``Broker/sampleConsumerLag()``) and
/// the throughput totals for the console's history (``Broker/sampleThroughput()``), on
/// its own task: asking other brokers for offsets may wait on a slow one, and flushes, retention
/// and compaction must not wait with it.
struct LagSamplingService: Service {
    let broker: Broker

    func run() async throws {
        let broker = self.broker
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                if Task.isCancelled { break }
                broker.sampleThroughput()
                await broker.sampleConsumerLag()
            }
        }
    }
}

/// Waits for SIGTERM, then (in a cluster) moves this broker's leaderships to other in-sync
/// replicas before the other services stop.
struct ControlledShutdownService: Service {
    let broker: Broker

    func run() async throws {
        try? await gracefulShutdown()
        await broker.cluster?.controlledShutdown()
    }
}
