public import NIOCore

/// Where the broker listens and the limits of its connection pipeline. Every limit is named after
/// the Kafka broker config it mirrors; defaults are Kafka's unless the comment says why not.
public struct KafkaServerConfiguration: Sendable {
    /// Kafka's `socket.request.max.bytes` default: 100 MiB.
    public static let frameSizeBytesMaxDefault = 104_857_600
    /// Per-connection pipelining bound; see ``inFlightRequestsMax``.
    public static let inFlightRequestsMaxDefault = 100
    /// Kafka's `connections.max.idle.ms` default: 10 minutes.
    public static let connectionIdleTimeMaxDefault = TimeAmount.milliseconds(600_000)
    /// See ``connectionsMax``.
    public static let connectionsMaxDefault = 10_000
    /// Kafka's `socket.listen.backlog.size` default.
    public static let listenBacklogSizeDefault = 50
    /// See ``shutdownDrainTimeMax``.
    public static let shutdownDrainTimeMaxDefault = TimeAmount.seconds(30)

    /// Interface to bind (Kafka's `listeners` host part); "0.0.0.0" for all IPv4 interfaces.
    public var host: String
    /// Port to bind; 0 picks an ephemeral port, reported by ``KafkaServer/start()``.
    public var port: Int
    /// Kafka's `socket.request.max.bytes`: the largest request frame accepted (size prefix excluded).
    /// A larger size prefix closes the connection before any of the frame is buffered, so one
    /// connection holds at most this much request data.
    public var frameSizeBytesMax: Int
    /// Requests one connection may have between "frame read" and "response written". At the bound
    /// the connection stops reading (TCP back-pressure reaches the client), so a client that sends
    /// without reading responses cannot make the broker buffer without limit. Kafka itself mutes a
    /// connection while one request is in flight (`max.in.flight.requests.per.connection`, default
    /// 5, is the client's pipelining); 100 leaves room for pipelining clients while bounding the
    /// memory and tasks per connection to 100 requests and 100 responses. Broker-wide, Kafka bounds
    /// the same with `queued.max.requests` (500).
    public var inFlightRequestsMax: Int
    /// Kafka's `connections.max.idle.ms`: a connection with no bytes read or written for this long,
    /// and no request in flight, is closed.
    public var connectionIdleTimeMax: TimeAmount
    /// Kafka's `max.connections`: connections accepted beyond this are closed at once with a log
    /// line. Kafka's default is unlimited (2147483647); ours is finite because every connection
    /// costs a file descriptor and up to ``frameSizeBytesMax`` of buffer.
    public var connectionsMax: Int
    /// Kafka's `max.connections.per.ip` (default unlimited): one client address's share of
    /// ``connectionsMax``, so that one host cannot take every descriptor.
    public var connectionsPerAddressMax: Int = .max
    /// Kafka's `socket.listen.backlog.size`: pending connections the kernel queues before accept.
    public var listenBacklogSize: Int
    /// Graceful shutdown: how long open connections may take to finish their in-flight requests
    /// after accepting stops, before they are closed regardless. Not a Kafka config (Kafka bounds its
    /// whole controlled shutdown instead); keep it below the `ServiceGroup`'s
    /// `maximumGracefulShutdownDuration`.
    public var shutdownDrainTimeMax: TimeAmount

    /// Told how long each request waited between being read and being processed (metrics).
    public var requestQueued: (@Sendable (_ apiKey: Int16, _ waited: Duration) -> Void)?
    /// Told the open connection count after each connection is admitted or closed (metrics).
    public var connectionsChanged: (@Sendable (_ count: Int, _ opened: Bool) -> Void)?

    public init(
        host: String = "127.0.0.1",
        port: Int = 9092,
        frameSizeBytesMax: Int = Self.frameSizeBytesMaxDefault,
        inFlightRequestsMax: Int = Self.inFlightRequestsMaxDefault,
        connectionIdleTimeMax: TimeAmount = Self.connectionIdleTimeMaxDefault,
        connectionsMax: Int = Self.connectionsMaxDefault,
        listenBacklogSize: Int = Self.listenBacklogSizeDefault,
        shutdownDrainTimeMax: TimeAmount = Self.shutdownDrainTimeMaxDefault
    ) {
        self.host = host
        self.port = port
        self.frameSizeBytesMax = frameSizeBytesMax
        self.inFlightRequestsMax = inFlightRequestsMax
        self.connectionIdleTimeMax = connectionIdleTimeMax
        self.connectionsMax = connectionsMax
        self.listenBacklogSize = listenBacklogSize
        self.shutdownDrainTimeMax = shutdownDrainTimeMax
    }

    /// Checks every limit is in range; ``KafkaServer/start()`` calls it before binding.
    /// - Throws: ``KafkaServerError/invalidConfiguration(_:)`` naming the first bad setting.
    public func validate() throws(KafkaServerError) {
        func check(_ valid: Bool, _ message: @autoclosure () -> String) throws(KafkaServerError) {
            if !valid { throw .invalidConfiguration(message()) }
        }
        try check((0...65_535).contains(self.port), "port must be in 0...65535: \(self.port)")
        try check((0...Int(Int32.max)).contains(self.frameSizeBytesMax), "frameSizeBytesMax (socket.request.max.bytes) must be in 0...\(Int32.max): \(self.frameSizeBytesMax)")
        try check(self.inFlightRequestsMax >= 1, "inFlightRequestsMax must be at least 1: \(self.inFlightRequestsMax)")
        try check(self.connectionIdleTimeMax > .zero, "connectionIdleTimeMax (connections.max.idle.ms) must be positive: \(self.connectionIdleTimeMax)")
        try check(self.connectionsPerAddressMax >= 1, "connectionsPerAddressMax (max.connections.per.ip) must be at least 1: \(self.connectionsPerAddressMax)")
        try check(self.connectionsMax >= 1, "connectionsMax (max.connections) must be at least 1: \(self.connectionsMax)")
        try check((1...Int(Int32.max)).contains(self.listenBacklogSize), "listenBacklogSize (socket.listen.backlog.size) must be in 1...\(Int32.max): \(self.listenBacklogSize)")
        try check(self.shutdownDrainTimeMax >= .zero, "shutdownDrainTimeMax must not be negative: \(self.shutdownDrainTimeMax)")
    }
}
