import KafkaProtocol
import NIOCore
@testable import StromStorage

/// Builds and validates a batch as a producer would send it.
func producedBatch(keys: [String], valueSizeBytes: Int = 100, timestampMs: Int64 = 1_000, codec: CompressionCodec = .none) throws -> RecordBatch {
    var builder = RecordBatchBuilder(compressionCodec: codec)
    for key in keys {
        builder.append(timestampMs: timestampMs, key: ByteBuffer(string: key), value: ByteBuffer(repeating: UInt8(ascii: "v"), count: valueSizeBytes))
    }
    var bytes = try builder.build()
    let batch = try RecordBatch.read(from: &bytes)
    try batch.validate(mode: .produced, decompressedSizeBytesMax: 1 << 24)
    return batch
}

/// A small-segment configuration for tests (below Kafka's 1 MiB floor on purpose).
func smallSegments(_ segmentSizeBytes: Int = 4_096, indexIntervalBytes: Int = 256) -> LogConfig {
    var config = LogConfig.defaults
    config.segmentSizeBytes = segmentSizeBytes
    config.indexIntervalBytes = indexIntervalBytes
    return config
}

/// Every batch a log serves from its start, checked for integrity and density.
func allBatches(of log: PartitionLog) throws -> [RecordBatchHeader] {
    var headers: [RecordBatchHeader] = []
    var next = log.offsets.logStartOffset
    while next < log.offsets.highWatermark {
        let info = try log.read(from: next, maxBytes: 1 << 20)
        guard !info.slices.isEmpty else { break }
        for slice in info.slices {
            var bytes = try slice.read()
            while bytes.readableBytes > 0 {
                let batch = try RecordBatch.read(from: &bytes)
                try batch.validate(mode: .stored, decompressedSizeBytesMax: 1 << 24)
                headers.append(batch.header)
                next = batch.header.lastOffset + 1
            }
        }
    }
    return headers
}
