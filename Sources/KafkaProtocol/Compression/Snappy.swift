import CSnappy
import NIOCore

/// Kafka's snappy codec, through snappy-c.
///
/// Clients send one of two formats:
/// - raw snappy (one block: a varint uncompressed length, then the compressed data), what librdkafka writes;
/// - xerial framing, what the Java client writes (`org.xerial.snappy.SnappyOutputStream`) and kafka-python
///   by default: the 16-byte header `0x82 "SNAPPY" 0x00`, big-endian int32 version, big-endian int32
///   compatible version, then blocks, each a big-endian int32 length followed by that many bytes of raw snappy.
///
/// We read both and write raw snappy, which xerial's reader (and so the Java client) also accepts.
enum Snappy {
    /// The first 8 bytes of a xerial-framed stream.
    private static let xerialMagic: [UInt8] = [0x82, 0x53, 0x4E, 0x41, 0x50, 0x50, 0x59, 0x00]  // 0x82 "SNAPPY" 0
    /// Magic plus the version and compatible-version int32s.
    private static let xerialHeaderSizeBytes = 16
    /// Each xerial block's big-endian int32 length prefix.
    private static let xerialBlockLengthSizeBytes = 4

    static func compress(_ input: ByteBuffer, allocator: ByteBufferAllocator) throws(CompressionError) -> ByteBuffer {
        // Raw snappy stores the uncompressed length as a 32-bit varint.
        guard input.readableBytes <= Int(UInt32.max) else {
            throw .compressFailed(codec: .snappy, reason: "input of \(input.readableBytes) bytes exceeds 4 GiB")
        }
        let capacityBytes = snappy_max_compressed_length(input.readableBytes)
        return try compressOneShot(codec: .snappy, input, capacityBytes: capacityBytes, allocator: allocator) {
            (inputBytes, outputBytes) throws(CompressionError) -> Int in
            var compressedSizeBytes = outputBytes.count
            let status = withNonNullBaseAddress(inputBytes) { inputBase in
                withNonNullBaseAddress(outputBytes) { outputBase in
                    snappy_compress(
                        inputBase.assumingMemoryBound(to: CChar.self),
                        inputBytes.count,
                        outputBase.assumingMemoryBound(to: CChar.self),
                        &compressedSizeBytes
                    )
                }
            }
            guard status == SNAPPY_OK else {
                throw .compressFailed(codec: .snappy, reason: "snappy_compress status \(status.rawValue)")
            }
            return compressedSizeBytes
        }
    }

    static func decompress(
        _ input: ByteBuffer,
        sizeBytesMax: Int,
        allocator: ByteBufferAllocator
    ) throws(CompressionError) -> ByteBuffer {
        // ByteBuffer's closure APIs are untyped `rethrows`, so errors cross them as a `Result`.
        let result = input.withUnsafeReadableBytes { inputBytes in
            Result { () throws(CompressionError) -> ByteBuffer in
                if Self.isXerialFramed(inputBytes) {
                    var output = DecompressionOutput(
                        allocator: allocator,
                        sizeBytesMax: sizeBytesMax,
                        capacityBytesHint: inputBytes.count * 4
                    )
                    try Self.decompressXerialBlocks(
                        UnsafeRawBufferPointer(rebasing: inputBytes[Self.xerialHeaderSizeBytes...]),
                        into: &output
                    )
                    return output.buffer
                }
                // Raw snappy states its size exactly: allocate once, after checking it against the limit.
                let declaredSizeBytes = try Self.declaredSizeBytes(inputBytes)
                guard declaredSizeBytes <= sizeBytesMax else {
                    throw .decompressedSizeExceeded(limitBytes: sizeBytesMax)
                }
                var output = DecompressionOutput(
                    allocator: allocator,
                    sizeBytesMax: sizeBytesMax,
                    capacityBytesHint: declaredSizeBytes
                )
                try Self.decompressBlock(inputBytes, declaredSizeBytes: declaredSizeBytes, into: &output)
                return output.buffer
            }
        }
        return try result.get()
    }

