import Foundation
import KafkaProtocol
import NIOCore
import StromStorage
import StromTestSupport

// A child process for the crash test (Tests/StromStorageTests/CrashTests.swift): it opens a log
// (recovering it like a restarted broker), then appends batches for ever, fsyncing each one and
// only then printing "acked <firstOffset> <lastOffset> <crc>" on stdout. The test kills it with
// SIGKILL at a random moment and checks that every acknowledged batch survived at its offsets with
// the same CRC-32C (which covers every byte but the offset and leader epoch fields).
//
// With `compact <kill step>`, the directory is a data directory (LogManager) holding one compacted
// log: the child appends keyed updates over a few keys and runs a compaction round every few
// batches, printing "acked <firstOffset> <lastOffset> <key>,…"; with a kill step > 0 it kills
// itself in the middle of a clean (see CompactingWriter.swift).
//
// Usage: StromLogWriter <directory> <round> <seed> [compact <kill step>]

let arguments = CommandLine.arguments
guard arguments.count == 4 || (arguments.count == 6 && arguments[4] == "compact" && Int(arguments[5]) != nil),
      let round = Int(arguments[2]), let seed = UInt64(arguments[3])
else {
    FileHandle.standardError.write(Data("usage: StromLogWriter <dir> <round> <seed> [compact <kill step>]\n".utf8))
    exit(2)
}
let directory = arguments[1]
if arguments.count == 6 {
    try runCompactingWriter(dataDirectory: directory, round: round, seed: seed, killAtStep: Int(arguments[5]) ?? 0)
}
// Small segments so that kills also land during rolls.
let config = try LogConfig(properties: ["segment.bytes": "65536", "index.interval.bytes": "1024"])
let (log, _) = try PartitionLog.open(
    directory: directory, topicPartition: TopicPartition(topic: "crash", partition: 0), config: config,
    fileSystem: PosixFileSystem(), recoveryPoint: 0, cleanShutdown: false, nowMs: 0)
/// Unbuffered, so a line is out before the next append starts and a kill cannot hide it.
func report(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
report("ready \(log.offsets.logEndOffset)")

var rng = SplitMix64(seed: seed)
@MainActor func next() -> UInt64 { rng.next() }

var batchNumber = 0
while true {
    let recordCount = 1 + Int(next() % 20)
    let valueSizeBytes = Int(next() % 2_000)
    var builder = RecordBatchBuilder(compressionCodec: batchNumber % 3 == 0 ? .lz4 : .none)
    for index in 0..<recordCount {
        builder.append(
            timestampMs: Int64(batchNumber),
            key: ByteBuffer(string: "r\(round)-b\(batchNumber)-\(index)"),
            value: ByteBuffer(repeating: UInt8(truncatingIfNeeded: next()), count: valueSizeBytes))
    }
    var bytes = try builder.build()
    let batch = try RecordBatch.read(from: &bytes)
    try batch.validate(mode: .produced, decompressedSizeBytesMax: 1 << 24)
    let info = try log.append(batch, nowMs: Int64(batchNumber))
    try log.flush()
    report("acked \(info.firstOffset) \(info.lastOffset) \(batch.header.crc)")
    batchNumber += 1
}
