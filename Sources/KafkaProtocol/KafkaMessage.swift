public import NIOCore

/// A value with Kafka's versioned wire encoding: a generated message, header, record schema or one
/// of their nested structs. Decoding and encoding take the version because the same type stands for
/// every version; fields a version lacks decode to their defaults.
public protocol KafkaMessage: Sendable, Hashable {
    /// Reads one value at `version`, consuming exactly its bytes.
    /// - Throws: ``KafkaDecodingError`` for truncated or malformed input; never traps on bad bytes.
    init(from buffer: inout ByteBuffer, version: Int16) throws(KafkaDecodingError)
    /// Appends the encoding at `version`.
    /// - Throws: ``KafkaEncodingError`` when the value cannot be expressed at `version` (a set field
    ///   the version lacks that is not ignorable, a null where the version forbids it, an oversize string).
    func write(into buffer: inout ByteBuffer, version: Int16) throws(KafkaEncodingError)
}

/// A top-level definition with its own version range.
public protocol KafkaVersionedMessage: KafkaMessage {
    static var validVersions: ClosedRange<Int16> { get }
    /// Lowest version that uses KIP-482's flexible encoding; nil when no version does.
    static var flexibleVersionsLowest: Int16? { get }
    static var deprecatedVersions: ClosedRange<Int16>? { get }
}

extension KafkaVersionedMessage {
    public static func isFlexible(version: Int16) -> Bool {
        guard let lowest = flexibleVersionsLowest else { return false }
        return version >= lowest
    }
}

/// A request or response body of one API.
public protocol KafkaApiMessage: KafkaVersionedMessage {
    static var apiKey: ApiKey { get }
}

public protocol KafkaRequestMessage: KafkaApiMessage {
    associatedtype Response: KafkaResponseMessage
}

public protocol KafkaResponseMessage: KafkaApiMessage {}

extension KafkaMessage {
    /// Encodes into a new buffer; for tests and control paths (hot paths write into a reused buffer).
    public func encoded(version: Int16, allocator: ByteBufferAllocator = ByteBufferAllocator()) throws(KafkaEncodingError) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 64)
        try write(into: &buffer, version: version)
        return buffer
    }
}
