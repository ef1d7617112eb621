import KafkaProtocol
@_spi(CustomByteBufferAllocator) import NIOCore
import Synchronization
import StromTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

private let oneMebibyte = 1 << 20
private let compressingCodecs = CompressionCodec.allCases.filter { $0 != .none }

@Suite("Compression codecs")
struct CompressionTests {
    // MARK: Round trips

    @Test("round trip: empty, small, 1 MiB text-like, 1 MiB random", arguments: CompressionCodec.allCases)
    func roundTrip(codec: CompressionCodec) throws {
        let seed = testSeed()
        var random = SplitMix64(seed: seed)
        let inputs: [(name: String, bytes: ByteBuffer)] = [
            ("empty", ByteBuffer()),
            ("small", ByteBuffer(string: "hello, kafka")),
            ("1 MiB text-like", textLike(sizeBytes: oneMebibyte, random: &random)),
            ("1 MiB random", ByteBuffer(bytes: randomBytes(count: oneMebibyte, using: &random))),
        ]
        for (name, input) in inputs {
            let compressed = try codec.compress(input)
            // The exact size as the limit: a stream that fills the limit exactly is accepted.
            let decompressed = try codec.decompress(compressed, sizeBytesMax: input.readableBytes)
            #expect(decompressed == input, "\(codec) \(name) seed=\(seed)")
            if name == "1 MiB text-like", codec != .none {
                #expect(compressed.readableBytes < input.readableBytes / 2, "\(codec) should compress text")
            }
        }
    }

    @Test("only readable bytes are read, and inputs are left unchanged", arguments: CompressionCodec.allCases)
    func readableBytesOnly(codec: CompressionCodec) throws {
        var input = ByteBuffer(string: "junk before the payload|")
        input.moveReaderIndex(forwardBy: input.readableBytes)
        input.writeString(String(repeating: "payload ", count: 1000))
        let inputBefore = input

        let compressed = try codec.compress(input)
        #expect(input == inputBefore)
        #expect(input.readerIndex == inputBefore.readerIndex)

        var prefixedCompressed = ByteBuffer(bytes: [0xDE, 0xAD, 0xBE, 0xEF])
        prefixedCompressed.moveReaderIndex(forwardBy: 4)
        prefixedCompressed.writeImmutableBuffer(compressed)
        let decompressed = try codec.decompress(prefixedCompressed, sizeBytesMax: oneMebibyte)
        #expect(decompressed == input)
        #expect(prefixedCompressed.readerIndex == 4)
    }

    @Test("codec ids are Kafka's attribute bits 0-2")
    func codecIds() throws {
        #expect(try CompressionCodec(id: 0) == .none)
        #expect(try CompressionCodec(id: 1) == .gzip)
        #expect(try CompressionCodec(id: 2) == .snappy)
        #expect(try CompressionCodec(id: 3) == .lz4)
        #expect(try CompressionCodec(id: 4) == .zstd)
        for id: Int8 in [5, 6, 7, -1] {
            #expect(throws: CompressionError.unknownCodec(id)) { try CompressionCodec(id: id) }
        }
    }

    @Test("concatenated frames decode in sequence", arguments: [CompressionCodec.gzip, .lz4, .zstd])
    func concatenatedFrames(codec: CompressionCodec) throws {
        let first = ByteBuffer(string: String(repeating: "first ", count: 500))
        let second = ByteBuffer(string: String(repeating: "second ", count: 500))
        var concatenated = try codec.compress(first)
        concatenated.writeImmutableBuffer(try codec.compress(second))
        var expected = first
        expected.writeImmutableBuffer(second)
        #expect(try codec.decompress(concatenated, sizeBytesMax: oneMebibyte) == expected)
    }

    @Test("trailing garbage after a valid stream is corrupt", arguments: [CompressionCodec.gzip, .lz4, .zstd])
    func trailingGarbage(codec: CompressionCodec) throws {
        var compressed = try codec.compress(ByteBuffer(string: String(repeating: "record ", count: 100)))
        compressed.writeBytes([0xDE, 0xAD, 0xBE, 0xEF, 0x00, 0x01, 0x02, 0x03])
        #expect(throws: CompressionError.self) { try codec.decompress(compressed, sizeBytesMax: oneMebibyte) }
    }

