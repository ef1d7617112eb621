public import KafkaProtocol
import NIOCore
import Synchronization

/// Connects the network layer to a ``Broker``. The server may start before the broker (to learn
/// its ephemeral port); until ``attach(_:)`` a connection is closed rather than answered wrongly.
public final class BrokerRequestProcessor: KafkaRequestProcessor {
    private let broker = Mutex<Broker?>(nil)
    /// Whether responses may carry file regions: true for plain TCP; TLS needs the bytes in memory.
    private let sendsFiles: Bool

    public init(sendsFiles: Bool = true) {
        self.sendsFiles = sendsFiles
    }

    public func attach(_ broker: Broker) {
        self.broker.withLock { $0 = broker }
    }

    public func process(_ request: KafkaRequest, connection: KafkaConnectionInfo) async -> KafkaResponseAction {
        await process(request, connection: connection, orderedPhaseDone: {})
    }

    public func process(
        _ request: KafkaRequest, connection: KafkaConnectionInfo, orderedPhaseDone: @escaping @Sendable () -> Void
    ) async -> KafkaResponseAction {
        guard let broker = broker.withLock({ $0 }) else { return .close(reason: "broker still starting") }
        switch await broker.handle(
            request, sendsFiles: sendsFiles, clientHost: Self.clientHost(connection.remoteAddress), connectionId: connection.connectionId,
            orderedPhaseDone: orderedPhaseDone) {
        case .response(let frame): return .respond(frame)
        case .responseParts(let parts, let whenWritten): return .respondWithParts(parts, whenWritten: { _ in whenWritten() })
        case .noResponse: return .noResponse
        case .close(let reason): return .close(reason: reason)
        }
    }

    public func connectionClosed(_ connection: KafkaConnectionInfo) {
        broker.withLock { $0 }?.connectionClosed(connection.connectionId)
    }

    /// Kafka's form of a client address in group descriptions: "/127.0.0.1".
    static func clientHost(_ address: SocketAddress?) -> String {
        address?.ipAddress.map { "/\($0)" } ?? ""
    }

    public func processUnsupportedVersion(_ error: KafkaRequestFrameError, connection: KafkaConnectionInfo) async -> KafkaResponseAction {
        // Kafka answers an ApiVersions request of an unknown version at version 0 with
        // UNSUPPORTED_VERSION and its ranges; any other unknown version closes the connection.
        guard case .unsupportedVersion(.apiVersions, _, let correlationId) = error, let broker = broker.withLock({ $0 }) else {
            return .close(reason: "\(error)")
        }
        return .respond(broker.unsupportedApiVersionsResponse(correlationId: correlationId))
    }
}
