import NIOCore

/// Why a broker's byte stream is not a sequence of response frames; the connection is closed.
enum KafkaResponseFrameError: Error, Hashable, Sendable {
    case frameTooLarge(sizeBytes: Int, limitBytes: Int)
    case negativeSize(sizeBytes: Int32)
}

/// Splits the broker's bytes into response frames: a 4-byte big-endian size, then that many
/// bytes. Each frame is passed on without its size prefix as a slice of the receive buffer.
///
/// The size is checked as soon as its 4 bytes are there, before the frame is buffered, so a
/// garbage prefix closes the connection instead of making the client allocate it.
struct KafkaResponseFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    let frameSizeBytesMax: Int

    init(frameSizeBytesMax: Int = ClientLimits.responseFrameSizeBytesMax) {
        self.frameSizeBytesMax = frameSizeBytesMax
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let size = buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: Int32.self) else {
            return .needMoreData
        }
        guard size >= 0 else { throw KafkaResponseFrameError.negativeSize(sizeBytes: size) }
        guard Int(size) <= frameSizeBytesMax else {
            throw KafkaResponseFrameError.frameTooLarge(sizeBytes: Int(size), limitBytes: frameSizeBytesMax)
        }
        guard buffer.readableBytes - 4 >= Int(size) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4)
        // Cannot fail: readableBytes was checked above.
        guard let frame = buffer.readSlice(length: Int(size)) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(frame))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        // Whole frames that arrived with the FIN are still answers; a partial one goes with the connection.
        try decode(context: context, buffer: &buffer)
    }
}

@available(*, unavailable)
extension KafkaResponseFrameDecoder: Sendable {}
