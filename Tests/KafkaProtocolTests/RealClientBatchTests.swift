import Foundation
import NIOCore
import Testing
@testable import KafkaProtocol

/// Record batches produced by kafka-python and by librdkafka with every codec decode to the
/// records those clients were asked to send.
@Suite struct RealClientBatchTests {
    struct Fixture: CustomTestStringConvertible, Sendable {
        let id: String
        let codec: String
        let hex: String
        let json: String
        var testDescription: String { id }
    }

    static let fixtures: [Fixture] = (try? Fixtures.load("record-batches"))?.compactMap { entry in
        guard let id = entry["id"] as? String, let codec = entry["codec"] as? String, let hex = entry["hex"] as? String,
              let data = try? JSONSerialization.data(withJSONObject: entry) else { return nil }
        return Fixture(id: id, codec: codec, hex: hex, json: String(decoding: data, as: UTF8.self))
    } ?? []

    @Test func everyCodecFromBothClients() {
        for client in ["kafka-python", "librdkafka"] {
            for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
                #expect(Self.fixtures.contains { $0.id.hasPrefix(client) && $0.codec == codec }, "\(client) \(codec)")
            }
        }
    }

    @Test(arguments: fixtures)
    func decodesToTheRecordsSent(_ fixture: Fixture) throws {
        let entry = try #require(try JSONSerialization.jsonObject(with: Data(fixture.json.utf8)) as? [String: Any])
        var bytes = try Fixtures.bytes(hex: fixture.hex)
        let batch = try RecordBatch.read(from: &bytes)
        #expect(bytes.readableBytes == 0)
        let summary = try batch.validate(mode: .produced, decompressedSizeBytesMax: 1 << 20)
        let codecNames: [CompressionCodec: String] = [.none: "none", .gzip: "gzip", .snappy: "snappy", .lz4: "lz4", .zstd: "zstd"]
        #expect(codecNames[try batch.compressionCodec()] == fixture.codec)
        #expect(Int64(batch.header.producerId) == (entry["producerId"] as? NSNumber)?.int64Value)
        #expect(Int64(batch.header.producerEpoch) == (entry["producerEpoch"] as? NSNumber)?.int64Value)
        #expect(Int64(batch.header.baseSequence) == (entry["baseSequence"] as? NSNumber)?.int64Value)
        #expect(batch.header.attributes.isTransactional == (entry["isTransactional"] as? Bool))
        #expect(summary.maxTimestamp == (entry["maxTimestamp"] as? NSNumber)?.int64Value)

        let expected = try #require(entry["records"] as? [[String: Any]])
        var iterator = try batch.records(decompressedSizeBytesMax: 1 << 20)
        var index = 0
        while let record = try iterator.next() {
            let want = expected[index]
            #expect(Int(record.offsetDelta) == want["offsetDelta"] as? Int, "record \(index) offset")
            #expect(batch.header.baseTimestamp + record.timestampDelta == (want["timestamp"] as? NSNumber)?.int64Value, "record \(index) timestamp")
            #expect(record.key.map(Fixtures.hex) == want["key"] as? String, "record \(index) key")
            #expect(record.value.map(Fixtures.hex) == want["value"] as? String, "record \(index) value")
            let headers = try #require(want["headers"] as? [[String: Any]])
            let got = Array(record.headers)
            #expect(got.count == headers.count, "record \(index) header count")
            for (header, wanted) in zip(got, headers) {
                #expect(header.keyString == wanted["key"] as? String)
                #expect(header.value.map(Fixtures.hex) == wanted["value"] as? String)
            }
            index += 1
        }
        #expect(index == expected.count)
    }
}
