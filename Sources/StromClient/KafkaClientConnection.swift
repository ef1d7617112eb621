public import KafkaProtocol
public import NIOCore
import NIOPosix
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One TCP connection to one broker: sends generated request types and returns the matching
/// generated responses, at the versions negotiated with ApiVersions when the connection opened.
///
/// ```swift
/// let connection = try await KafkaClientConnection.connect(host: "127.0.0.1", port: 9092, clientId: "tool")
/// let metadata = try await connection.send(MetadataRequest(topics: nil, allowAutoTopicCreation: false))
/// await connection.close()
/// ```
///
/// Calls may run concurrently; they are pipelined on the connection and matched by correlation
/// id. Each call has a timeout (``requestTimeout`` unless the call names one). Closing the
/// connection, or the broker closing it, fails the calls in flight with
/// ``StromClientError/connectionClosed(host:port:reason:)``.
public final class KafkaClientConnection: Sendable {
    public let host: String
    public let port: Int
    public let clientId: String
    /// The default timeout of a call (Kafka's `request.timeout.ms`).
    public let requestTimeout: Duration
    /// What the broker advertised when the connection opened.
    public let apiVersions: BrokerApiVersions

    private let channel: any Channel
    private let lastCorrelationId: Atomic<Int32>

    private init(host: String, port: Int, clientId: String, requestTimeout: Duration, apiVersions: BrokerApiVersions, channel: any Channel, lastCorrelationId: Int32) {
        self.host = host
        self.port = port
        self.clientId = clientId
        self.requestTimeout = requestTimeout
        self.apiVersions = apiVersions
        self.channel = channel
        self.lastCorrelationId = Atomic(lastCorrelationId)
    }

