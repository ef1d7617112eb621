public import NIOCore

/// A record batch's compression codec: bits 0-2 of the v2 batch `attributes` (Kafka's `CompressionType` ids).
///
/// Each codec writes the wire format that every Kafka client reads and reads every format that clients write:
/// - ``gzip``: an RFC 1952 gzip stream (concatenated members are accepted).
/// - ``snappy``: raw snappy on write; raw or xerial-framed snappy (what the Java client writes) on read.
/// - ``lz4``: the LZ4 frame format with independent 64 KiB blocks, which Kafka's Java reader requires.
/// - ``zstd``: zstd frames (concatenated frames are accepted).
///
/// Decompression is bounded: ``decompress(_:sizeBytesMax:allocator:)`` never produces more than `sizeBytesMax`
/// bytes, so a small "zip bomb" batch cannot make the broker allocate without limit.
public enum CompressionCodec: Int8, Sendable, CaseIterable {
    case none = 0
    case gzip = 1
    case snappy = 2
    case lz4 = 3
    case zstd = 4

    /// The codec with Kafka id `id` (the low three bits of a batch's `attributes`).
    ///
    /// - Throws: ``CompressionError/unknownCodec(_:)`` for ids Kafka does not define (5, 6, 7).
    public init(id: Int8) throws(CompressionError) {
        guard let codec = CompressionCodec(rawValue: id) else {
            throw .unknownCodec(id)
        }
        self = codec
    }

    /// Compresses the readable bytes of `input` (leaving `input` unchanged) into a new buffer.
    ///
    /// ``none`` returns `input` itself (no copy). The other codecs use the library defaults Kafka clients use:
    /// gzip level 6, snappy, LZ4 fast mode, zstd level 3.
    ///
    /// - Parameters:
    ///   - input: The bytes to compress (a batch's records section).
    ///   - allocator: Allocates the output buffer.
    /// - Returns: The compressed bytes as the readable bytes of a new buffer.
    /// - Throws: ``CompressionError/compressFailed(codec:reason:)`` if the library fails (out of memory, or
    ///   an input too large for the format).
    public func compress(
        _ input: ByteBuffer,
        allocator: ByteBufferAllocator = ByteBufferAllocator()
    ) throws(CompressionError) -> ByteBuffer {
        switch self {
        case .none: return input
        case .gzip: return try Gzip.compress(input, allocator: allocator)
        case .snappy: return try Snappy.compress(input, allocator: allocator)
        case .lz4: return try LZ4.compress(input, allocator: allocator)
        case .zstd: return try Zstd.compress(input, allocator: allocator)
        }
    }

    /// Decompresses the readable bytes of `input` (leaving `input` unchanged) into a new buffer, producing at
    /// most `sizeBytesMax` bytes.
    ///
    /// Sizes declared inside the compressed data are used only as allocation hints clamped to `sizeBytesMax`.
    /// The output buffer grows in steps capped at `sizeBytesMax`; `ByteBuffer` rounds capacities up to a power
    /// of two, so the allocation stays below `2 * sizeBytesMax`. Library state is bounded too (zlib: 32 KiB
    /// window; LZ4: buffers for one block of at most 4 MiB; zstd: window at most `max(8 MiB, sizeBytesMax)`).
    ///
    /// ``none`` returns `input` itself (no copy) if it fits in `sizeBytesMax`.
    ///
    /// - Parameters:
    ///   - input: The compressed bytes (a batch's records section).
    ///   - sizeBytesMax: The most decompressed bytes to accept; must not be negative.
    ///   - allocator: Allocates the output buffer.
    /// - Returns: The decompressed bytes as the readable bytes of a new buffer.
    /// - Throws: ``CompressionError/decompressedSizeExceeded(limitBytes:)`` as soon as the output would exceed
    ///   `sizeBytesMax`; ``CompressionError/corrupt(codec:reason:)`` for malformed, truncated or trailing
    ///   bytes; ``CompressionError/decompressFailed(codec:reason:)`` if the library cannot start (out of memory).
    public func decompress(
        _ input: ByteBuffer,
        sizeBytesMax: Int,
        allocator: ByteBufferAllocator = ByteBufferAllocator()
    ) throws(CompressionError) -> ByteBuffer {
        precondition(sizeBytesMax >= 0, "sizeBytesMax must not be negative: \(sizeBytesMax)")
        switch self {
        case .none:
            guard input.readableBytes <= sizeBytesMax else {
                throw .decompressedSizeExceeded(limitBytes: sizeBytesMax)
            }
            return input
        case .gzip: return try Gzip.decompress(input, sizeBytesMax: sizeBytesMax, allocator: allocator)
        case .snappy: return try Snappy.decompress(input, sizeBytesMax: sizeBytesMax, allocator: allocator)
        case .lz4: return try LZ4.decompress(input, sizeBytesMax: sizeBytesMax, allocator: allocator)
        case .zstd: return try Zstd.decompress(input, sizeBytesMax: sizeBytesMax, allocator: allocator)
        }
    }
}

