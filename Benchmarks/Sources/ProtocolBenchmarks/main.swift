import KafkaProtocol
import MallocInterposerSwift
import NIOCore
import Foundation

// Protocol-layer benchmarks: each prints a rate and the heap allocations per operation.
// Usage: ProtocolBenchmarks [seconds per benchmark, default 2]

let secondsPerBenchmark = CommandLine.arguments.dropFirst().first.flatMap(Double.init) ?? 2

struct Measurement {
    var operations: Int
    var seconds: Double
    var mallocs: Int
}

/// Runs `body` repeatedly for about `secondsPerBenchmark` (after a warm-up) and counts mallocs.
func measure(_ body: () throws -> Void) rethrows -> Measurement {
    for _ in 0..<3 { try body() }
    let clock = ContinuousClock()
    let budget = Duration.milliseconds(Int64(secondsPerBenchmark * 1000))
    var operations = 0
    MallocInterposerSwift.reset()
    MallocInterposerSwift.hook()
    let start = clock.now
    while clock.now - start < budget {
        for _ in 0..<16 { try body() }
        operations += 16
    }
    let elapsed = clock.now - start
    MallocInterposerSwift.unhook()
    let stats = MallocInterposerSwift.getStatistics()
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    return Measurement(operations: operations, seconds: seconds, mallocs: stats.mallocCount)
}

func report(_ name: String, _ m: Measurement, bytesPerOperation: Int? = nil, recordsPerOperation: Int? = nil) {
    var line = name.padding(toLength: 44, withPad: " ", startingAt: 0)
    let perSecond = Double(m.operations) / m.seconds
    if let bytes = bytesPerOperation {
        let rate = perSecond * Double(bytes)
        line += rate >= 1e9 ? String(format: "%8.2f GB/s", rate / 1e9) : String(format: "%8.1f MB/s", rate / 1e6)
    } else {
        line += String(format: "%10.0f ops/s", perSecond)
    }
    line += String(format: "   %8.2f mallocs/op", Double(m.mallocs) / Double(m.operations))
    if let records = recordsPerOperation {
        line += String(format: "   %6.3f mallocs/record", Double(m.mallocs) / Double(m.operations * records))
    }
    print(line)
}

MallocInterposerSwift.initialize()
print("Strom protocol benchmarks (\(secondsPerBenchmark) s each); CRC-32C hardware: \(CRC32C.isHardwareAccelerated)")

// CRC-32C over 1 MiB.
let mebibyte = ByteBuffer(bytes: (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) })
var checksumSink: UInt32 = 0
report("crc32c 1 MiB", measure { checksumSink ^= CRC32C.checksum(mebibyte) }, bytesPerOperation: 1 << 20)

// A batch of 256 records of 1 KiB each: seeded random words (about 3x compressible, like the
// shared bench harness's "text" payload), every record different.
let recordsPerBatch = 256
let words = ["strom", "kafka", "offset", "partition", "record", "batch", "consumer", "producer", "log",
             "segment", "index", "leader", "replica", "commit", "fetch", "produce", "topic", "group"]
var payloadList: [ByteBuffer] = []
var wordState: UInt64 = 0x2545_F491_4F6C_DD1D
for index in 0..<recordsPerBatch {
    var text = "\(index) "
    while text.utf8.count < 1024 {
        wordState = wordState &* 6364136223846793005 &+ 1442695040888963407
        text += words[Int(wordState >> 59) % words.count] + (wordState & 7 == 0 ? ". " : " ") + String(wordState % 1000) + " "
    }
    payloadList.append(ByteBuffer(string: String(text.utf8.prefix(1024))!))
}
let payloads = payloadList
func batch(_ codec: CompressionCodec, _ payloads: [ByteBuffer] = payloads) throws -> ByteBuffer {
    var builder = RecordBatchBuilder(compressionCodec: codec)
    for index in 0..<recordsPerBatch {
        builder.append(timestampMs: 1_700_000_000_000 + Int64(index), key: ByteBuffer(string: "key-\(index)"), value: payloads[index])
    }
    return try builder.build()
}

var recordSink = 0
for codec in [CompressionCodec.none, .lz4, .zstd] {
    let bytes = try batch(codec)
    let uncompressedBytes = recordsPerBatch * 1024
    print("  (batch \(codec): \(bytes.readableBytes) bytes for \(uncompressedBytes) bytes of values)")
    let validate = try measure {
        var input = bytes
        let parsed = try RecordBatch.read(from: &input)
        try parsed.validate(mode: .produced, decompressedSizeBytesMax: 8 << 20)
    }
    report("validate batch 256x1KiB \(codec)", validate, bytesPerOperation: uncompressedBytes, recordsPerOperation: recordsPerBatch)
    let iterate = try measure {
        var input = bytes
        let parsed = try RecordBatch.read(from: &input)
        var iterator = try parsed.records(decompressedSizeBytesMax: 8 << 20)
        while let record = try iterator.next() { recordSink &+= record.value?.readableBytes ?? 0 }
    }
    report("iterate batch 256x1KiB \(codec)", iterate, bytesPerOperation: uncompressedBytes, recordsPerOperation: recordsPerBatch)
}

// Produce request v9 with 4 partitions of one 16 KiB batch each: decode of the whole frame.
let produceBatch = try batch(.none).getSlice(at: 0, length: try batch(.none).readableBytes)!
let produce = ProduceRequest(
    acks: -1, timeoutMs: 30_000,
    topicData: [.init(name: "events", partitionData: (0..<4).map { .init(index: Int32($0), records: produceBatch) })])
var produceFrame = ByteBuffer()
try KafkaRequestFrame.encode(produce, version: 9, correlationId: 1, clientId: "bench", into: &produceFrame)
let produceBody = produceFrame.getSlice(at: 4, length: produceFrame.readableBytes - 4)!
report("decode Produce v9 request (4 partitions)", try measure {
    let request = try KafkaRequestFrame.decode(produceBody)
    if case .produce(let body) = request.body { recordSink &+= body.topicData.count }
})

// Fetch response v12 for 8 partitions, each carrying a 256 KiB records slice: encode to a reused buffer.
let fetchRecords = ByteBuffer(repeating: 0x5A, count: 256 << 10)
let fetchResponse = FetchResponse(responses: [.init(topic: "events", partitions: (0..<8).map {
    .init(partitionIndex: Int32($0), highWatermark: 1_000_000, lastStableOffset: 1_000_000, logStartOffset: 0, records: fetchRecords)
})])
var fetchOutput = ByteBufferAllocator().buffer(capacity: 4 << 20)
report("encode Fetch v12 response (8 partitions)", try measure {
    fetchOutput.clear()
    try KafkaResponseFrame.encode(fetchResponse, version: 12, correlationId: 1, into: &fetchOutput)
})
if checksumSink == 42 && recordSink == 42 { print("") }
