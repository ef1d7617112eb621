public import NIOCore

/// One record of a v2 batch. Key, value and headers are slices of the batch bytes.
///
/// Layout: length varint, attributes int8, timestampDelta varlong, offsetDelta varint,
/// keyLength varint (-1 null), key, valueLength varint (-1 null), value, headerCount varint,
/// then per header: keyLength varint, key (UTF-8, never null), valueLength varint (-1 null), value.
public struct Record: Sendable {
    public var attributes: Int8
    public var timestampDelta: Int64
    public var offsetDelta: Int32
    public var key: ByteBuffer?
    public var value: ByteBuffer?
    public var headers: RecordHeaders

    init(from body: inout ByteBuffer, index: Int32) throws(KafkaDecodingError) {
        attributes = try body.readKafkaInt8()
        timestampDelta = try body.readKafkaVarlong()
        offsetDelta = try body.readKafkaVarint()
        key = try Self.readVarintBytes(&body, field: "key")
        value = try Self.readVarintBytes(&body, field: "value")
        let headerCount = try body.readKafkaVarint()
        guard headerCount >= 0 else { throw KafkaDecodingError.negativeLength(Int64(headerCount)) }
        // Every header takes at least two bytes: a bound before trusting the count.
        guard Int(headerCount) <= body.readableBytes / 2 else {
            throw KafkaDecodingError.lengthOverrun(length: Int64(headerCount), readableBytes: body.readableBytes)
        }
        // Walk the headers once to check their framing, then keep them as one slice to decode lazily.
        let headersStart = body
        for _ in 0..<headerCount {
            _ = try RecordHeaders.readHeader(&body)
        }
        let headerBytes = headersStart.getSlice(at: headersStart.readerIndex, length: body.readerIndex - headersStart.readerIndex)
        headers = RecordHeaders(count: Int(headerCount), bytes: headerBytes ?? ByteBuffer())
    }

    static func readVarintBytes(_ buffer: inout ByteBuffer, field: String) throws(KafkaDecodingError) -> ByteBuffer? {
        let length = try buffer.readKafkaVarint()
        if length == -1 { return nil }
        guard length >= 0 else { throw KafkaDecodingError.negativeLength(Int64(length)) }
        guard let slice = buffer.readSlice(length: Int(length)) else {
            throw KafkaDecodingError.lengthOverrun(length: Int64(length), readableBytes: buffer.readableBytes)
        }
        return slice
    }
}

/// The headers of one record, decoded lazily from their bytes.
public struct RecordHeaders: Sendable, Sequence {
    public let count: Int
    let bytes: ByteBuffer

    public struct Header: Sendable, Hashable {
        /// The header key's UTF-8 bytes.
        public var key: ByteBuffer
        public var value: ByteBuffer?
        public var keyString: String { String(buffer: key) }
    }

    static func readHeader(_ buffer: inout ByteBuffer) throws(KafkaDecodingError) -> Header {
        let keyLength = try buffer.readKafkaVarint()
        guard keyLength >= 0 else { throw KafkaDecodingError.unexpectedNull(field: "header key") }
        guard let key = buffer.readSlice(length: Int(keyLength)) else {
            throw KafkaDecodingError.lengthOverrun(length: Int64(keyLength), readableBytes: buffer.readableBytes)
        }
        let value = try Record.readVarintBytes(&buffer, field: "header value")
        return Header(key: key, value: value)
    }

    public struct Iterator: IteratorProtocol {
        var remaining: ByteBuffer
        public mutating func next() -> Header? {
            // The framing was validated when the record was read, so this cannot fail.
            guard remaining.readableBytes > 0 else { return nil }
            return try? RecordHeaders.readHeader(&remaining)
        }
    }

    public func makeIterator() -> Iterator { Iterator(remaining: bytes) }
}
