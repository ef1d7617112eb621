import CZlib
import NIOCore

/// Kafka's gzip codec: an RFC 1952 gzip stream through zlib.
enum Gzip {
    /// deflate/inflate window: 2^15 bytes, zlib's maximum.
    private static let windowBits: Int32 = 15
    /// Added to ``windowBits`` to make deflate write a gzip (not zlib) header and trailer.
    private static let gzipWrapperBits: Int32 = 16
    /// Added to ``windowBits`` to make inflate accept a gzip or zlib header, detected from the first bytes.
    private static let autoDetectWrapperBits: Int32 = 32
    /// zlib's default memLevel (`DEF_MEM_LEVEL`, not exported by zlib.h): 128 KiB of compression state.
    private static let memoryLevel: Int32 = 8
    /// Smallest gzip member: 10-byte header, 2-byte empty deflate block, 8-byte trailer.
    private static let memberSizeBytesMin = 20

    static func compress(_ input: ByteBuffer, allocator: ByteBufferAllocator) throws(CompressionError) -> ByteBuffer {
        let stream = try ZStream(codec: .gzip, failure: CompressionError.compressFailed) { stream in
            // The deflateInit2 macro doesn't import into Swift; this is what it expands to.
            deflateInit2_(
                stream,
                Z_DEFAULT_COMPRESSION,  // level 6, as Java's GZIPOutputStream
                Z_DEFLATED,
                windowBits + gzipWrapperBits,
                memoryLevel,
                Z_DEFAULT_STRATEGY,
                ZLIB_VERSION,
                Int32(MemoryLayout<z_stream>.size)
            )
        } end: { stream in
            deflateEnd(stream)
        }
        defer { stream.close() }

        // With deflateBound bytes of output space, deflate(Z_FINISH) completes in one call.
        let capacityBytes = Int(deflateBound(stream.pointer, uLong(input.readableBytes)))
        return try compressOneShot(codec: .gzip, input, capacityBytes: capacityBytes, allocator: allocator) {
            (inputBytes, outputBytes) throws(CompressionError) -> Int in
            let z = stream.pointer
            let status = withNonNullBaseAddress(inputBytes) { inputBase in
                withNonNullBaseAddress(outputBytes) { outputBase in
                    // zlib never writes through next_in; the mutable type is an artefact of its C API.
                    z.pointee.next_in = UnsafeMutablePointer(mutating: inputBase.assumingMemoryBound(to: Bytef.self))
                    z.pointee.avail_in = uInt(inputBytes.count)
                    z.pointee.next_out = outputBase.assumingMemoryBound(to: Bytef.self)
                    z.pointee.avail_out = uInt(outputBytes.count)
                    return deflate(z, Z_FINISH)
                }
            }
            guard status == Z_STREAM_END else {
                throw .compressFailed(codec: .gzip, reason: stream.message(status: status))
            }
            return outputBytes.count - Int(z.pointee.avail_out)
        }
    }