    /// Whether `bytes` start with xerial's magic. Raw snappy can't be mistaken for it in practice: its varint
    /// length would be 10626 bytes followed by a literal tag that doesn't fit the rest of the magic.
    private static func isXerialFramed(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= Self.xerialHeaderSizeBytes && bytes.prefix(Self.xerialMagic.count).elementsEqual(Self.xerialMagic)
    }

    /// Decodes length-prefixed raw snappy blocks until `blocks` is used up.
    ///
    /// The header's version fields are not checked: xerial has only ever written 1, and its reader ignores them.
    private static func decompressXerialBlocks(
        _ blocks: UnsafeRawBufferPointer,
        into output: inout DecompressionOutput
    ) throws(CompressionError) {
        var position = 0
        while position < blocks.count {
            guard blocks.count - position >= Self.xerialBlockLengthSizeBytes else {
                throw .corrupt(codec: .snappy, reason: "truncated xerial block length at byte \(position)")
            }
            let blockSizeBytes = blocks.loadUnaligned(fromByteOffset: position, as: UInt32.self).bigEndian
            position += Self.xerialBlockLengthSizeBytes
            guard blockSizeBytes <= Int32.max, Int(blockSizeBytes) <= blocks.count - position else {
                throw .corrupt(codec: .snappy, reason: "xerial block of \(blockSizeBytes) bytes overruns the input")
            }
            let block = UnsafeRawBufferPointer(rebasing: blocks[position..<(position + Int(blockSizeBytes))])
            let declaredSizeBytes = try Self.declaredSizeBytes(block)
            guard declaredSizeBytes <= output.remainingBytes else {
                throw .decompressedSizeExceeded(limitBytes: output.sizeBytesMax)
            }
            try Self.decompressBlock(block, declaredSizeBytes: declaredSizeBytes, into: &output)
            position += Int(blockSizeBytes)
        }
    }

    /// The uncompressed size a raw snappy block declares (not yet validated against its contents).
    private static func declaredSizeBytes(_ block: UnsafeRawBufferPointer) throws(CompressionError) -> Int {
        var declaredSizeBytes = 0
        let status = withNonNullBaseAddress(block) { blockBase in
            snappy_uncompressed_length(blockBase.assumingMemoryBound(to: CChar.self), block.count, &declaredSizeBytes)
        }
        guard status == SNAPPY_OK else {
            throw .corrupt(codec: .snappy, reason: "invalid uncompressed length header")
        }
        return declaredSizeBytes
    }

    /// Appends one raw snappy block to `output`; the caller checked `declaredSizeBytes` against the limit.
    /// snappy validates every copy and literal against the output bounds and checks that exactly
    /// `declaredSizeBytes` come out.
    private static func decompressBlock(
        _ block: UnsafeRawBufferPointer,
        declaredSizeBytes: Int,
        into output: inout DecompressionOutput
    ) throws(CompressionError) {
        output.reserveWritable(declaredSizeBytes)
        var status = SNAPPY_OK
        output.write { window in
            // In: the window's size, so snappy can never write past it. Out: the bytes written.
            var decodedSizeBytes = window.count
            status = withNonNullBaseAddress(block) { blockBase in
                withNonNullBaseAddress(window) { windowBase in
                    snappy_uncompress(
                        blockBase.assumingMemoryBound(to: CChar.self),
                        block.count,
                        windowBase.assumingMemoryBound(to: CChar.self),
                        &decodedSizeBytes
                    )
                }
            }
            return status == SNAPPY_OK ? decodedSizeBytes : 0
        }
        guard status == SNAPPY_OK else {
            throw .corrupt(codec: .snappy, reason: "snappy_uncompress status \(status.rawValue)")
        }
    }
}