/// Why compressing or decompressing a batch failed. Decompression errors caused by the input
/// (``corrupt(codec:reason:)``, ``decompressedSizeExceeded(limitBytes:)``, ``unknownCodec(_:)``) map to Kafka's
/// `CORRUPT_MESSAGE` / `UNSUPPORTED_COMPRESSION_TYPE`; the others are broker-side failures.
public enum CompressionError: Error, Equatable, Sendable {
    /// A batch names a codec id Kafka does not define.
    case unknownCodec(Int8)
    /// Decompressing would produce more than `limitBytes` bytes.
    case decompressedSizeExceeded(limitBytes: Int)
    /// The compressed bytes are malformed, truncated or followed by trailing bytes; `reason` is the library's.
    case corrupt(codec: CompressionCodec, reason: String)
    /// The library failed to compress (out of memory, or input too large for the format).
    case compressFailed(codec: CompressionCodec, reason: String)
    /// The library could not set up decompression (out of memory); not the input's fault.
    case decompressFailed(codec: CompressionCodec, reason: String)
}

// MARK: - Shared decompression machinery

/// Decompressed output that never holds more than `sizeBytesMax` bytes.
struct DecompressionOutput {
    /// The smallest growth step, so that tiny hints don't cause a long series of reallocations.
    static let growthBytesMin = 64 * 1024

    private(set) var buffer: ByteBuffer
    let sizeBytesMax: Int

    /// - Parameter capacityBytesHint: Expected output size, from the input's own header or a guess; clamped to
    ///   `sizeBytesMax`, so a lying header cannot make us allocate beyond the limit.
    init(allocator: ByteBufferAllocator, sizeBytesMax: Int, capacityBytesHint: Int) {
        self.sizeBytesMax = sizeBytesMax
        self.buffer = allocator.buffer(capacity: max(0, min(sizeBytesMax, capacityBytesHint)))
    }

    /// Output bytes still allowed before the limit.
    var remainingBytes: Int { self.sizeBytesMax - self.buffer.writerIndex }

    /// Makes at least `minimumWritableBytes` (at most ``remainingBytes``) writable, growing the buffer by
    /// doubling, capped at `sizeBytesMax`.
    mutating func reserveWritable(_ minimumWritableBytes: Int) {
        precondition(minimumWritableBytes <= self.remainingBytes, "reserving past sizeBytesMax")
        guard self.buffer.writableBytes < minimumWritableBytes else { return }
        let neededCapacityBytes = self.buffer.writerIndex + minimumWritableBytes
        let grownCapacityBytes = max(self.buffer.capacity * 2, Self.growthBytesMin, neededCapacityBytes)
        self.buffer.reserveCapacity(min(self.sizeBytesMax, grownCapacityBytes))
    }

    /// Lets `body` write into the writable bytes, cut to ``remainingBytes``; `body` returns how many it wrote.
    mutating func write(_ body: (UnsafeMutableRawBufferPointer) -> Int) {
        let remainingBytes = self.remainingBytes
        self.buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 0) { writable in
            body(UnsafeMutableRawBufferPointer(rebasing: writable.prefix(remainingBytes)))
        }
    }
}

/// What one call into a streaming decoder did.
struct DecodeStep {
    var consumedBytes: Int
    var producedBytes: Int
    /// The decoder finished a frame (gzip member, LZ4 frame, zstd frame), flushed all of its output, and is
    /// ready to start another frame.
    var isFrameEnd: Bool
}