    /// Opens a connection and asks the broker which API versions it serves.
    ///
    /// - Parameters:
    ///   - clientId: sent in every request header (brokers log it and apply quotas by it).
    ///   - requestTimeout: the default timeout of each call.
    ///   - connectTimeout: bounds the TCP connect.
    ///   - unacknowledgedTimeMax: how long sent bytes may stay unacknowledged by the peer's TCP
    ///     before the connection is closed (Linux's TCP_USER_TIMEOUT); nil keeps the system's
    ///     (minutes). A cut network otherwise leaves the connection in TCP's retransmission
    ///     backoff for seconds after the network is back.
    ///   - eventLoopGroup: runs the socket; nil uses NIO's `MultiThreadedEventLoopGroup.singleton`.
    /// - Throws: ``StromClientError/connectionFailed(host:port:reason:)``, or the ApiVersions call's error.
    public static func connect(
        host: String, port: Int, clientId: String = "strom",
        requestTimeout: Duration = ClientLimits.requestTimeoutDefault,
        connectTimeout: Duration = ClientLimits.connectTimeoutDefault,
        unacknowledgedTimeMax: Duration? = nil,
        eventLoopGroup: (any EventLoopGroup)? = nil
    ) async throws(StromClientError) -> KafkaClientConnection {
        let channel: any Channel
        do {
            var bootstrap = ClientBootstrap(group: eventLoopGroup ?? MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(TimeAmount(connectTimeout))
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
            #if os(Linux)
            if let unacknowledgedTimeMax {
                let userTimeout = ChannelOptions.Types.SocketOption(level: .tcp, name: .init(rawValue: CInt(TCP_USER_TIMEOUT)))
                bootstrap = bootstrap.channelOption(userTimeout, value: SocketOptionValue(TimeAmount(unacknowledgedTimeMax).nanoseconds / 1_000_000))
            }
            #endif
            channel = try await bootstrap
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(KafkaFrameHandler(frameSizeBytesMax: ClientLimits.responseFrameSizeBytesMax))
                        try channel.pipeline.syncOperations.addHandler(KafkaClientChannelHandler(host: host, port: port))
                    }
                }
                .connect(host: host, port: port).get()
        } catch {
            throw .connectionFailed(host: host, port: port, reason: connectFailureReason(error))
        }
        do {
            let apiVersions = try await negotiateApiVersions(channel: channel, host: host, port: port, clientId: clientId, timeout: requestTimeout)
            // Correlation ids 1 and 2 may have gone to the handshake.
            return KafkaClientConnection(
                host: host, port: port, clientId: clientId, requestTimeout: requestTimeout, apiVersions: apiVersions,
                channel: channel, lastCorrelationId: 2)
        } catch {
            try? await channel.close()
            throw error
        }
    }

    /// False once the connection has closed (either side).
    public var isOpen: Bool { channel.isActive }

    /// Sends `request` and waits for its response.
    ///
    /// - Parameters:
    ///   - version: the API version to speak; nil picks the highest both sides support
    ///     (``BrokerApiVersions/version(for:minimum:)``).
    ///   - timeout: how long to wait for the response; nil uses ``requestTimeout``.
    /// - Throws: ``StromClientError``: unsupported API or version, encoding, timeout, closed
    ///   connection, cancellation or an undecodable response. Error codes inside the response are
    ///   not checked. A Produce with acks=0 is refused (no answer would come): use
    ///   ``sendWithoutResponse(_:version:)``.
    public func send<Request: KafkaRequestMessage>(
        _ request: Request, version: Int16? = nil, timeout: Duration? = nil
    ) async throws(StromClientError) -> Request.Response {
        if let produce = request as? ProduceRequest, produce.acks == ProduceAcks.unacknowledged.rawValue {
            throw .invalidArgument("Produce with acks=0 gets no response: send it with sendWithoutResponse")
        }
        let version = try self.version(version, for: Request.self)
        let correlationId = nextCorrelationId()
        let frame = try Self.encode(request, version: version, correlationId: correlationId, clientId: clientId)
        let response = try await Self.exchange(
            channel: channel, host: host, port: port, apiKey: Request.apiKey, correlationId: correlationId, frame: frame,
            timeout: timeout ?? requestTimeout)
        do {
            return try KafkaResponseFrame.decode(Request.Response.self, version: version, from: response).body
        } catch {
            throw .malformedResponse(Request.apiKey, reason: "v\(version): \(error)")
        }
    }

    /// Sends a request the broker does not answer (Produce with acks=0); returns once it is written.
    public func sendWithoutResponse<Request: KafkaRequestMessage>(_ request: Request, version: Int16? = nil) async throws(StromClientError) {
        let version = try self.version(version, for: Request.self)
        let correlationId = nextCorrelationId()
        let frame = try Self.encode(request, version: version, correlationId: correlationId, clientId: clientId)
        let call = KafkaClientCall(
            apiKey: Request.apiKey, correlationId: correlationId, frame: frame, responsePromise: nil, timeout: TimeAmount(requestTimeout))
        do {
            try await channel.writeAndFlush(call)
        } catch {
            throw Self.clientError(error, host: host, port: port)
        }
    }

    /// Closes the connection; calls in flight fail with ``StromClientError/connectionClosed(host:port:reason:)``.
    public func close() async {
        // An error here means it was closed already.
        try? await channel.close()
    }

    // MARK: Internals

    /// The caller's version, or the negotiated one.
    private func version<Request: KafkaRequestMessage>(_ requested: Int16?, for request: Request.Type) throws(StromClientError) -> Int16 {
        guard let requested else { return try apiVersions.version(for: request) }
        guard Request.validVersions.contains(requested), Request.Response.validVersions.contains(requested) else {
            throw .unsupportedApi(
                Request.apiKey, brokerVersions: apiVersions.ranges[Request.apiKey],
                clientVersions: Request.validVersions.clamped(to: Request.Response.validVersions))
        }
        return requested
    }

    private func nextCorrelationId() -> Int32 {
        // Kept non-negative: some brokers log negative ids as suspicious.
        lastCorrelationId.wrappingAdd(1, ordering: .relaxed).newValue & Int32.max
    }

    private static func encode<Request: KafkaRequestMessage>(
        _ request: Request, version: Int16, correlationId: Int32, clientId: String
    ) throws(StromClientError) -> ByteBuffer {
        var frame = ByteBuffer()
        do {
            try KafkaRequestFrame.encode(request, version: version, correlationId: correlationId, clientId: clientId, into: &frame)
        } catch {
            throw .encoding(Request.apiKey, version: version, error)
        }
        return frame
    }

    /// Writes one frame and waits for the response frame with its correlation id.
    private static func exchange(
        channel: any Channel, host: String, port: Int, apiKey: ApiKey, correlationId: Int32, frame: ByteBuffer, timeout: Duration
    ) async throws(StromClientError) -> ByteBuffer {
        let promise = channel.eventLoop.makePromise(of: ByteBuffer.self)
        let call = KafkaClientCall(apiKey: apiKey, correlationId: correlationId, frame: frame, responsePromise: promise, timeout: TimeAmount(timeout))
        // If the pipeline is already gone the handler never sees the call: fail it here instead.
        channel.writeAndFlush(call).whenFailure { error in promise.fail(error) }
        do {
            return try await withTaskCancellationHandler {
                try await promise.futureResult.get()
            } onCancel: {
                channel.triggerUserOutboundEvent(KafkaClientCallCancellation(correlationId: correlationId), promise: nil)
            }
        } catch {
            throw clientError(error, host: host, port: port)
        }
    }

    /// NIO's connect error lists every address tried; one line of the underlying causes reads better.
    private static func connectFailureReason(_ error: any Error) -> String {
        guard let error = error as? NIOConnectionError else { return "\(error)" }
        let causes = error.connectionErrors.map { "\($0.error)" } + [error.dnsAError, error.dnsAAAAError].compactMap { $0.map { "\($0)" } }
        var seen = Set<String>()
        let distinct = causes.filter { seen.insert($0).inserted }
        return distinct.isEmpty ? "\(error)" : distinct.joined(separator: "; ")
    }

    private static func clientError(_ error: any Error, host: String, port: Int) -> StromClientError {
        switch error {
        case let error as StromClientError: error
        case is CancellationError: .cancelled
        default: .connectionClosed(host: host, port: port, reason: "\(error)")
        }
    }

    /// ApiVersions at the newest version this build knows. A broker that does not know that
    /// version answers with a v0 body carrying UNSUPPORTED_VERSION and its own range (KIP-511);
    /// the client then asks again at the highest version both know.
    private static func negotiateApiVersions(
        channel: any Channel, host: String, port: Int, clientId: String, timeout: Duration
    ) async throws(StromClientError) -> BrokerApiVersions {
        var version = ApiVersionsRequest.validVersions.upperBound
        for correlationId: Int32 in 1...2 {
            let request = ApiVersionsRequest(clientSoftwareName: "strom", clientSoftwareVersion: "1")
            let frame = try encode(request, version: version, correlationId: correlationId, clientId: clientId)
            let response = try await exchange(
                channel: channel, host: host, port: port, apiKey: .apiVersions, correlationId: correlationId, frame: frame, timeout: timeout)
            // The error code is the body's first field at every version, right after the v0 header.
            let errorCode = response.getInteger(at: response.readerIndex + 4, endianness: .big, as: Int16.self)
            let isUnsupportedVersion = errorCode == KafkaErrorCode.unsupportedVersion.rawValue
            let body: ApiVersionsResponse
            do {
                body = try KafkaResponseFrame.decode(ApiVersionsResponse.self, version: isUnsupportedVersion ? 0 : version, from: response).body
            } catch {
                throw .malformedResponse(.apiVersions, reason: "\(error)")
            }
            let advertised = BrokerApiVersions(body)
            if isUnsupportedVersion, correlationId == 1, let range = advertised.ranges[.apiVersions], range.lowerBound <= version {
                version = Swift.min(range.upperBound, version)
                continue
            }
            if let error = StromClientError.check(body.errorCode, resource: "ApiVersions v\(version)") { throw error }
            return advertised
        }
        throw .unsupportedApi(.apiVersions, brokerVersions: nil, clientVersions: ApiVersionsRequest.validVersions)
    }
}
