public import NIOCore

/// Why the byte stream of a connection is not a sequence of Kafka frames. Either error closes the
/// connection: nothing after a bad size prefix can be trusted to start a frame.
public enum KafkaFrameError: Error, Hashable, Sendable {
    /// The size prefix announces more than `socket.request.max.bytes`. Kafka reports the same case as
    /// `InvalidReceiveException: Invalid receive (size = … larger than …)`; a TLS client talking to a
    /// plaintext port typically shows up here (the handshake's first bytes read as ~369 MB).
    case frameTooLarge(sizeBytes: Int, limitBytes: Int)
    /// The size prefix is negative (its top bit is set).
    case negativeSize(sizeBytes: Int32)
}

/// Splits a connection's bytes into Kafka frames: a 4-byte big-endian size, then that many bytes.
///
/// Each frame is passed on as a `readSlice` of the receive buffer, without its size prefix and
/// without a copy, so produce batches stay views of the bytes the socket delivered.
///
/// The size is checked against ``frameSizeBytesMax`` as soon as its 4 bytes are there, before any of
/// the frame is buffered: an oversized or negative size throws ``KafkaFrameError`` (the
/// `ByteToMessageHandler` passes it to `errorCaught`, where ``KafkaRequestHandler`` logs it and closes
/// the connection). The reader index does not move until a whole frame is readable, as
/// `ByteToMessageDecoder` requires.
///
/// ```swift
/// try channel.pipeline.syncOperations.addHandler(
///     ByteToMessageHandler(KafkaFrameDecoder(frameSizeBytesMax: 104_857_600)))
/// ```
public struct KafkaFrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = ByteBuffer

    /// Kafka's `socket.request.max.bytes`: the largest frame accepted, size prefix excluded.
    public let frameSizeBytesMax: Int

    /// - Parameter frameSizeBytesMax: the largest frame accepted (`socket.request.max.bytes`, default
    ///   ``KafkaServerConfiguration/frameSizeBytesMaxDefault``); must not be negative.
    public init(frameSizeBytesMax: Int = KafkaServerConfiguration.frameSizeBytesMaxDefault) {
        precondition(frameSizeBytesMax >= 0, "frameSizeBytesMax must not be negative: \(frameSizeBytesMax)")
        self.frameSizeBytesMax = frameSizeBytesMax
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = try self.nextFrame(in: &buffer) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(frame))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        // Whole frames that arrived with the FIN are still requests; a partial one is dropped with the
        // connection, as Kafka does.
        try self.decode(context: context, buffer: &buffer)
    }

    /// The next whole frame, or nil when more bytes are needed; moves `buffer`'s reader index only
    /// when it returns a frame.
    /// - Throws: ``KafkaFrameError`` when the size prefix is negative or above ``frameSizeBytesMax``.
    func nextFrame(in buffer: inout ByteBuffer) throws(KafkaFrameError) -> ByteBuffer? {
        guard let size = buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: Int32.self) else {
            return nil
        }
        guard size >= 0 else { throw .negativeSize(sizeBytes: size) }
        let sizeBytes = Int(size)
        guard sizeBytes <= self.frameSizeBytesMax else {
            throw .frameTooLarge(sizeBytes: sizeBytes, limitBytes: self.frameSizeBytesMax)
        }
        guard buffer.readableBytes - 4 >= sizeBytes else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        // Cannot fail: readableBytes was checked above.
        return buffer.readSlice(length: sizeBytes)
    }
}

@available(*, unavailable)
extension KafkaFrameDecoder: Sendable {}
