public import KafkaProtocol
public import NIOCore

/// What the connection pipeline hands decoded requests to: the broker's router (one handler per API
/// key) implements it. The pipeline owns framing, ordering, back-pressure and connection lifetime;
/// the processor only turns a request into a ``KafkaResponseAction``.
///
/// Calls for one connection may run concurrently (up to
/// ``KafkaServerConfiguration/inFlightRequestsMax``) and finish in any order; the pipeline writes the
/// responses in request order. A call whose connection closes meanwhile is cancelled
/// (`Task.isCancelled`); it should then return promptly, and whatever it returns is discarded.
public protocol KafkaRequestProcessor: Sendable {
    /// Answers one decoded request.
    /// - Parameters:
    ///   - request: the header and typed body; byte fields (produce records) are slices of the frame.
    ///   - connection: who sent it, for quotas, sessions and logs.
    /// - Returns: what to write back; `.respond` must hold a whole response frame, size prefix included.
    func process(_ request: KafkaRequest, connection: KafkaConnectionInfo) async -> KafkaResponseAction

    /// As ``process(_:connection:)``, calling `orderedPhaseDone` as soon as the connection's next
    /// request may start (its effects on state are made; only waiting remains). The default calls
    /// it when the answer is ready: one request after the other.
    func process(
        _ request: KafkaRequest, connection: KafkaConnectionInfo, orderedPhaseDone: @escaping @Sendable () -> Void
    ) async -> KafkaResponseAction

    /// Answers a frame whose header names an API this broker knows at a version it does not decode.
    ///
    /// Kafka answers an ApiVersions request of an unknown version with UNSUPPORTED_VERSION (35) in an
    /// ApiVersions v0 response listing the supported ranges (the client then retries with a version
    /// both sides know), and closes the connection for any other API. The default does the latter
    /// for every API; the router overrides it to answer ApiVersions. Only
    /// ``KafkaRequestFrameError/unsupportedVersion(apiKey:apiVersion:correlationId:)`` comes here:
    /// other decoding errors always close the connection.
    func processUnsupportedVersion(
        _ error: KafkaRequestFrameError, connection: KafkaConnectionInfo
    ) async -> KafkaResponseAction

    /// The connection closed (once per connection): what belongs to it ends (share sessions).
    func connectionClosed(_ connection: KafkaConnectionInfo)
}

extension KafkaRequestProcessor {
    public func process(
        _ request: KafkaRequest, connection: KafkaConnectionInfo, orderedPhaseDone: @escaping @Sendable () -> Void
    ) async -> KafkaResponseAction {
        let action = await process(request, connection: connection)
        orderedPhaseDone()
        return action
    }
}

extension KafkaRequestProcessor {
    public func connectionClosed(_ connection: KafkaConnectionInfo) {}

    public func processUnsupportedVersion(
        _ error: KafkaRequestFrameError, connection: KafkaConnectionInfo
    ) async -> KafkaResponseAction {
        .close(reason: "\(error)")
    }
}

/// The connection a request arrived on.
public struct KafkaConnectionInfo: Sendable, Hashable, CustomStringConvertible {
    /// Unique among the connections of one server since it started.
    public var connectionId: UInt64
    /// The client's address; nil only when the socket closed before it could be read.
    public var remoteAddress: SocketAddress?
    /// The broker's address of this connection (which listener it reached).
    public var localAddress: SocketAddress?

    public init(connectionId: UInt64, remoteAddress: SocketAddress?, localAddress: SocketAddress?) {
        self.connectionId = connectionId
        self.remoteAddress = remoteAddress
        self.localAddress = localAddress
    }

    /// Kafka's connection id shape, `local-remote-index`, for logs.
    public var description: String {
        "\(Self.format(self.localAddress))-\(Self.format(self.remoteAddress))-\(self.connectionId)"
    }

    static func format(_ address: SocketAddress?) -> String {
        guard let address else { return "unknown" }
        if let ip = address.ipAddress, let port = address.port { return "\(ip):\(port)" }
        return "\(address)"
    }
}

/// What the pipeline does once a request has been processed, in request order.
public enum KafkaResponseAction: Sendable {
    /// Writes one whole response frame, its 4-byte size prefix included (``KafkaResponseFrame/encode``
    /// writes exactly that).
    case respond(ByteBuffer)
    /// Writes one response frame made of parts, for zero-copy Fetch: the record data of each
    /// partition is a ``KafkaResponseFileSlice`` sent with `sendfile` (NIO `FileRegion`) between the
    /// encoded bytes around it. The first part must be `.bytes` starting with the size prefix, and
    /// the prefix must equal the size of all parts minus 4.
    ///
    /// `whenWritten` is called exactly once, on the connection's event loop: with success when the
    /// last part has been handed to the kernel, or with the error when the connection fails or closes
    /// first (including before this response's turn). Until then the file descriptors must stay open;
    /// release segment references there, and keep it short.
    case respondWithParts([KafkaResponsePart], whenWritten: (@Sendable (Result<Void, any Error>) -> Void)? = nil)
    /// Writes nothing: `acks=0` produce requests get no response.
    case noResponse
    /// Closes the connection once the responses before this one are written (Kafka closes on
    /// requests it cannot serve, such as an unsupported API version). `reason` is logged.
    case close(reason: String)
}

/// One piece of a ``KafkaResponseAction/respondWithParts(_:whenWritten:)`` response.
public enum KafkaResponsePart: Sendable {
    /// Encoded bytes (headers, partition metadata, size fields).
    case bytes(ByteBuffer)
    /// A byte range of a file, sent without copying it through user space.
    case file(KafkaResponseFileSlice)

    var sizeBytes: Int {
        switch self {
        case .bytes(let buffer): buffer.readableBytes
        case .file(let slice): slice.sizeBytes
        }
    }
}

/// A byte range of an open file (a segment's `.log`), sent as is.
///
/// The descriptor is borrowed: the pipeline wraps it for the duration of the write and never
/// closes it. Each response gets its own short-lived NIO handle, so many connections may send from
/// the same descriptor at once (one shared `NIOFileHandle` would refuse concurrent use with EBUSY).
public struct KafkaResponseFileSlice: Sendable, Hashable {
    /// An open descriptor readable with `sendfile`; stays open until `whenWritten` runs.
    public var fileDescriptor: CInt
    /// Byte position in the file where the slice starts (a position, not a Kafka offset).
    public var positionBytes: Int
    public var sizeBytes: Int

    public init(fileDescriptor: CInt, positionBytes: Int, sizeBytes: Int) {
        self.fileDescriptor = fileDescriptor
        self.positionBytes = positionBytes
        self.sizeBytes = sizeBytes
    }
}
