/// The client's bounds, each with where its number comes from.
public enum ClientLimits {
    /// The largest response frame accepted, size prefix excluded. A fetch answer is bounded by the
    /// request's `maxBytes` (Kafka's `fetch.max.bytes`, 50 MiB) plus one batch that may exceed it
    /// (KIP-74) of at most `message.max.bytes` (1 MiB by default, often raised); 128 MiB leaves room
    /// for both while still refusing a garbage size prefix (a TLS alert read as a length).
    public static let responseFrameSizeBytesMax = 128 << 20

    /// Calls in flight on one connection. The broker answers in order and stops reading at its own
    /// limit (Strom: `inFlightRequestsMax`), so more than this only queues in socket buffers; a
    /// caller that reaches it is leaking calls.
    public static let inFlightRequestsMax = 1_024

    /// Kafka's `request.timeout.ms` default (30 s).
    public static let requestTimeoutDefault: Duration = .seconds(30)

    /// Kafka's `socket.connection.setup.timeout.ms` default (10 s).
    public static let connectTimeoutDefault: Duration = .seconds(10)

    /// Decompressed records of one fetched batch: Kafka's default `message.max.bytes` is 1 MiB and
    /// codecs rarely exceed 10x; 256 MiB refuses a decompression bomb without refusing real data.
    public static let decompressedBatchSizeBytesMax = 256 << 20
}
