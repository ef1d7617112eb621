import CZstd
import NIOCore

/// Kafka's zstd codec: zstd frames through libzstd's streaming API.
enum Zstd {
    /// zstd's default level, and Kafka's (`compression.zstd.level` default 3).
    private static let compressionLevel: Int32 = 3
    /// The smallest decoder window we cap to: 2^23 = 8 MiB covers every non-"ultra" level (1-19) for
    /// streams of unknown size, i.e. what Java and librdkafka producers write by default.
    private static let windowLogFloor = 23
    /// zstd's own default cap (`ZSTD_WINDOWLOG_LIMIT_DEFAULT`): 2^27 = 128 MiB.
    private static let windowLogCeiling = 27

    static func compress(_ input: ByteBuffer, allocator: ByteBufferAllocator) throws(CompressionError) -> ByteBuffer {
        let capacityBytes = ZSTD_compressBound(input.readableBytes)
        guard ZSTD_isError(capacityBytes) == 0 else {
            throw .compressFailed(codec: .zstd, reason: String(cString: ZSTD_getErrorName(capacityBytes)))
        }
        return try compressOneShot(codec: .zstd, input, capacityBytes: capacityBytes, allocator: allocator) {
            (inputBytes, outputBytes) throws(CompressionError) -> Int in
            let result = withNonNullBaseAddress(inputBytes) { inputBase in
                withNonNullBaseAddress(outputBytes) { outputBase in
                    ZSTD_compress(outputBase, outputBytes.count, inputBase, inputBytes.count, Self.compressionLevel)
                }
            }
            guard ZSTD_isError(result) == 0 else {
                throw .compressFailed(codec: .zstd, reason: String(cString: ZSTD_getErrorName(result)))
            }
            return result
        }
    }

    static func decompress(
        _ input: ByteBuffer,
        sizeBytesMax: Int,
        allocator: ByteBufferAllocator
    ) throws(CompressionError) -> ByteBuffer {
        // A DCtx is a DStream (same type since zstd 1.3); this is ZSTD_createDStream with parameters.
        guard let context = ZSTD_createDCtx() else {
            throw .decompressFailed(codec: .zstd, reason: "ZSTD_createDCtx failed")
        }
        defer { ZSTD_freeDCtx(context) }

        // Without this, a frame header alone could make zstd allocate a 128 MiB window for a tiny batch.
        let windowLogMax = Self.windowLogMax(sizeBytesMax: sizeBytesMax)
        let setResult = ZSTD_DCtx_setParameter(context, ZSTD_d_windowLogMax, Int32(windowLogMax))
        guard ZSTD_isError(setResult) == 0 else {
            throw .decompressFailed(codec: .zstd, reason: String(cString: ZSTD_getErrorName(setResult)))
        }

        return try decodeStreamBounded(
            codec: .zstd,
            input: input,
            sizeBytesMax: sizeBytesMax,
            capacityBytesHint: Self.declaredSizeBytes(input) ?? input.readableBytes * 4,
            allocator: allocator
        ) { (inputBytes, outputBytes) throws(CompressionError) -> DecodeStep in
            var inputWindow = ZSTD_inBuffer(src: inputBytes.baseAddress, size: inputBytes.count, pos: 0)
            var outputWindow = ZSTD_outBuffer(dst: outputBytes.baseAddress, size: outputBytes.count, pos: 0)
            // Returns 0 once a frame is decoded and flushed, and stops there; the next call starts the
            // next frame, so concatenated (and skippable) frames work.
            let hint = ZSTD_decompressStream(context, &outputWindow, &inputWindow)
            guard ZSTD_isError(hint) == 0 else {
                throw .corrupt(codec: .zstd, reason: String(cString: ZSTD_getErrorName(hint)))
            }
            return DecodeStep(consumedBytes: inputWindow.pos, producedBytes: outputWindow.pos, isFrameEnd: hint == 0)
        }
    }

    /// log2 of the largest decoder window we accept: enough for the output limit, at least 8 MiB so frames
    /// from every standard level decode, at most zstd's own default of 128 MiB. Frames that need more (levels
    /// 20-22 with a small limit) are rejected as corrupt rather than allowed to allocate it.
    static func windowLogMax(sizeBytesMax: Int) -> Int {
        // ceil(log2(sizeBytesMax)): the bits needed to represent sizeBytesMax - 1.
        let windowLogForLimit = sizeBytesMax <= 1 ? 0 : Int.bitWidth - (sizeBytesMax - 1).leadingZeroBitCount
        return min(Self.windowLogCeiling, max(Self.windowLogFloor, windowLogForLimit))
    }

    /// The content size the first frame's header declares, if any. Only an allocation hint: it may lie, and
    /// the caller clamps it to the limit.
    private static func declaredSizeBytes(_ input: ByteBuffer) -> Int? {
        let declared = input.withUnsafeReadableBytes { bytes in
            ZSTD_getFrameContentSize(bytes.baseAddress, bytes.count)
        }
        // ZSTD_CONTENTSIZE_UNKNOWN and ZSTD_CONTENTSIZE_ERROR are the two largest UInt64 values.
        guard declared < UInt64.max - 1, declared <= UInt64(Int.max) else { return nil }
        return Int(declared)
    }
}
