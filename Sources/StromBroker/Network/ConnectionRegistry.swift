internal import Logging
internal import NIOCore

/// The server's open connections: enforces `max.connections` and `max.connections.per.ip`, and drives graceful shutdown
/// (quiesce every connection, report when the last one closed, force-close at the deadline).
///
/// Confined to the server channel's event loop, where accepted channels arrive; a connection's
/// close is hopped back here. No lock: one loop owns the dictionary.
final class ConnectionRegistry {
    let eventLoop: any EventLoop
    private let connectionsMax: Int
    private let connectionsPerAddressMax: Int
    private let logger: Logger
    private var connections: [ObjectIdentifier: any Channel] = [:]
    /// Open connections by client address (without port).
    private var connectionsByAddress: [String: Int] = [:]
    private var quiescing = false
    private var drained: (promise: EventLoopPromise<Void>?, future: EventLoopFuture<Void>)?

    /// Told the count after each admission and close (metrics).
    private let changed: (@Sendable (_ count: Int, _ opened: Bool) -> Void)?

    init(
        eventLoop: any EventLoop, connectionsMax: Int, connectionsPerAddressMax: Int = .max,
        changed: (@Sendable (_ count: Int, _ opened: Bool) -> Void)? = nil, logger: Logger
    ) {
        self.changed = changed
        self.eventLoop = eventLoop
        self.connectionsMax = connectionsMax
        self.connectionsPerAddressMax = connectionsPerAddressMax
        self.logger = logger
    }

    var count: Int {
        self.eventLoop.preconditionInEventLoop()
        return self.connections.count
    }

    /// Decides on a freshly accepted connection (not yet registered or initialised).
    /// - Returns: true to hand it on to the bootstrap; false when it was closed here.
    func admit(_ connection: any Channel) -> Bool {
        self.eventLoop.preconditionInEventLoop()
        if self.quiescing {
            self.logger.debug("closing connection accepted during shutdown", metadata: ["peer": "\(Self.peer(connection))"])
            connection.close(promise: nil)
            return false
        }
        guard self.connections.count < self.connectionsMax else {
            self.logger.warning(
                "refusing connection: max.connections (\(self.connectionsMax)) reached",
                metadata: ["peer": "\(Self.peer(connection))"])
            connection.close(promise: nil)
            return false
        }
        let address = connection.remoteAddress?.ipAddress ?? ""
        guard self.connectionsByAddress[address, default: 0] < self.connectionsPerAddressMax else {
            self.logger.warning(
                "refusing connection: max.connections.per.ip (\(self.connectionsPerAddressMax)) reached",
                metadata: ["peer": "\(Self.peer(connection))"])
            connection.close(promise: nil)
            return false
        }
        let id = ObjectIdentifier(connection)
        self.connections[id] = connection
        self.connectionsByAddress[address, default: 0] += 1
        self.changed?(self.connections.count, true)
        connection.closeFuture.hop(to: self.eventLoop).assumeIsolated().whenComplete { _ in
            self.remove(id, address: address)
        }
        return true
    }

    private func remove(_ id: ObjectIdentifier, address: String) {
        self.connections[id] = nil
        self.changed?(self.connections.count, false)
        self.connectionsByAddress[address, default: 1] -= 1
        if self.connectionsByAddress[address] == 0 { self.connectionsByAddress[address] = nil }
        if self.quiescing && self.connections.isEmpty, let promise = self.drained?.promise {
            self.drained?.promise = nil
            promise.succeed()
        }
    }

    /// Stops admitting and asks every connection to finish its in-flight requests and close
    /// (`ChannelShouldQuiesceEvent`, handled by ``KafkaRequestHandler``).
    /// - Returns: a future that succeeds when no connection is left; idempotent.
    func quiesce() -> EventLoopFuture<Void> {
        self.eventLoop.preconditionInEventLoop()
        if let drained = self.drained { return drained.future }
        self.quiescing = true
        let promise = self.eventLoop.makePromise(of: Void.self)
        self.drained = (promise, promise.futureResult)
        self.logger.info("draining connections", metadata: ["connections": "\(self.connections.count)"])
        for connection in self.connections.values {
            connection.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
        if self.connections.isEmpty {
            self.drained?.promise = nil
            promise.succeed()
        }
        return promise.futureResult
    }

    /// Closes every connection now (drain deadline passed, or the service was cancelled).
    func closeAll(reason: String) {
        self.eventLoop.preconditionInEventLoop()
        guard !self.connections.isEmpty else { return }
        self.logger.warning("closing \(self.connections.count) connections: \(reason)")
        for connection in self.connections.values {
            connection.close(promise: nil)
        }
    }

    private static func peer(_ connection: any Channel) -> String {
        KafkaConnectionInfo.format(connection.remoteAddress)
    }
}

@available(*, unavailable)
extension ConnectionRegistry: Sendable {}

/// The server channel's handler in front of NIO's accept handler: every accepted connection
/// passes ``ConnectionRegistry/admit(_:)`` before it is initialised.
final class ConnectionRegistryHandler: ChannelInboundHandler {
    typealias InboundIn = any Channel
    typealias InboundOut = any Channel

    private let registry: ConnectionRegistry

    init(registry: ConnectionRegistry) {
        self.registry = registry
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if self.registry.admit(Self.unwrapInboundIn(data)) {
            context.fireChannelRead(data)
        }
    }
}

@available(*, unavailable)
extension ConnectionRegistryHandler: Sendable {}
