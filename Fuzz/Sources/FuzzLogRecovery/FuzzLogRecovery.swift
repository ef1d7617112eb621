import KafkaProtocol
import NIOCore
import StromStorage

/// Arbitrary segment files must open (or fail with a storage error) without a trap, and a log
/// that opens online and passes its scrub must serve only whole batches that pass their CRC, in offset order, take
/// new appends at its end, and reopen to the same end.
///
/// Input: `[flags][recovery point]` then per segment `[UInt16 base offset][UInt16 log length]
/// [log bytes][UInt8 index length][index bytes]`; the last segment's log takes what is left when
/// the input runs short. Flags: bit 0 clean shutdown, bit 1 compacted topic, bits 2-3 segments - 1.
@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = ByteBuffer(bytes: UnsafeBufferPointer(start: data, count: size))
    guard let flags = input.readInteger(as: UInt8.self), let recoveryPoint = input.readInteger(as: UInt8.self) else { return 0 }
    let cleanShutdown = flags & 1 != 0
    let compacted = flags & 2 != 0
    let segmentCount = Int((flags >> 2) & 3) + 1
    let fileSystem = SimulatedFileSystem()
    let directory = "/data/fuzz-0"
    do {
        try fileSystem.createDirectory(directory)
        for _ in 0..<segmentCount {
            guard let base = input.readInteger(endianness: .big, as: UInt16.self),
                  let length = input.readInteger(endianness: .big, as: UInt16.self) else { break }
            let logBytes = input.readSlice(length: min(Int(length), input.readableBytes))!
            let digits = String(base)
            let name = String(repeating: "0", count: 20 - digits.count) + digits
            try write(logBytes, to: "\(directory)/\(name).log", fileSystem)
            if let indexLength = input.readInteger(as: UInt8.self) {
                let indexBytes = input.readSlice(length: min(Int(indexLength), input.readableBytes))!
                try write(indexBytes, to: "\(directory)/\(name).index", fileSystem)
            }
        }
    } catch {
        fatalError("the simulated disk refused a write: \(error)")
    }
    var config = LogConfig.defaults
    config.segmentSizeBytes = 2_048
    config.indexIntervalBytes = 128
    if compacted { config = (try? LogConfig(properties: ["cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0"], defaults: config)) ?? config }
    let topicPartition = TopicPartition(topic: "fuzz", partition: 0)
    func open() throws(StorageIOError) -> PartitionLog {
        try PartitionLog.open(
            directory: directory, topicPartition: topicPartition, config: config, fileSystem: fileSystem,
            recoveryPoint: Int64(recoveryPoint), cleanShutdown: cleanShutdown, nowMs: 0).0
    }
    guard let log = try? open(), log.offlineReason == nil else { return 0 }
    // Flushed data is trusted at open (as Kafka does) and checked by the background scrub; a log
    // that passes the scrub must serve only whole batches with good CRCs.
    _ = try? log.scrub()
    guard log.offlineReason == nil else { return 0 }
    let end = checkServedBatches(log, "after recovery")
    // Offsets may have gaps (compaction, retention, an empty newest segment), never batches past the end.
    guard end <= log.offsets.logEndOffset else {
        fatalError("the log says it ends at \(log.offsets.logEndOffset), its batches end at \(end)")
    }
    if compacted { _ = try? log.compact(nowMs: 1_000_000) }
    var builder = RecordBatchBuilder()
    builder.append(timestampMs: 1, key: ByteBuffer(string: "k"), value: ByteBuffer(string: "after recovery"))
    guard var bytes = try? builder.build(), let batch = try? RecordBatch.read(from: &bytes) else { fatalError("a built batch does not parse") }
    let endBefore = log.offsets.logEndOffset
    guard let info = try? log.append(batch, nowMs: 2) else {
        if log.offlineReason == nil { fatalError("an online recovered log refused an append") }
        return 0
    }
    guard info.firstOffset == endBefore else { fatalError("append at \(info.firstOffset), log ended at \(endBefore)") }
    _ = try? log.flush()
    _ = try? log.scrub()
    try? log.close()
    guard let reopened = try? PartitionLog.open(
        directory: directory, topicPartition: topicPartition, config: config, fileSystem: fileSystem,
        recoveryPoint: endBefore + 1, cleanShutdown: true, nowMs: 0).0 else { fatalError("a cleanly closed log did not reopen") }
    guard reopened.offlineReason == nil, reopened.offsets.logEndOffset == endBefore + 1 else {
        fatalError("reopened at \(reopened.offsets.logEndOffset) (\(reopened.offlineReason ?? "online")), closed at \(endBefore + 1)")
    }
    _ = checkServedBatches(reopened, "after an append and a clean reopen")
    return 0
}

func write(_ bytes: ByteBuffer, to path: String, _ fileSystem: SimulatedFileSystem) throws {
    let file = try fileSystem.open(path, create: true)
    try file.write(bytes, at: 0)
    try file.sync()
    try file.close()
}

/// Reads the log from its start; every served batch must be whole, pass its CRC and follow the
/// previous one. Returns the offset after the last.
func checkServedBatches(_ log: PartitionLog, _ phase: String) -> Int64 {
    var next = log.offsets.logStartOffset
    var previousLast: Int64 = -1
    for _ in 0..<10_000 {
        guard next < log.offsets.highWatermark, let info = try? log.read(from: next, maxBytes: 1 << 16), !info.slices.isEmpty else { break }
        for slice in info.slices {
            guard var bytes = try? slice.read() else { fatalError("\(phase): a served slice cannot be read") }
            while bytes.readableBytes > 0 {
                guard let batch = try? RecordBatch.read(from: &bytes) else { fatalError("\(phase): a served slice holds a partial batch") }
                guard (try? batch.verifyChecksum()) != nil else { fatalError("\(phase): batch \(batch.header.baseOffset) served fails its CRC") }
                guard batch.header.baseOffset > previousLast else { fatalError("\(phase): served offsets go back") }
                previousLast = batch.header.lastOffset
                next = batch.header.lastOffset + 1
            }
        }
    }
    return next
}
