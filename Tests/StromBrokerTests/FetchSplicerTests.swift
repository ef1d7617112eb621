import Foundation
import KafkaProtocol
import NIOCore
import StromStorage
import StromTestSupport
import Testing
@testable import StromBroker

/// Zero-copy Fetch: the frame sent as bytes and file regions must be byte for byte the frame the
/// codec writes with the records copied in, at every Fetch version.
@Suite struct FetchSplicerTests {
    let directory: TemporaryDirectory
    let waiters = HighWatermarkWaiters()
    let partitions: TestPartitions

    init() throws {
        directory = try TemporaryDirectory()
        var config = LogConfig.defaults
        config.segmentSizeBytes = 700  // a few batches per segment, so a fetch spans segments
        config.flushPolicy = .writeCaching
        partitions = try TestPartitions(
            topics: ["a": 2, "b": 1], waiters: waiters, fileSystem: PosixFileSystem(), root: directory.path, config: config)
        for (topic, partition, batches) in [("a", Int32(0), 12), ("b", Int32(0), 3)] {
            let log = try #require(partitions.log(topic: topic, partition: partition))
            for index in 0..<batches {
                var bytes = try HandlerTests.batch(["\(topic)\(partition)-\(index)", String(repeating: "x", count: 100)])
                let batch = try RecordBatch.read(from: &bytes)
                _ = try log.append(batch, nowMs: 0)
            }
        }
    }

    func request(version: Int16) -> FetchRequest {
        let usesIds = version >= 13
        func topic(_ name: String, _ partitionIndexes: [Int32]) -> FetchRequest.FetchTopic {
            .init(topic: usesIds ? "" : name, topicId: usesIds ? partitions.topicId(name: name)! : .zero,
                  partitions: partitionIndexes.map { .init(partition: $0, fetchOffset: 0, partitionMaxBytes: 1 << 20) })
        }
        return FetchRequest(maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 20, topics: [topic("a", [0, 1]), topic("b", [0])])
    }

    /// The bytes the parts put on the wire.
    static func assemble(_ parts: [KafkaResponsePart]) throws -> ByteBuffer {
        var wire = ByteBuffer()
        for part in parts {
            switch part {
            case .bytes(let bytes):
                wire.writeImmutableBuffer(bytes)
            case .file(let slice):
                var chunk = [UInt8](repeating: 0, count: slice.sizeBytes)
                let count = chunk.withUnsafeMutableBytes { pread(slice.fileDescriptor, $0.baseAddress, slice.sizeBytes, off_t(slice.positionBytes)) }
                try #require(count == slice.sizeBytes)
                wire.writeBytes(chunk)
            }
        }
        return wire
    }

    @Test func splicedFramesEqualCopiedFramesAtEveryVersion() async throws {
        let handler = FetchHandler(partitions: partitions, waiters: waiters)
        for version in SupportedApis.versions[.fetch]! where version >= 4 {
            let result = await handler.fetch(request(version: version), version: version)
            #expect(result.records.map(\.partitionIndex) == [0, 0], "a-0 and b-0 have data, a-1 none")
            #expect(result.records[0].slices.count > 1, "a-0's data spans segments")
            let spliced = try #require(try FetchResponseSplicer.encode(result, version: version, correlationId: 7))
            let fileParts = spliced.parts.filter { if case .file = $0 { true } else { false } }
            #expect(fileParts.count == result.records.reduce(0) { $0 + $1.slices.count })
            let wire = try Self.assemble(spliced.parts)
            spliced.release()
            var copied = ByteBuffer()
            try KafkaResponseFrame.encode(result.copyingRecords(), version: version, correlationId: 7, into: &copied)
            #expect(wire == copied, "Fetch v\(version)")
            let (_, decoded) = try KafkaResponseFrame.decode(FetchResponse.self, version: version, from: wire.getSlice(at: 4, length: wire.readableBytes - 4)!)
            #expect(decoded.responses[0].partitions[0].records?.readableBytes == result.records[0].sizeBytes)
        }
    }

    @Test func aLeasedSliceIsSentEvenAfterItsPartitionIsDeleted() async throws {
        let handler = FetchHandler(partitions: partitions, waiters: waiters)
        let result = await handler.fetch(request(version: 12), version: 12)
        var copied = ByteBuffer()
        try KafkaResponseFrame.encode(result.copyingRecords(), version: 12, correlationId: 7, into: &copied)
        let spliced = try #require(try FetchResponseSplicer.encode(result, version: 12, correlationId: 7))
        // DeleteTopics closes every segment file and removes the directory while the send is queued.
        try #require(partitions.log(topic: "a", partition: 0)).delete()
        #expect(try Self.assemble(spliced.parts) == copied, "the descriptors stay open until released")
        spliced.release()
        #expect(try FetchResponseSplicer.encode(result, version: 12, correlationId: 7) == nil, "closed files are not leased again")
    }

    @Test func simulatedFilesFallBackToCopying() async throws {
        let simulated = try TestPartitions(topics: ["a": 1], waiters: waiters)
        var bytes = try HandlerTests.batch(["x"])
        let log = try #require(simulated.log(topic: "a", partition: 0))
        _ = try log.append(try RecordBatch.read(from: &bytes), nowMs: 0)
        try log.flush()  // the default policy moves the high watermark at the fsync
        let result = await FetchHandler(partitions: simulated, waiters: waiters).fetch(FetchRequest(maxWaitMs: 0, minBytes: 1, topics: [
            .init(topic: "a", partitions: [.init(partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20)]),
        ]), version: 12)
        #expect(result.records.count == 1)
        #expect(try FetchResponseSplicer.encode(result, version: 12, correlationId: 1) == nil)
    }
}
