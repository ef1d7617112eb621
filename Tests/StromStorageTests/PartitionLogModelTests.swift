import KafkaProtocol
import NIOCore
import StromTestSupport
import Testing
@testable import StromStorage

/// Random sequences of appends, rolls, reads, flushes, start-offset moves and reopenings, checked
/// against a plain in-memory model: every read returns exactly what the model says.
@Suite struct PartitionLogModelTests {
    /// What the log should contain: key of each record by offset.
    struct Model {
        var keys: [Int64: String] = [:]
        var logStartOffset: Int64 = 0
        var logEndOffset: Int64 = 0
    }

    static func batch(keys: [String], codec: CompressionCodec, timestampMs: Int64) throws -> RecordBatch {
        var builder = RecordBatchBuilder(compressionCodec: codec)
        for key in keys { builder.append(timestampMs: timestampMs, key: ByteBuffer(string: key), value: ByteBuffer(string: "value of \(key)")) }
        var bytes = try builder.build()
        let batch = try RecordBatch.read(from: &bytes)
        try batch.validate(mode: .produced, decompressedSizeBytesMax: 1 << 20)
        return batch
    }

    /// Decodes what a read returned into (offset, key) pairs, checking batch integrity on the way.
    static func records(in info: PartitionLog.ReadInfo) throws -> [(Int64, String)] {
        var result: [(Int64, String)] = []
        for slice in info.slices {
            var bytes = try slice.read()
            while bytes.readableBytes > 0 {
                let batch = try RecordBatch.read(from: &bytes)
                try batch.validate(mode: .stored, decompressedSizeBytesMax: 1 << 20)
                var iterator = try batch.records(decompressedSizeBytesMax: 1 << 20)
                while let record = try iterator.next() {
                    result.append((batch.header.baseOffset + Int64(record.offsetDelta), String(buffer: record.key ?? ByteBuffer())))
                }
            }
        }
        return result
    }

    @Test(arguments: 0..<12)
    func randomOperationsMatchTheModel(seed: Int) throws {
        var rng = SplitMix64(seed: UInt64(seed))
        let fileSystem = SimulatedFileSystem()
        var config = try LogConfig(properties: [
            "segment.bytes": String(2_048 + rng.below(8_192)), "index.interval.bytes": String(64 + rng.below(1_024)),
        ])
        config.retentionSizeBytes = Int64(20_000 + rng.below(40_000))
        let topicPartition = TopicPartition(topic: "model", partition: 0)
        var (log, _) = try PartitionLog.open(
            directory: "/data/model-0", topicPartition: topicPartition, config: config, fileSystem: fileSystem,
            cleanShutdown: false, nowMs: 0)
        var model = Model()
        var nextKey = 0
        var nowMs: Int64 = 1_000
        for step in 0..<400 {
            let context = "seed \(seed) step \(step)"
            nowMs += Int64(rng.below(50))
            switch rng.below(100) {
            case 0..<45:
                let keys = (0..<(1 + rng.below(12))).map { _ in defer { nextKey += 1 }; return "k\(nextKey)" }
                let codec = [CompressionCodec.none, .gzip, .lz4, .zstd, .snappy][rng.below(5)]
                let info = try log.append(try Self.batch(keys: keys, codec: codec, timestampMs: nowMs), nowMs: nowMs)
                #expect(info.firstOffset == model.logEndOffset, "\(context): first offset")
                for (index, key) in keys.enumerated() { model.keys[info.firstOffset + Int64(index)] = key }
                model.logEndOffset += Int64(keys.count)
                #expect(info.lastOffset == model.logEndOffset - 1, "\(context): last offset")
            case 45..<55:
                try log.flush()
                #expect(log.offsets.highWatermark == model.logEndOffset, "\(context): flushed high watermark")
            case 55..<60:
                try log.roll(nowMs: nowMs)
            case 60..<63:
                try log.flush()
                let target = model.logStartOffset + Int64(rng.below(Int(model.logEndOffset - model.logStartOffset) + 1))
                model.logStartOffset = try log.advanceLogStartOffset(to: target)
                #expect(model.logStartOffset == target, "\(context): log start offset")
            case 63..<66:
                // Clean restart.
                try log.close()
                (log, _) = try PartitionLog.open(
                    directory: "/data/model-0", topicPartition: topicPartition, config: config, fileSystem: fileSystem,
                    recoveryPoint: model.logEndOffset, logStartOffset: model.logStartOffset, cleanShutdown: true, nowMs: nowMs)
                #expect(log.offsets.logEndOffset == model.logEndOffset, "\(context): log end after clean reopen")
            case 66..<68:
                // Power cut after a flush: nothing flushed may be lost.
                try log.flush()
                fileSystem.crash(seed: UInt64(step))
                (log, _) = try PartitionLog.open(
                    directory: "/data/model-0", topicPartition: topicPartition, config: config, fileSystem: fileSystem,
                    recoveryPoint: 0, logStartOffset: model.logStartOffset, cleanShutdown: false, nowMs: nowMs)
                #expect(log.offsets.logEndOffset == model.logEndOffset, "\(context): log end after crash")
            case 68..<71:
                try log.flush()
                let before = log.offsets.logStartOffset
                try log.applyRetention(nowMs: nowMs)
                let after = log.offsets.logStartOffset
                #expect(after >= before && after <= log.offsets.highWatermark, "\(context): retention moved the start to \(after)")
                #expect(after == max(before, log.segmentBaseOffsets[0]), "\(context): start offset not at the first kept segment")
                #expect(log.sizeBytes <= config.retentionSizeBytes + Int64(config.segmentSizeBytes) * 2, "\(context): retention.bytes ignored")
                // Records below the new start stay in the model: a read may still return them
                // inside the batch that holds the start offset, as Kafka does (consumers skip them).
                model.logStartOffset = after
            default:
                try log.flush()
                let span = Int(model.logEndOffset - model.logStartOffset)
                let from = model.logStartOffset + Int64(rng.below(span + 1))
                let maxBytes = 1 + rng.below(6_000)
                let info = try log.read(from: from, maxBytes: maxBytes)
                let records = try Self.records(in: info)
                if from < model.logEndOffset {
                    #expect(!records.isEmpty, "\(context): read from \(from) returned nothing")
                }
                let wanted = records.filter { $0.0 >= from }
                #expect(wanted.first?.0 == (from < model.logEndOffset ? from : nil), "\(context): first offset read")
                for (offset, key) in records {
                    #expect(model.keys[offset] == key, "\(context): offset \(offset) has \(key), expected \(model.keys[offset] ?? "nothing")")
                }
                let offsets = records.map(\.0)
                // Batches come back whole and consecutive: no gap, no repeat.
                if let first = offsets.first, let last = offsets.last {
                    #expect(offsets == Array(first...last), "\(context): offsets not consecutive")
                }
                #expect((offsets.last ?? -1) < info.offsets.highWatermark, "\(context): read past the high watermark")
            }
        }
        // Out-of-range reads get the Kafka error.
        #expect(throws: LogReadError.offsetOutOfRange(requested: model.logEndOffset + 1, logStartOffset: model.logStartOffset, logEndOffset: model.logEndOffset)) {
            try log.read(from: model.logEndOffset + 1, maxBytes: 100)
        }
    }
}
