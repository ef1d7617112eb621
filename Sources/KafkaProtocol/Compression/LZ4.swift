import CLZ4
import NIOCore

/// Kafka's lz4 codec: the LZ4 frame format (lz4frame.h), not raw LZ4 blocks.
///
/// Frames are written as Kafka's Java client writes them: independent 64 KiB blocks, no content size, no
/// checksums beyond the header's. Independence matters: the Java reader (`Lz4BlockInputStream`) decodes each
/// block on its own and cannot read liblz4's default linked blocks. Old clients' broken header checksum
/// (KAFKA-3160, message format v0/v1 only) is not accepted.
enum LZ4 {
    static func compress(_ input: ByteBuffer, allocator: ByteBufferAllocator) throws(CompressionError) -> ByteBuffer {
        var preferences = LZ4F_preferences_t()  // all zero: fast mode, no checksums, no content size
        preferences.frameInfo.blockSizeID = LZ4F_max64KB
        preferences.frameInfo.blockMode = LZ4F_blockIndependent
        let capacityBytes = LZ4F_compressFrameBound(input.readableBytes, &preferences)
        return try compressOneShot(codec: .lz4, input, capacityBytes: capacityBytes, allocator: allocator) {
            (inputBytes, outputBytes) throws(CompressionError) -> Int in
            let result = withNonNullBaseAddress(inputBytes) { inputBase in
                withNonNullBaseAddress(outputBytes) { outputBase in
                    LZ4F_compressFrame(outputBase, outputBytes.count, inputBase, inputBytes.count, &preferences)
                }
            }
            guard LZ4F_isError(result) == 0 else {
                throw .compressFailed(codec: .lz4, reason: String(cString: LZ4F_getErrorName(result)))
            }
            return result
        }
    }

    static func decompress(
        _ input: ByteBuffer,
        sizeBytesMax: Int,
        allocator: ByteBufferAllocator
    ) throws(CompressionError) -> ByteBuffer {
        var context: OpaquePointer?
        let created = LZ4F_createDecompressionContext(&context, UInt32(LZ4F_VERSION))
        guard LZ4F_isError(created) == 0, let context else {
            throw .decompressFailed(codec: .lz4, reason: String(cString: LZ4F_getErrorName(created)))
        }
        defer { _ = LZ4F_freeDecompressionContext(context) }

        return try decodeStreamBounded(
            codec: .lz4,
            input: input,
            sizeBytesMax: sizeBytesMax,
            capacityBytesHint: input.readableBytes * 4,
            allocator: allocator
        ) { (inputBytes, outputBytes) throws(CompressionError) -> DecodeStep in
            var consumedBytes = inputBytes.count
            var producedBytes = outputBytes.count
            // Returns 0 once a frame is decoded and flushed; the context then expects a new frame, so
            // concatenated frames decode in sequence (and trailing garbage fails the next magic check).
            let hint = withNonNullBaseAddress(inputBytes) { inputBase in
                withNonNullBaseAddress(outputBytes) { outputBase in
                    LZ4F_decompress(context, outputBase, &producedBytes, inputBase, &consumedBytes, nil)
                }
            }
            guard LZ4F_isError(hint) == 0 else {
                throw .corrupt(codec: .lz4, reason: String(cString: LZ4F_getErrorName(hint)))
            }
            return DecodeStep(consumedBytes: consumedBytes, producedBytes: producedBytes, isFrameEnd: hint == 0)
        }
    }
}
