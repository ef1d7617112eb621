import NIOCore
import Testing
@testable import KafkaProtocol
import StromTestSupport

@Suite struct RecordBatchTests {
    struct SentRecord: Equatable {
        var timestampMs: Int64
        var key: ByteBuffer?
        var value: ByteBuffer?
        var headers: [RecordBatchBuilder.Header]
    }

    static func sampleRecords() -> [SentRecord] {
        let text = ByteBuffer(string: String(repeating: "event sourcing keeps every change; ", count: 100))
        return [
            SentRecord(timestampMs: 1_700_000_000_000, key: ByteBuffer(string: "k1"), value: ByteBuffer(string: "v1"), headers: []),
            SentRecord(timestampMs: 1_700_000_000_005, key: nil, value: ByteBuffer(string: "no key"),
                       headers: [.init(key: "trace", value: ByteBuffer(string: "abc")), .init(key: "empty", value: nil)]),
            SentRecord(timestampMs: 1_699_999_999_000, key: ByteBuffer(string: "k1"), value: nil, headers: []),
            SentRecord(timestampMs: 1_700_000_000_010, key: ByteBuffer(), value: text,
                       headers: [.init(key: "h", value: ByteBuffer())]),
        ]
    }

    static func build(_ records: [SentRecord], codec: CompressionCodec) throws -> ByteBuffer {
        var builder = RecordBatchBuilder(baseOffset: 0, compressionCodec: codec, producerId: 42, producerEpoch: 3, baseSequence: 7)
        for record in records {
            builder.append(timestampMs: record.timestampMs, key: record.key, value: record.value, headers: record.headers)
        }
        return try builder.build()
    }

    static func decode(_ bytes: ByteBuffer) throws -> (RecordBatch, [SentRecord]) {
        var input = bytes
        let batch = try RecordBatch.read(from: &input)
        #expect(input.readableBytes == 0)
        try batch.validate(mode: .produced, decompressedSizeBytesMax: 1 << 20)
        var iterator = try batch.records(decompressedSizeBytesMax: 1 << 20)
        var records: [SentRecord] = []
        while let record = try iterator.next() {
            let headers = record.headers.map { RecordBatchBuilder.Header(key: $0.keyString, value: $0.value) }
            records.append(SentRecord(
                timestampMs: batch.header.baseTimestamp + record.timestampDelta, key: record.key, value: record.value, headers: headers))
        }
        return (batch, records)
    }

    @Test(arguments: CompressionCodec.allCases)
    func builtBatchesReadBackExactly(codec: CompressionCodec) throws {
        let sent = Self.sampleRecords()
        let bytes = try Self.build(sent, codec: codec)
        let (batch, received) = try Self.decode(bytes)
        #expect(received == sent)
        #expect(batch.header.recordCount == 4)
        #expect(batch.header.lastOffsetDelta == 3)
        #expect(batch.header.maxTimestamp == 1_700_000_000_010)
        #expect(batch.header.producerId == 42 && batch.header.producerEpoch == 3 && batch.header.baseSequence == 7)
        #expect(try batch.compressionCodec() == codec)
        if codec != .none {
            #expect(bytes.readableBytes < 3_500 / 2, "the repetitive value should compress")
        }
    }

    @Test func patchingOffsetAndEpochKeepsTheChecksum() throws {
        var bytes = try Self.build(Self.sampleRecords(), codec: .lz4)
        bytes.setRecordBatchBaseOffset(1_000_000, batchAt: bytes.readerIndex)
        bytes.setRecordBatchPartitionLeaderEpoch(9, batchAt: bytes.readerIndex)
        let (batch, _) = try Self.decode(bytes)
        #expect(batch.header.baseOffset == 1_000_000)
        #expect(batch.header.lastOffset == 1_000_003)
        #expect(batch.header.partitionLeaderEpoch == 9)
    }

    /// Kafka's CRC covers attributes…end; baseOffset and partitionLeaderEpoch lie outside it by
    /// design (a broker rewrites them). Every other bit is protected: by the CRC, by the length
    /// check (batchLength) or by the magic check.
    @Test(arguments: [CompressionCodec.none, .zstd])
    func everyFlippedBitOutsidePatchedFieldsIsDetected(codec: CompressionCodec) throws {
        let original = try Self.build(Self.sampleRecords(), codec: codec)
        let patchedFields = Set(0..<8).union(12..<16)
        var undetected: [Int] = []
        for byteIndex in 0..<original.readableBytes where !patchedFields.contains(byteIndex) {
            for bit in 0..<8 {
                var corrupted = original
                let byte = corrupted.getInteger(at: byteIndex, as: UInt8.self)!
                corrupted.setInteger(byte ^ (1 << bit), at: byteIndex)
                do {
                    var input = corrupted
                    let batch = try RecordBatch.read(from: &input)
                    try batch.validate(mode: .produced, decompressedSizeBytesMax: 1 << 20)
                    undetected.append(byteIndex * 8 + bit)
                } catch {
                    continue
                }
            }
        }
        #expect(undetected.isEmpty, "flipped bits not detected: \(undetected.prefix(10))")
    }

    @Test func crcMismatchIsReportedAsCorruptMessage() throws {
        var bytes = try Self.build(Self.sampleRecords(), codec: .none)
        let last = bytes.writerIndex - 1
        bytes.setInteger(bytes.getInteger(at: last, as: UInt8.self)! ^ 0xFF, at: last)
        var input = bytes
        let batch = try RecordBatch.read(from: &input)
        #expect(throws: RecordBatchError.self) { try batch.validate(mode: .produced, decompressedSizeBytesMax: 1 << 20) }
        do {
            try batch.verifyChecksum()
            Issue.record("checksum accepted")
        } catch {
            guard case .crcMismatch = error else { Issue.record("unexpected \(error)"); return }
            #expect(error.kafkaErrorCode == .corruptMessage)
        }
    }

