public import NIOCore

/// Why the byte stream of a connection is not a sequence of Kafka frames. Either error closes the
/// connection: nothing after a bad size prefix can be trusted to start a frame.
public enum KafkaFrameError: Error, Hashable, Sendable {
    /// The size prefix announces more than the limit (a broker's `socket.request.max.bytes`). Kafka
    /// reports the same case as `InvalidReceiveException: Invalid receive (size = … larger than …)`;
    /// a TLS client talking to a plaintext port typically shows up here (the handshake's first
    /// bytes read as ~369 MB).
    case frameTooLarge(sizeBytes: Int, limitBytes: Int)
    /// The size prefix is negative (its top bit is set).
    case negativeSize(sizeBytes: Int32)
}

/// Splits a connection's bytes into Kafka frames: a 4-byte big-endian size, then that many bytes.
/// Requests (broker side) and responses (client side) are framed alike.
///
/// A frame that lies wholly in one read is passed on as a slice of that read's buffer, without a
/// copy, so produce batches and fetched records stay views of the bytes the socket delivered. A
/// frame split over reads is assembled once, in one buffer of its size. (NIO's
/// `ByteToMessageHandler` keeps one growing buffer instead; while slices of it are still held —
/// records waiting for the disk — each compaction of that buffer copies it into a new allocation.)
///
/// The size is checked against ``frameSizeBytesMax`` as soon as its 4 bytes are there, before any
/// of the frame is buffered.
public struct KafkaFrameSplitter {
    /// The largest frame accepted, size prefix excluded.
    public let frameSizeBytesMax: Int
    /// The bytes of a frame begun in an earlier read (its size prefix included).
    private var partial: ByteBuffer?

    public init(frameSizeBytesMax: Int) {
        precondition(frameSizeBytesMax >= 0, "frameSizeBytesMax must not be negative: \(frameSizeBytesMax)")
        self.frameSizeBytesMax = frameSizeBytesMax
    }

    /// How many bytes of an unfinished frame are held (0 between frames).
    public var bufferedBytes: Int { partial?.readableBytes ?? 0 }

    /// Consumes `input` whole, calling `frame` for every frame it completes, in order (without size
    /// prefixes); the bytes of an unfinished last frame are kept for the next call.
    /// - Throws: ``KafkaFrameError`` when a size prefix is negative or above ``frameSizeBytesMax``;
    ///   the splitter must not be used afterwards.
    public mutating func split(_ input: inout ByteBuffer, frame: (ByteBuffer) -> Void) throws(KafkaFrameError) {
        if partial != nil {
            guard try fillPartial(from: &input) else { return }
            var completed = partial.take()!
            completed.moveReaderIndex(forwardBy: 4)
            frame(completed)
        }
        while let size = try size(at: input.readerIndex, in: input), input.readableBytes - 4 >= size {
            input.moveReaderIndex(forwardBy: 4)
            // Cannot fail: readableBytes was checked above.
            frame(input.readSlice(length: size)!)
        }
        guard input.readableBytes > 0 else { return }
        partial = ByteBuffer()
        _ = try fillPartial(from: &input)
    }

    /// The frame size announced at `index`, validated; nil while its 4 bytes are not all there.
    private func size(at index: Int, in buffer: ByteBuffer) throws(KafkaFrameError) -> Int? {
        guard let size = buffer.getInteger(at: index, endianness: .big, as: Int32.self) else { return nil }
        guard size >= 0 else { throw .negativeSize(sizeBytes: size) }
        guard Int(size) <= frameSizeBytesMax else { throw .frameTooLarge(sizeBytes: Int(size), limitBytes: frameSizeBytesMax) }
        return Int(size)
    }

    /// Moves bytes of `input` into the unfinished frame. Returns whether the frame is complete.
    private mutating func fillPartial(from input: inout ByteBuffer) throws(KafkaFrameError) -> Bool {
        var buffer = partial.take()!
        defer { partial = buffer }
        if buffer.readableBytes < 4 {
            var prefix = input.readSlice(length: min(4 - buffer.readableBytes, input.readableBytes))!
            buffer.writeBuffer(&prefix)
            guard let size = try size(at: buffer.readerIndex, in: buffer) else { return false }
            // The one allocation this frame gets: its size (NIO rounds it up to a power of two).
            var exact = ByteBufferAllocator().buffer(capacity: 4 + size)
            exact.writeBuffer(&buffer)
            buffer = exact
        }
        let size = Int(buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: Int32.self)!)
        var part = input.readSlice(length: min(4 + size - buffer.readableBytes, input.readableBytes))!
        buffer.writeBuffer(&part)
        return buffer.readableBytes == 4 + size
    }
}

/// The channel handler around ``KafkaFrameSplitter``: reads in, frames out (`ByteBuffer`s without
/// size prefixes). A bad size prefix is passed to `errorCaught` as a ``KafkaFrameError`` and
/// everything after it on the connection is dropped; the handlers after it close the connection.
/// An unfinished frame goes with the connection, as Kafka does.
///
/// ```swift
/// try channel.pipeline.syncOperations.addHandler(KafkaFrameHandler(frameSizeBytesMax: 104_857_600))
/// ```
public final class KafkaFrameHandler: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer

    private var splitter: KafkaFrameSplitter
    private var failed = false
    /// Frames split from reads, passed on in order; a handler further on may cause a read while
    /// one is being passed on (re-entrantly): that read's frames queue behind.
    private var ready = CircularBuffer<ByteBuffer>(initialCapacity: 4)
    private var passingOn = false

    public init(frameSizeBytesMax: Int) {
        splitter = KafkaFrameSplitter(frameSizeBytesMax: frameSizeBytesMax)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        var input = Self.unwrapInboundIn(data)
        do {
            try splitter.split(&input) { ready.append($0) }
        } catch {
            failed = true
            ready.removeAll()
            context.fireErrorCaught(error)
            return
        }
        guard !passingOn else { return }
        passingOn = true
        defer { passingOn = false }
        while let frame = ready.popFirst() {
            context.fireChannelRead(Self.wrapInboundOut(frame))
        }
    }
}

@available(*, unavailable)
extension KafkaFrameHandler: Sendable {}