/// Runs a streaming decoder over `input` until it has consumed every byte and ended its last frame, giving it
/// output space only up to `sizeBytesMax`.
///
/// Once the limit is reached, the decoder gets a one-byte scratch buffer instead: if it writes anything
/// there, the output would exceed the limit. So a bomb is rejected after producing exactly `sizeBytesMax`
/// bytes, while an input that decompresses to exactly `sizeBytesMax` bytes is accepted.
///
/// - Parameter step: One decoder call on the unconsumed input and an output window of at least one byte.
func decodeStreamBounded(
    codec: CompressionCodec,
    input: ByteBuffer,
    sizeBytesMax: Int,
    capacityBytesHint: Int,
    allocator: ByteBufferAllocator,
    step: (UnsafeRawBufferPointer, UnsafeMutableRawBufferPointer) throws(CompressionError) -> DecodeStep
) throws(CompressionError) -> ByteBuffer {
    // ByteBuffer's closure APIs are untyped `rethrows`, so errors cross them as a `Result`.
    let result = input.withUnsafeReadableBytes { inputBytes in
        Result { () throws(CompressionError) -> ByteBuffer in
            guard !inputBytes.isEmpty else {
                throw .corrupt(codec: codec, reason: "empty input")
            }
            var output = DecompressionOutput(
                allocator: allocator,
                sizeBytesMax: sizeBytesMax,
                capacityBytesHint: capacityBytesHint
            )
            var inputPosition = 0
            var stalledAtFrameEnd = false
            // Terminates: each pass consumes input, produces output (bounded by sizeBytesMax), ends, or throws.
            while true {
                let unconsumed = UnsafeRawBufferPointer(rebasing: inputBytes[inputPosition...])
                let decoded: DecodeStep
                if output.remainingBytes > 0 {
                    output.reserveWritable(1)
                    var stepResult: Result<DecodeStep, CompressionError> = .failure(
                        .corrupt(codec: codec, reason: "decoder not called")
                    )
                    output.write { window in
                        stepResult = Result { () throws(CompressionError) in try step(unconsumed, window) }
                        return (try? stepResult.get())?.producedBytes ?? 0
                    }
                    decoded = try stepResult.get()
                } else {
                    var probeByte: UInt8 = 0
                    let probeResult = withUnsafeMutableBytes(of: &probeByte) { probe in
                        Result { () throws(CompressionError) in try step(unconsumed, probe) }
                    }
                    decoded = try probeResult.get()
                    guard decoded.producedBytes == 0 else {
                        throw .decompressedSizeExceeded(limitBytes: sizeBytesMax)
                    }
                }
                inputPosition += decoded.consumedBytes

                let madeProgress = decoded.consumedBytes > 0 || decoded.producedBytes > 0
                if decoded.isFrameEnd {
                    if inputPosition == inputBytes.count {
                        return output.buffer
                    }
                    // A frame end without progress twice in a row would loop forever.
                    guard madeProgress || !stalledAtFrameEnd else {
                        throw .corrupt(codec: codec, reason: "decoder stalled between frames")
                    }
                    stalledAtFrameEnd = !madeProgress
                } else if !madeProgress {
                    // The decoder had input or at least one byte of output space and did nothing: it needs
                    // input that isn't there.
                    throw .corrupt(codec: codec, reason: "truncated input")
                } else {
                    stalledAtFrameEnd = false
                }
            }
        }
    }
    return try result.get()
}

/// Calls `body` with a non-null address for `bytes`: some C APIs reject NULL even with a zero length, and an
/// empty buffer pointer may have no base address.
func withNonNullBaseAddress<Value>(
    _ bytes: UnsafeRawBufferPointer,
    _ body: (UnsafeRawPointer) -> Value
) -> Value {
    if let baseAddress = bytes.baseAddress {
        return body(baseAddress)
    }
    var placeholder: UInt8 = 0
    return withUnsafePointer(to: &placeholder) { body(UnsafeRawPointer($0)) }
}

/// ``withNonNullBaseAddress(_:_:)`` for output buffers.
func withNonNullBaseAddress<Value>(
    _ bytes: UnsafeMutableRawBufferPointer,
    _ body: (UnsafeMutableRawPointer) -> Value
) -> Value {
    if let baseAddress = bytes.baseAddress {
        return body(baseAddress)
    }
    var placeholder: UInt8 = 0
    return withUnsafeMutablePointer(to: &placeholder) { body(UnsafeMutableRawPointer($0)) }
}

/// Below this much unused capacity, a compressed buffer is returned as is: copying would cost more than it saves.
private let compactionSlackBytesMin = 64 * 1024

/// Runs `body` on the readable bytes of `input` and a freshly allocated output of `capacityBytes`, returning
/// the output with the bytes `body` reports as written. Used by the one-shot compressors.
func compressOneShot(
    codec: CompressionCodec,
    _ input: ByteBuffer,
    capacityBytes: Int,
    allocator: ByteBufferAllocator,
    body: (UnsafeRawBufferPointer, UnsafeMutableRawBufferPointer) throws(CompressionError) -> Int
) throws(CompressionError) -> ByteBuffer {
    // ByteBuffer's capacity is a UInt32; the bound of an input near 4 GiB can exceed it.
    guard capacityBytes <= Int(UInt32.max) else {
        throw .compressFailed(codec: codec, reason: "output bound \(capacityBytes) bytes exceeds ByteBuffer's maximum")
    }
    var output = allocator.buffer(capacity: capacityBytes)
    let result = input.withUnsafeReadableBytes { inputBytes in
        var bodyResult: Result<Int, CompressionError> = .success(0)
        output.writeWithUnsafeMutableBytes(minimumWritableBytes: capacityBytes) { writable in
            let window = UnsafeMutableRawBufferPointer(rebasing: writable.prefix(capacityBytes))
            bodyResult = Result { () throws(CompressionError) in try body(inputBytes, window) }
            return (try? bodyResult.get()) ?? 0
        }
        return bodyResult
    }
    _ = try result.get()
    // The worst-case bound (rounded up to a power of two by ByteBuffer) is often several times the actual
    // output, and callers may keep the result (a recompressed batch): hand back a right-sized copy then.
    let slackBytes = output.capacity - output.readableBytes
    guard slackBytes > output.readableBytes, slackBytes > compactionSlackBytesMin else {
        return output
    }
    var compacted = allocator.buffer(capacity: output.readableBytes)
    compacted.writeImmutableBuffer(output)
    return compacted
}
