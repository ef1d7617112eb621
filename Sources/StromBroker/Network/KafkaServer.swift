public import Logging
public import NIOCore
internal import NIOPosix
public import ServiceLifecycle
internal import Synchronization

/// Why ``KafkaServer`` could not start.
public enum KafkaServerError: Error, Hashable, Sendable {
    /// A ``KafkaServerConfiguration`` limit is out of range.
    case invalidConfiguration(String)
    /// ``KafkaServer/start()`` was called on a server that is running or has been shut down.
    case alreadyStarted
    /// ``KafkaServer/shutdown()`` was called while ``KafkaServer/start()`` was binding.
    case shutDownWhileStarting
}

/// Accepts Kafka connections on one listener and runs each through the connection pipeline
/// (``ChannelPipeline/SynchronousOperations/addKafkaConnectionHandlers(configuration:processor:connectionId:logger:)``),
/// handing requests to a ``KafkaRequestProcessor``.
///
/// Life cycle: initial → starting → running → shuttingDown → shutDown. Either drive it explicitly:
///
/// ```swift
/// let server = KafkaServer(configuration: .init(port: 0), processor: router)
/// let address = try await server.start()   // address.port is the ephemeral port
/// …
/// await server.shutdown()
/// ```
///
/// or run it in a `ServiceGroup`: ``run()`` starts it, returns after graceful shutdown, and closes
/// every connection at once when its task is cancelled.
///
/// Graceful shutdown stops accepting, sends every connection `ChannelShouldQuiesceEvent` (it stops
/// reading, answers what it has read, then closes) and closes whatever is still open after
/// ``KafkaServerConfiguration/shutdownDrainTimeMax``.
public actor KafkaServer: Service {
    private enum State {
        case initial
        /// Binding; `shutdownWaiters` is non-nil once shutdown was requested meanwhile.
        case starting(shutdownWaiters: [CheckedContinuation<Void, Never>]?)
        case running(serverChannel: any Channel)
        case shuttingDown(waiters: [CheckedContinuation<Void, Never>])
        case shutDown
    }

    public nonisolated let configuration: KafkaServerConfiguration
    private nonisolated let processor: any KafkaRequestProcessor
    private nonisolated let eventLoopGroup: any EventLoopGroup
    /// Runs the listening socket and the connection registry.
    private nonisolated let serverLoop: any EventLoop
    /// Created here rather than at bind so that ``closeAllConnections(reason:)`` works in any state.
    private nonisolated let registry: NIOLoopBoundBox<ConnectionRegistry>
    private nonisolated let connectionIds = ConnectionIdGenerator()
    private nonisolated let logger: Logger
    private var state: State = .initial

    /// - Parameters:
    ///   - configuration: listener and limits; checked by ``start()``.
    ///   - processor: answers every connection's requests.
    ///   - eventLoopGroup: runs the sockets; the caller owns it. nil uses NIO's process-wide
    ///     `MultiThreadedEventLoopGroup.singleton` (one thread per core).
    ///   - logger: server and connection log lines (connections add `peer` and `connection` metadata).
    public init(
        configuration: KafkaServerConfiguration,
        processor: any KafkaRequestProcessor,
        eventLoopGroup: (any EventLoopGroup)? = nil,
        logger: Logger = Logger(label: "strom.network")
    ) {
        var logger = logger
        logger[metadataKey: "listener"] = "\(configuration.host):\(configuration.port)"
        self.configuration = configuration
        self.processor = processor
        let eventLoopGroup = eventLoopGroup ?? MultiThreadedEventLoopGroup.singleton
        self.eventLoopGroup = eventLoopGroup
        self.serverLoop = eventLoopGroup.next()
        self.registry = NIOLoopBoundBox.makeBoxSendingValue(
            ConnectionRegistry(
                eventLoop: self.serverLoop, connectionsMax: configuration.connectionsMax,
                connectionsPerAddressMax: configuration.connectionsPerAddressMax, changed: configuration.connectionsChanged,
                logger: logger),
            eventLoop: self.serverLoop)
        self.logger = logger
    }

    /// The bound address while running (its port is the real one when the configured port was 0).
    public var localAddress: SocketAddress? {
        if case .running(let serverChannel) = self.state { return serverChannel.localAddress }
        return nil
    }

    /// Binds the listener and starts accepting connections.
    /// - Returns: the bound address; with port 0 in the configuration, its port is the ephemeral one.
    /// - Throws: ``KafkaServerError`` for a bad configuration or a second start; NIO's error when
    ///   binding fails (the server can then be started again).
    @discardableResult
    public func start() async throws -> SocketAddress {
        guard case .initial = self.state else { throw KafkaServerError.alreadyStarted }
        try self.configuration.validate()
        self.state = .starting(shutdownWaiters: nil)

        let serverChannel: any Channel
        do {
            serverChannel = try await self.makeBootstrap()
                .bind(host: self.configuration.host, port: self.configuration.port).get()
        } catch {
            guard case .starting(let waiters) = self.state else { preconditionFailure("state changed while starting: \(self.state)") }
            if let waiters {
                self.state = .shutDown
                for waiter in waiters { waiter.resume() }
            } else {
                self.state = .initial
            }
            throw error
        }

        guard case .starting(let waiters) = self.state else { preconditionFailure("state changed while starting: \(self.state)") }
        if let waiters {
            self.state = .shuttingDown(waiters: waiters)
            await self.performShutdown(serverChannel: serverChannel)
            throw KafkaServerError.shutDownWhileStarting
        }
        self.state = .running(serverChannel: serverChannel)
        guard let address = serverChannel.localAddress else {
            // A bound socket always has a local address; if the OS says otherwise, stop cleanly.
            await self.shutdown()
            throw ChannelError.unknownLocalAddress
        }
        self.logger.info("listening", metadata: ["address": "\(KafkaConnectionInfo.format(address))"])
        return address
    }

    /// Stops accepting, lets open connections finish their in-flight requests (at most
    /// ``KafkaServerConfiguration/shutdownDrainTimeMax``), then closes them. Returns once every
    /// connection and the listener are closed; safe to call in any state and more than once.
    public func shutdown() async {
        switch self.state {
        case .initial:
            self.state = .shutDown
        case .starting(let waiters):
            await withCheckedContinuation { continuation in
                self.state = .starting(shutdownWaiters: (waiters ?? []) + [continuation])
            }
        case .running(let serverChannel):
            self.state = .shuttingDown(waiters: [])
            await self.performShutdown(serverChannel: serverChannel)
        case .shuttingDown(let waiters):
            await withCheckedContinuation { continuation in
                self.state = .shuttingDown(waiters: waiters + [continuation])
            }
        case .shutDown:
            break
        }
    }

    /// Runs until graceful shutdown (then drains and returns) or cancellation (then closes every
    /// connection at once and returns). Starts the server unless ``start()`` already did.
    public func run() async throws {
        if case .initial = self.state { try await self.start() }
        guard case .running(let serverChannel) = self.state else { return }
        await withTaskCancellationHandler {
            await withTaskGroup(of: Void.self) { group in
                // Whichever comes first: the service group's shutdown signal (or cancellation,
                // which makes gracefulShutdown() throw), or the listener closing for another reason
                // (a direct shutdown() call).
                group.addTask { try? await gracefulShutdown() }
                group.addTask { try? await serverChannel.closeFuture.get() }
                await group.next()
                group.cancelAll()
                // Closes the listener, so the closeFuture task ends too.
                await self.shutdown()
            }
        } onCancel: {
            self.closeAllConnections(reason: "server task cancelled")
        }
    }

    /// Closes every open connection at once, without waiting for in-flight requests.
    public nonisolated func closeAllConnections(reason: String) {
        let registry = self.registry
        self.serverLoop.execute { registry.value.closeAll(reason: reason) }
    }

    /// Open connections (for tests and metrics).
    public nonisolated func connectionCount() async throws -> Int {
        let registry = self.registry
        return try await self.serverLoop.submit { registry.value.count }.get()
    }

    private func performShutdown(serverChannel: any Channel) async {
        let registry = self.registry
        let serverLoop = self.serverLoop
        let drainTimeMax = self.configuration.shutdownDrainTimeMax
        let drained = serverLoop.flatSubmit {
            // Quiesce first: a connection accepted between here and the listener's close is closed
            // by the registry instead of starting to read.
            let allClosed = registry.value.quiesce()
            serverChannel.close(promise: nil)
            let deadline = serverLoop.scheduleTask(in: drainTimeMax) {
                registry.value.closeAll(reason: "still busy after shutdownDrainTimeMax (\(drainTimeMax))")
            }
            allClosed.whenComplete { _ in deadline.cancel() }
            return allClosed.and(serverChannel.closeFuture).map { _ in () }
        }
        // Neither future fails: quiesce only succeeds, and a close error still completes closeFuture.
        try? await drained.get()
        self.logger.info("stopped")
        guard case .shuttingDown(let waiters) = self.state else { preconditionFailure("not shutting down: \(self.state)") }
        self.state = .shutDown
        for waiter in waiters { waiter.resume() }
    }

    private nonisolated func makeBootstrap() -> ServerBootstrap {
        let configuration = self.configuration
        let processor = self.processor
        let registry = self.registry
        let connectionIds = self.connectionIds
        let logger = self.logger
        return ServerBootstrap(group: self.serverLoop, childGroup: self.eventLoopGroup)
            .serverChannelOption(.backlog, value: Int32(configuration.listenBacklogSize))
            // Kafka sets SO_REUSEADDR so a restarted broker can bind while old sockets sit in TIME_WAIT.
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                // Runs on the server loop, which owns the registry.
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ConnectionRegistryHandler(registry: registry.value))
                }
            }
            // Kafka's acceptor sets TCP_NODELAY (responses are written whole; don't delay the tail)
            // and SO_KEEPALIVE on every connection.
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.socketOption(.so_keepalive), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addKafkaConnectionHandlers(
                        configuration: configuration, processor: processor,
                        connectionId: connectionIds.next(), logger: logger)
                }
            }
    }
}

/// Connection ids, unique per server. Connections initialise on several event loops at once, hence
/// an atomic rather than loop-confined state.
final class ConnectionIdGenerator: Sendable {
    private let counter = Atomic<UInt64>(0)

    func next() -> UInt64 {
        self.counter.wrappingAdd(1, ordering: .relaxed).newValue
    }
}
