import KafkaProtocol
import NIOCore
import Testing

@testable import StromClient

@Suite struct FetchedBatchDecoderTests {
    /// A batch of `values` at `baseOffset`, with timestamps 1000, 1001, ...
    func batch(baseOffset: Int64, values: [String], compression: CompressionCodec = .none) throws -> ByteBuffer {
        var builder = RecordBatchBuilder(baseOffset: baseOffset, compressionCodec: compression)
        for (index, value) in values.enumerated() {
            builder.append(
                timestampMs: 1_000 + Int64(index), key: ByteBuffer(string: "k\(index)"), value: ByteBuffer(string: value),
                headers: [.init(key: "h", value: ByteBuffer(string: "\(index)")), .init(key: "empty", value: nil)])
        }
        return try builder.build()
    }

    @Test func skipsRecordsBeforeTheFetchOffsetAndControlBatches() throws {
        var bytes = try batch(baseOffset: 10, values: ["a", "b", "c"])
        var marker = try RecordBatchBuilder.endTransactionMarker(.commit, producerId: 1, producerEpoch: 0, coordinatorEpoch: 0, timestampMs: 5, baseOffset: 13).build()
        bytes.writeBuffer(&marker)
        var second = try batch(baseOffset: 14, values: ["d"], compression: .zstd)
        bytes.writeBuffer(&second)

        let (records, nextOffset) = try FetchedBatchDecoder.decode(bytes, topic: "t", partition: 2, fetchOffset: 11)
        #expect(records.map(\.offset) == [11, 12, 14])
        #expect(records.map { $0.value.map { String(buffer: $0) } } == ["b", "c", "d"])
        #expect(records.map(\.timestampMs) == [1_001, 1_002, 1_000])
        #expect(records[0].key.map { String(buffer: $0) } == "k1")
        #expect(records[0].headers.map(\.key) == ["h", "empty"] && records[0].headers[1].value == nil)
        #expect(records.allSatisfy { $0.topic == "t" && $0.partition == 2 })
        #expect(nextOffset == 15)
    }

    @Test func aTrailingPartialBatchIsLeftForTheNextFetch() throws {
        var bytes = try batch(baseOffset: 0, values: ["a", "b"])
        let whole = bytes.readableBytes
        let next = try batch(baseOffset: 2, values: ["c"])
        bytes.writeImmutableBuffer(next.getSlice(at: next.readerIndex, length: next.readableBytes - 3)!)
        #expect(bytes.readableBytes > whole)

        let (records, nextOffset) = try FetchedBatchDecoder.decode(bytes, topic: "t", partition: 0, fetchOffset: 0)
        #expect(records.map(\.offset) == [0, 1])
        #expect(nextOffset == 2)
    }

    @Test func noRecordsLeavesTheOffsetWhereItWas() throws {
        let (records, nextOffset) = try FetchedBatchDecoder.decode(nil, topic: "t", partition: 0, fetchOffset: 7)
        #expect(records.isEmpty && nextOffset == 7)
    }

    @Test func aCorruptBatchIsAMalformedResponse() throws {
        var bytes = try batch(baseOffset: 0, values: ["a"])
        let last = bytes.writerIndex - 1
        bytes.setInteger(bytes.getInteger(at: last, as: UInt8.self)! ^ 0xFF, at: last)
        #expect {
            try FetchedBatchDecoder.decode(bytes, topic: "t", partition: 0, fetchOffset: 0)
        } throws: { error in
            guard case StromClientError.malformedResponse(.fetch, let reason) = error else { return false }
            return reason.contains("crcMismatch")
        }
    }
}