    @Test func producedModeRejectsEmptyAndGappedBatches() throws {
        let empty = try RecordBatchBuilder().build()
        var input = empty
        let batch = try RecordBatch.read(from: &input)
        #expect(throws: RecordBatchError.invalidOffsetRange(recordCount: 0, lastOffsetDelta: 0)) {
            try batch.validate(mode: .produced, decompressedSizeBytesMax: 1024)
        }
        // The same empty batch is fine when read back from a compacted log.
        try batch.validate(mode: .stored, decompressedSizeBytesMax: 1024)
    }

    @Test func oldMagicIsRejected() throws {
        var bytes = try Self.build(Self.sampleRecords(), codec: .none)
        bytes.setInteger(Int8(1), at: 16)
        #expect(throws: RecordBatchError.unsupportedMagic(1)) { try RecordBatch.read(from: &bytes) }
    }

    @Test func decompressionIsBounded() throws {
        var builder = RecordBatchBuilder(compressionCodec: .zstd)
        let big = ByteBuffer(repeating: 0x61, count: 4 << 20)
        builder.append(timestampMs: 0, key: nil, value: big)
        var bytes = try builder.build()
        #expect(bytes.readableBytes < 4096)
        let batch = try RecordBatch.read(from: &bytes)
        #expect(throws: RecordBatchError.compression(.decompressedSizeExceeded(limitBytes: 1 << 20))) {
            try batch.validate(mode: .produced, decompressedSizeBytesMax: 1 << 20)
        }
        #expect(RecordBatchError.compression(.decompressedSizeExceeded(limitBytes: 1)).kafkaErrorCode == .messageTooLarge)
    }

    @Test func controlBatchCarriesItsMarker() throws {
        let bytes = try RecordBatchBuilder.endTransactionMarker(
            .commit, producerId: 5, producerEpoch: 1, coordinatorEpoch: 2, timestampMs: 10).build()
        var input = bytes
        let batch = try RecordBatch.read(from: &input)
        try batch.validate(mode: .produced, decompressedSizeBytesMax: 1024)
        #expect(batch.header.attributes.isControl && batch.header.attributes.isTransactional)
        var iterator = try batch.records(decompressedSizeBytesMax: 1024)
        #expect(try iterator.next()?.controlType == .commit)
    }

    /// Random records through every codec, seeded so a failure replays.
    @Test(arguments: CompressionCodec.allCases)
    func randomBatchesRoundTrip(codec: CompressionCodec) throws {
        for seed in UInt64(0)..<40 {
            var rng = SplitMix64(seed: seed)
            var sent: [SentRecord] = []
            let base = rng.arbitraryInteger(Int64.self) / 4
            for _ in 0..<(1 + rng.below(20)) {
                let headers = rng.arbitraryArray { (rng: inout SplitMix64) in
                    RecordBatchBuilder.Header(key: rng.arbitraryString(), value: rng.oneIn(3) ? nil : rng.arbitraryBytes())
                }
                sent.append(SentRecord(
                    timestampMs: base &+ Int64(rng.below(1 << 20)) - (1 << 19),
                    key: rng.oneIn(3) ? nil : rng.arbitraryBytes(), value: rng.oneIn(4) ? nil : rng.arbitraryBytes(), headers: headers))
            }
            let (_, received) = try Self.decode(try Self.build(sent, codec: codec))
            #expect(received == sent, "seed \(seed)")
        }
    }

    /// The fast validation pass and the record iterator parse the same layout separately: for
    /// corrupted records (with a recomputed CRC, so the parsers see them) both must agree.
    @Test func validationAndIterationAgreeOnCorruptRecords() throws {
        // Small records, so that most corruptions hit framing rather than payload bytes.
        let small = Self.sampleRecords().dropLast() + Self.sampleRecords().dropLast()
        let original = try Self.build(Array(small), codec: .none)
        var disagreements: [UInt64] = []
        var acceptedCount = 0
        for seed in UInt64(0)..<3_000 {
            var rng = SplitMix64(seed: seed)
            var bytes = original
            for _ in 0..<(1 + rng.below(3)) {
                let position = RecordBatchHeader.sizeBytes + rng.below(bytes.readableBytes - RecordBatchHeader.sizeBytes)
                bytes.setInteger(UInt8(truncatingIfNeeded: rng.next()), at: position)
            }
            let crc = bytes.withUnsafeReadableBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[21...])) }
            bytes.setInteger(crc, at: 17, endianness: .big)
            let batch = try RecordBatch.read(from: &bytes)
            let validated = (try? batch.validate(mode: .stored, decompressedSizeBytesMax: 1 << 20)) != nil
            var iterated = false
            if var iterator = try? batch.records(decompressedSizeBytesMax: 1 << 20) {
                var count: Int32 = 0
                var previous: Int32 = -1
                var ordered = true
                do {
                    while let record = try iterator.next() {
                        ordered = ordered && record.offsetDelta > previous && record.offsetDelta <= batch.header.lastOffsetDelta
                        previous = record.offsetDelta
                        count += 1
                    }
                    iterated = ordered && count == batch.header.recordCount
                } catch {
                    iterated = false
                }
            }
            if validated != iterated { disagreements.append(seed) }
            if validated { acceptedCount += 1 }
        }
        // Both outcomes must occur, or the comparison proves nothing.
        #expect(acceptedCount > 100 && acceptedCount < 2_900, "accepted \(acceptedCount) of 3000")
        #expect(disagreements.isEmpty, "seeds where validate and iterate disagree: \(disagreements.prefix(10))")
    }
}