    static func decompress(
        _ input: ByteBuffer,
        sizeBytesMax: Int,
        allocator: ByteBufferAllocator
    ) throws(CompressionError) -> ByteBuffer {
        let stream = try ZStream(codec: .gzip, failure: CompressionError.decompressFailed) { stream in
            inflateInit2_(
                stream,
                windowBits + autoDetectWrapperBits,
                ZLIB_VERSION,
                Int32(MemoryLayout<z_stream>.size)
            )
        } end: { stream in
            inflateEnd(stream)
        }
        defer { stream.close() }

        return try decodeStreamBounded(
            codec: .gzip,
            input: input,
            sizeBytesMax: sizeBytesMax,
            capacityBytesHint: Self.declaredSizeBytes(input) ?? input.readableBytes * 4,
            allocator: allocator
        ) { (inputBytes, outputBytes) throws(CompressionError) -> DecodeStep in
            let z = stream.pointer
            // avail_in/avail_out are 32-bit; a partial window is fine, the driver loops.
            let inputWindowBytes = min(inputBytes.count, Int(uInt.max))
            let outputWindowBytes = min(outputBytes.count, Int(uInt.max))
            let status = withNonNullBaseAddress(inputBytes) { inputBase in
                withNonNullBaseAddress(outputBytes) { outputBase in
                    z.pointee.next_in = UnsafeMutablePointer(mutating: inputBase.assumingMemoryBound(to: Bytef.self))
                    z.pointee.avail_in = uInt(inputWindowBytes)
                    z.pointee.next_out = outputBase.assumingMemoryBound(to: Bytef.self)
                    z.pointee.avail_out = uInt(outputWindowBytes)
                    return inflate(z, Z_NO_FLUSH)
                }
            }
            var decoded = DecodeStep(
                consumedBytes: inputWindowBytes - Int(z.pointee.avail_in),
                producedBytes: outputWindowBytes - Int(z.pointee.avail_out),
                isFrameEnd: false
            )
            switch status {
            case Z_OK, Z_BUF_ERROR:
                // Z_BUF_ERROR only means no progress was possible; the driver decides if that is truncation.
                break
            case Z_STREAM_END:
                // Java's GZIPInputStream reads concatenated members, so we do too; resetting also makes
                // any trailing non-gzip bytes fail the next header check.
                decoded.isFrameEnd = true
                guard inflateReset(z) == Z_OK else {
                    throw .decompressFailed(codec: .gzip, reason: "inflateReset failed")
                }
            case Z_MEM_ERROR:
                throw .decompressFailed(codec: .gzip, reason: stream.message(status: status))
            default:
                // Z_DATA_ERROR, Z_NEED_DICT (a zlib stream with a preset dictionary), Z_STREAM_ERROR.
                throw .corrupt(codec: .gzip, reason: stream.message(status: status))
            }
            return decoded
        }
    }

    /// The size a single-member stream declares in its trailer (ISIZE: size mod 2^32), if the input is long
    /// enough to have one. Only an allocation hint: it may lie, and the caller clamps it to the limit.
    private static func declaredSizeBytes(_ input: ByteBuffer) -> Int? {
        guard input.readableBytes >= Self.memberSizeBytesMin else { return nil }
        return input.getInteger(at: input.writerIndex - 4, endianness: .little, as: UInt32.self).map { Int($0) }
    }
}

/// A heap-allocated `z_stream` with its init/end pair.
///
/// Heap, not a Swift `var`: zlib keeps a pointer back to the `z_stream` and rejects calls from any other
/// address (`inflateStateCheck`), and Swift does not promise a stable address for `&variable` across calls.
private struct ZStream {
    let pointer: UnsafeMutablePointer<z_stream>
    private let end: (UnsafeMutablePointer<z_stream>) -> Int32

    init(
        codec: CompressionCodec,
        failure: (CompressionCodec, String) -> CompressionError,
        initialize: (UnsafeMutablePointer<z_stream>) -> Int32,
        end: @escaping (UnsafeMutablePointer<z_stream>) -> Int32
    ) throws(CompressionError) {
        let pointer = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        // All-zero: zalloc/zfree/opaque = Z_NULL selects zlib's default allocator.
        pointer.initialize(to: z_stream())
        let status = initialize(pointer)
        guard status == Z_OK else {
            pointer.deinitialize(count: 1)
            pointer.deallocate()
            throw failure(codec, "zlib init failed with status \(status)")
        }
        self.pointer = pointer
        self.end = end
    }

    /// Frees zlib's state and the `z_stream`; call exactly once.
    func close() {
        _ = self.end(self.pointer)
        self.pointer.deinitialize(count: 1)
        self.pointer.deallocate()
    }

    /// zlib's message for the last error, or the status code when it has none.
    func message(status: Int32) -> String {
        if let message = self.pointer.pointee.msg {
            return String(cString: message)
        }
        return "zlib status \(status)"
    }
}