    // MARK: Snappy framing

    @Test("xerial-framed snappy (Java client, kafka-python) decodes")
    func xerialFramedSnappy() throws {
        var random = SplitMix64(seed: testSeed())
        let payload = textLike(sizeBytes: 100_000, random: &random)
        // xerial's default block: 32 KiB of uncompressed input per raw snappy block.
        let framed = try xerialFrame(payload, blockSizeBytes: 32 * 1024)
        #expect(try CompressionCodec.snappy.decompress(framed, sizeBytesMax: payload.readableBytes) == payload)
        #expect(throws: CompressionError.decompressedSizeExceeded(limitBytes: payload.readableBytes - 1)) {
            try CompressionCodec.snappy.decompress(framed, sizeBytesMax: payload.readableBytes - 1)
        }

        // A header and no blocks is an empty payload.
        #expect(try CompressionCodec.snappy.decompress(try xerialFrame(ByteBuffer(), blockSizeBytes: 1), sizeBytesMax: 0)
            == ByteBuffer())

        // A block length that runs past the input is corrupt, not a crash or an over-read.
        var overrun = try xerialFrame(ByteBuffer(string: "abc"), blockSizeBytes: 32)
        overrun.setInteger(UInt32(1000), at: overrun.readerIndex + 16)
        #expect(throws: CompressionError.self) { try CompressionCodec.snappy.decompress(overrun, sizeBytesMax: 1000) }

        // A truncated block length is corrupt too.
        var truncatedLength = try xerialFrame(ByteBuffer(string: "abc"), blockSizeBytes: 32)
        truncatedLength.writeBytes([0x00, 0x00])
        #expect(throws: CompressionError.self) {
            try CompressionCodec.snappy.decompress(truncatedLength, sizeBytesMax: 1000)
        }
    }

    @Test("raw snappy declaring more than the limit is rejected before allocating")
    func snappyDeclaredSizeCheckedFirst() {
        // Varint 0xFFFF_FFFF (4 GiB - 1) and no data: the declared size alone must decide.
        let forged = ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x00])
        #expect(throws: CompressionError.decompressedSizeExceeded(limitBytes: oneMebibyte)) {
            try CompressionCodec.snappy.decompress(forged, sizeBytesMax: oneMebibyte)
        }
    }

    // MARK: Bounded decompression

    @Test("one byte over the limit is rejected", arguments: CompressionCodec.allCases)
    func limitIsExact(codec: CompressionCodec) throws {
        let input = ByteBuffer(string: String(repeating: "0123456789", count: 1000))
        let compressed = try codec.compress(input)
        #expect(try codec.decompress(compressed, sizeBytesMax: input.readableBytes) == input)
        #expect(throws: CompressionError.decompressedSizeExceeded(limitBytes: input.readableBytes - 1)) {
            try codec.decompress(compressed, sizeBytesMax: input.readableBytes - 1)
        }
        #expect(throws: CompressionError.decompressedSizeExceeded(limitBytes: 0)) {
            try codec.decompress(compressed, sizeBytesMax: 0)
        }
    }

    @Test("a 64 MiB bomb is rejected at a 1 MiB limit without allocating past it", arguments: compressingCodecs)
    func bombIsRejected(codec: CompressionCodec) throws {
        let bomb = try codec.compress(ByteBuffer(repeating: 0, count: 64 * oneMebibyte))
        let allocator = largestAllocationTrackingAllocator()
        #expect(throws: CompressionError.decompressedSizeExceeded(limitBytes: oneMebibyte)) {
            try codec.decompress(bomb, sizeBytesMax: oneMebibyte, allocator: allocator)
        }
        // ByteBuffer rounds capacities up to a power of two: at most 2x the limit, never 64 MiB.
        #expect(largestAllocationBytes.load(ordering: .relaxed) <= 2 * oneMebibyte)
    }

    @Test("a 4 GiB bomb of concatenated frames stops at the limit", arguments: [CompressionCodec.gzip, .lz4, .zstd])
    func concatenatedBombStopsEarly(codec: CompressionCodec) throws {
        // Decoding all of it would need a 4 GiB buffer, past ByteBuffer's maximum: only stopping early passes.
        let frame = try codec.compress(ByteBuffer(repeating: 0, count: 64 * oneMebibyte))
        var bomb = ByteBufferAllocator().buffer(capacity: frame.readableBytes * 64)
        for _ in 0..<64 {
            bomb.writeImmutableBuffer(frame)
        }
        #expect(throws: CompressionError.decompressedSizeExceeded(limitBytes: oneMebibyte)) {
            try codec.decompress(bomb, sizeBytesMax: oneMebibyte)
        }
    }

    @Test("zstd frames whose window exceeds max(8 MiB, limit) are rejected, not allocated")
    func zstdWindowIsCapped() throws {
        // A hand-made frame: magic, a header declaring a 2^26-byte (64 MiB) window and no content size, then
        // one raw block holding "A". zstd's own default accepts windows up to 2^27.
        let frame = ByteBuffer(bytes: [
            0x28, 0xB5, 0x2F, 0xFD,  // magic 0xFD2FB528, little-endian
            0x00,  // frame header descriptor: no content size, not single-segment, no checksum, no dictionary
            0x80,  // window descriptor: exponent 16 -> windowLog 10 + 16 = 26, mantissa 0
            0x09, 0x00, 0x00,  // block header: last block, raw, size 1
            0x41,  // "A"
        ])
        #expect(throws: CompressionError.self) {
            try CompressionCodec.zstd.decompress(frame, sizeBytesMax: oneMebibyte)
        }
        // With a 64 MiB limit, the window fits the cap and the frame decodes.
        #expect(try CompressionCodec.zstd.decompress(frame, sizeBytesMax: 64 * oneMebibyte) == ByteBuffer(string: "A"))
    }

    // MARK: Garbage and truncation

    @Test("random garbage, with and without a valid magic, never crashes", arguments: compressingCodecs)
    func garbage(codec: CompressionCodec) {
        let seed = testSeed()
        var random = SplitMix64(seed: seed)
        let magic: [UInt8] =
            switch codec {
            case .gzip: [0x1F, 0x8B, 0x08, 0x00]
            case .snappy: [0x82, 0x53, 0x4E, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1]
            case .lz4: [0x04, 0x22, 0x4D, 0x18]
            case .zstd: [0x28, 0xB5, 0x2F, 0xFD]
            case .none: []
            }
        for lengthBytes in [0, 1, 2, 3, 4, 7, 16, 64, 1000, 65536] {
            for _ in 0..<20 {
                for prefix in [[], magic] {
                    let garbage = ByteBuffer(bytes: prefix + randomBytes(count: lengthBytes, using: &random))
                    do {
                        let output = try codec.decompress(garbage, sizeBytesMax: oneMebibyte)
                        // Raw snappy has no magic and no checksum: some random bytes are valid snappy.
                        #expect(codec == .snappy, "\(codec) accepted garbage, seed=\(seed) length=\(lengthBytes)")
                        #expect(output.readableBytes <= oneMebibyte)
                    } catch {
                        // Any CompressionError is fine; the call must just return.
                    }
                }
            }
        }
    }

    @Test("every strict prefix of a valid stream is rejected", arguments: compressingCodecs)
    func truncated(codec: CompressionCodec) throws {
        var random = SplitMix64(seed: testSeed())
        let input = textLike(sizeBytes: 8 * 1024, random: &random)
        let compressed = try codec.compress(input)
        for lengthBytes in 0..<compressed.readableBytes {
            let prefix = compressed.getSlice(at: compressed.readerIndex, length: lengthBytes) ?? ByteBuffer()
            #expect(throws: CompressionError.self, "\(codec) prefix of \(lengthBytes) bytes") {
                try codec.decompress(prefix, sizeBytesMax: 64 * 1024)
            }
        }
    }

    @Test("flipped bits never crash or exceed the limit", arguments: compressingCodecs)
    func bitFlips(codec: CompressionCodec) throws {
        let seed = testSeed()
        var random = SplitMix64(seed: seed)
        let input = textLike(sizeBytes: 16 * 1024, random: &random)
        let compressed = try codec.compress(input)
        let limitBytes = input.readableBytes * 2
        for _ in 0..<500 {
            var corrupted = compressed
            for _ in 0..<(1 + Int(random.next() % 3)) {
                let index = corrupted.readerIndex + Int(random.next() % UInt64(corrupted.readableBytes))
                let byte = corrupted.getInteger(at: index, as: UInt8.self) ?? 0
                corrupted.setInteger(byte ^ (1 << UInt8(random.next() % 8)), at: index)
            }
            // Formats without a checksum may decode to different bytes; they must still stay within the limit.
            if let output = try? codec.decompress(corrupted, sizeBytesMax: limitBytes) {
                #expect(output.readableBytes <= limitBytes, "seed=\(seed)")
            }
        }
    }
}

