import Foundation
import NIOCore
import Testing
@testable import KafkaProtocol

/// Writes batches Strom builds, with every codec, for Tests/Interop/test_strom_batches.py, which
/// checks that kafka-python, aiokafka and librdkafka decode them. Runs only when the test command
/// sets STROM_BATCH_EXPORT_DIR (the README's test command does).
@Suite struct StromBatchExportTests {
    static let directory = ProcessInfo.processInfo.environment["STROM_BATCH_EXPORT_DIR"]

    static func hexOrNull(_ text: String?) -> Any {
        guard let text else { return NSNull() }
        return Fixtures.hex(ByteBuffer(string: text))
    }

    @Test(.enabled(if: directory != nil), arguments: CompressionCodec.allCases)
    func exportBatch(codec: CompressionCodec) throws {
        let directory = try #require(Self.directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let name = "strom-\(codec)"
        var builder = RecordBatchBuilder(compressionCodec: codec, producerId: 11, producerEpoch: 2, baseSequence: 0)
        var records: [[String: Any]] = []
        let large = String(repeating: "strom keeps every acknowledged record; ", count: 80)
        let samples: [(Int64, String?, String?, [(String, String?)])] = [
            (1_700_000_000_000, "order-1", "{\"amount\":42}", [("trace-id", "abc123")]),
            (1_700_000_000_001, nil, "no key here", []),
            (1_700_000_000_002, "order-1", nil, [("deleted-by", nil)]),
            (1_699_999_999_000, "multi", "headers", [("a", "1"), ("b", ""), ("a", "second"), ("été", "é")]),
            (1_700_000_000_500, "", "", []),
            (1_700_000_001_000, "big", large, []),
        ]
        for (index, sample) in samples.enumerated() {
            let headers = sample.3.map { RecordBatchBuilder.Header(key: $0.0, value: $0.1.map { ByteBuffer(string: $0) }) }
            builder.append(timestampMs: sample.0, key: sample.1.map { ByteBuffer(string: $0) },
                           value: sample.2.map { ByteBuffer(string: $0) }, headers: headers)
            records.append([
                "offsetDelta": index, "timestamp": sample.0,
                "key": Self.hexOrNull(sample.1),
                "value": Self.hexOrNull(sample.2),
                "headers": sample.3.map { ["key": $0.0, "value": Self.hexOrNull($0.1)] as [String: Any] },
            ])
        }
        let batch = try builder.build()
        try Data(batch.readableBytesView).write(to: URL(fileURLWithPath: "\(directory)/\(name).batch"))
        let codecName = codec == .none ? "none" : "\(codec)"
        let json = try JSONSerialization.data(withJSONObject: ["codec": codecName, "records": records], options: [.sortedKeys])
        try json.write(to: URL(fileURLWithPath: "\(directory)/\(name).json"))
    }
}