// MARK: - Helpers

/// Kafka-record-like text: JSON-ish lines with repeated keys, words and numbers, compressible like real batches.
private func textLike(sizeBytes: Int, random: inout SplitMix64) -> ByteBuffer {
    let words = ["order", "customer", "status", "shipped", "pending", "amount", "currency", "EUR", "USD", "item"]
    var buffer = ByteBufferAllocator().buffer(capacity: sizeBytes + 128)
    while buffer.readableBytes < sizeBytes {
        let word = words[Int(random.next() % UInt64(words.count))]
        buffer.writeString("{\"id\":\(random.next() % 100_000),\"\(word)\":\"\(word)-\(random.next() % 1000)\"}\n")
    }
    buffer.moveWriterIndex(to: sizeBytes)
    return buffer
}

/// Frames `payload` as xerial's `SnappyOutputStream` does: magic, version 1, compatible version 1, then each
/// `blockSizeBytes` of input as a big-endian int32 length and a raw snappy block.
private func xerialFrame(_ payload: ByteBuffer, blockSizeBytes: Int) throws -> ByteBuffer {
    var framed = ByteBuffer(bytes: [0x82, 0x53, 0x4E, 0x41, 0x50, 0x50, 0x59, 0x00])
    framed.writeInteger(Int32(1))
    framed.writeInteger(Int32(1))
    var remaining = payload
    while remaining.readableBytes > 0 {
        let chunk = remaining.readSlice(length: min(blockSizeBytes, remaining.readableBytes)) ?? ByteBuffer()
        let block = try CompressionCodec.snappy.compress(chunk)
        framed.writeInteger(Int32(block.readableBytes))
        framed.writeImmutableBuffer(block)
    }
    return framed
}

/// The largest single allocation or reallocation made through ``largestAllocationTrackingAllocator()``.
/// Global because the allocator takes C function pointers, which cannot capture; tests sharing it only
/// ever assert an upper bound, so running them in parallel is harmless.
private let largestAllocationBytes = Atomic<Int>(0)

private func recordAllocation(_ sizeBytes: Int) {
    var current = largestAllocationBytes.load(ordering: .relaxed)
    while sizeBytes > current {
        let (exchanged, original) = largestAllocationBytes.compareExchange(
            expected: current,
            desired: sizeBytes,
            ordering: .relaxed
        )
        if exchanged { return }
        current = original
    }
}

/// A malloc-backed allocator that records its largest allocation in ``largestAllocationBytes``.
private func largestAllocationTrackingAllocator() -> ByteBufferAllocator {
    ByteBufferAllocator { sizeBytes in
        recordAllocation(Int(sizeBytes))
        return malloc(sizeBytes)
    } reallocate: { pointer, _, newSizeBytes in
        recordAllocation(Int(newSizeBytes))
        return realloc(pointer, newSizeBytes)
    } deallocate: { pointer in
        free(pointer)
    } copy: { destination, source, countBytes in
        destination.copyMemory(from: source, byteCount: countBytes)
    }
}

/// The seed for a randomized test: `STROM_TEST_SEED` from the environment to replay a failure, else a fixed one.
private func testSeed() -> UInt64 {
    if let text = getenv("STROM_TEST_SEED"), let seed = UInt64(String(cString: text)) {
        return seed
    }
    return 0x5EED_C0DE_C000_0001
}

/// `count` seeded random bytes.
private func randomBytes(count: Int, using random: inout SplitMix64) -> [UInt8] {
    (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) }
}
