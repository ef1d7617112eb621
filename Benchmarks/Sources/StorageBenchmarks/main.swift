import Foundation
import KafkaProtocol
import NIOCore
import StromStorage
import Synchronization

// Partition-log benchmarks: append rates (no fsync, fsync per append, group commit from 32
// appenders), read rates (cold and warm segment), and open times of a large log after a clean
// shutdown and after a crash.
// Usage: StorageBenchmarks <work directory> [large log GiB, default 10] [only: nosync|fsync|group|read|open]

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    print("usage: StorageBenchmarks <work directory> [large log GiB]")
    exit(2)
}
let work = arguments[1]
let largeLogGiB = arguments.count > 2 ? Int(arguments[2]) ?? 10 : 10
let only = arguments.count > 3 ? arguments[3] : nil
/// The group-commit figure is a ratio to the fsync-per-append one, so "group" runs both.
func runs(_ name: String) -> Bool { only == nil || only == name || (only == "group" && name == "fsync") }
let fileSystem = PosixFileSystem()
let clock = ContinuousClock()

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// A 16 KiB batch (16 records of 1 KiB), validated like a produce request's.
func batch16KiB(seed: Int) throws -> RecordBatch {
    var builder = RecordBatchBuilder()
    for index in 0..<16 {
        builder.append(timestampMs: 1_700_000_000_000, key: nil, value: ByteBuffer(repeating: UInt8(truncatingIfNeeded: seed &+ index), count: 1_000))
    }
    var bytes = try builder.build()
    let batch = try RecordBatch.read(from: &bytes)
    try batch.validate(mode: .produced, decompressedSizeBytesMax: 1 << 20)
    return batch
}

func freshLog(_ name: String) throws -> PartitionLog {
    let directory = "\(work)/\(name)-0"
    try? fileSystem.removeTree(directory)
    var config = LogConfig.defaults
    config.flushPolicy = .syncBeforeAcknowledgingAll
    return try PartitionLog.open(
        directory: directory, topicPartition: TopicPartition(topic: name, partition: 0), config: config,
        fileSystem: fileSystem, cleanShutdown: false, nowMs: 0).0
}

func report(_ name: String, bytes: Int, duration: Duration, extra: String = "") {
    let rate = Double(bytes) / seconds(duration) / 1e6
    print(name.padding(toLength: 52, withPad: " ", startingAt: 0) + String(format: "%9.1f MB/s", rate) + (extra.isEmpty ? "" : "   " + extra))
}

let batches = try (0..<64).map { try batch16KiB(seed: $0) }
let batchBytes = batches[0].bytes.readableBytes

// 1. Append without fsync: 1 GiB.
if runs("nosync") {
    let log = try freshLog("nosync")
    let count = (1 << 30) / batchBytes
    let start = clock.now
    for index in 0..<count { _ = try log.append(batches[index % batches.count], nowMs: 0) }
    report("append 16 KiB batches, no fsync (1 GiB)", bytes: count * batchBytes, duration: clock.now - start)
    try log.delete()
}

// 2. Append with an fsync per append: 3 s.
var fsyncPerAppendRate: Double = 1
if runs("fsync") {
    let log = try freshLog("fsync")
    var count = 0
    let start = clock.now
    while clock.now - start < .seconds(3) {
        _ = try log.append(batches[count % batches.count], nowMs: 0)
        try log.flush()
        count += 1
    }
    let elapsed = clock.now - start
    fsyncPerAppendRate = Double(count) / seconds(elapsed)
    report("append 16 KiB batches, fsync per append", bytes: count * batchBytes, duration: elapsed,
           extra: String(format: "%.0f appends/s", fsyncPerAppendRate))
    try log.delete()
}

// 3. Group commit: 32 concurrent appenders each waiting for durability: 3 s.
if runs("group") {
    let log = try freshLog("group")
    let groupCommit = GroupCommit(flusherThreads: Int(ProcessInfo.processInfo.environment["STROM_FLUSHER_THREADS"] ?? "") ?? 2)
    let start = clock.now
    let total = try await withThrowingTaskGroup(of: Int.self) { group in
        for appender in 0..<32 {
            group.addTask {
                var count = 0
                while clock.now - start < .seconds(3) {
                    let info = try log.append(batches[(appender + count) % batches.count], nowMs: 0)
                    _ = try await groupCommit.waitUntilDurable(log, offset: info.lastOffset)
                    count += 1
                }
                return count
            }
        }
        var sum = 0
        for try await count in group { sum += count }
        return sum
    }
    let elapsed = clock.now - start
    let rate = Double(total) / seconds(elapsed)
    report("append 16 KiB batches, group commit, 32 appenders", bytes: total * batchBytes, duration: elapsed,
           extra: String(format: "%.0f appends/s = %.1fx fsync per append, %.1f appends per fsync",
                         rate, rate / fsyncPerAppendRate, Double(groupCommit.currentStatistics.waitersServed) / Double(max(1, groupCommit.currentStatistics.rounds))))
    groupCommit.shutdown()
    try log.delete()
}

// 3b. The ceiling for any group commit on this machine: the same 32 appenders, nobody waiting,
// while one thread syncs the log back to back (so appends compete with writeback as they do
// under group commit). Group commit cannot append faster than this.
if runs("group") {
    let log = try freshLog("ceiling")
    let syncing = Atomic<Bool>(true)
    let syncer = Thread {
        while syncing.load(ordering: .acquiring) { _ = try? log.flush() }
    }
    syncer.start()
    let start = clock.now
    let total = try await withThrowingTaskGroup(of: Int.self) { group in
        for appender in 0..<32 {
            group.addTask {
                var count = 0
                while clock.now - start < .seconds(3) {
                    _ = try log.append(batches[(appender + count) % batches.count], nowMs: 0)
                    await Task.yield()
                    count += 1
                }
                return count
            }
        }
        var sum = 0
        for try await count in group { sum += count }
        return sum
    }
    let elapsed = clock.now - start
    syncing.store(false, ordering: .releasing)
    let rate = Double(total) / seconds(elapsed)
    report("ceiling: 32 appenders, syncs back to back, no wait", bytes: total * batchBytes, duration: elapsed,
           extra: String(format: "%.0f appends/s = %.1fx fsync per append", rate, rate / fsyncPerAppendRate))
    while !syncer.isFinished { usleep(1_000) }
    try log.delete()
}

// 4. Reads of a 1 GiB segment: cold (pages dropped with posix_fadvise) and warm.
if runs("read") {
    let log = try freshLog("read")
    let count = (1 << 30) / batchBytes
    for index in 0..<count { _ = try log.append(batches[index % batches.count], nowMs: 0) }
    try log.flush()
    for label in ["cold", "warm"] {
        if label == "cold" {
            for name in try fileSystem.list(log.directory) {
                let descriptor = Glibc.open("\(log.directory)/\(name)", O_RDONLY)
                posix_fadvise(descriptor, 0, 0, POSIX_FADV_DONTNEED)
                close(descriptor)
            }
        }
        var offset: Int64 = 0
        var bytes = 0
        let start = clock.now
        while offset < log.offsets.highWatermark {
            let info = try log.read(from: offset, maxBytes: 1 << 20)
            for slice in info.slices {
                let buffer = try slice.read()
                bytes += buffer.readableBytes
            }
            offset += Int64(info.sizeBytes / batchBytes) * 16
        }
        report("read 1 GiB \(label) (1 MiB fetches, copied to memory)", bytes: bytes, duration: clock.now - start)
    }
    try log.delete()
}

// 5. Open time of a large log: after a clean shutdown, after a crash with current checkpoints,
// and after a crash with no recovery point (every segment scanned).
if runs("open") {
    let dataDirectory = "\(work)/large"
    try? fileSystem.removeTree(dataDirectory)
    var config = LogConfig.defaults
    config.flushPolicy = .syncBeforeAcknowledgingAll
    let (manager, _) = try LogManager.open(dataDirectory: dataDirectory, fileSystem: fileSystem, nowMs: 0) { _ in config }
    let log = try manager.createLog(TopicPartition(topic: "large", partition: 0), config: config, nowMs: 0)
    let count = (largeLogGiB << 30) / batchBytes
    let writeStart = clock.now
    for index in 0..<count {
        _ = try log.append(batches[index % batches.count], nowMs: 0)
        if index % 4096 == 4095 { try log.flush() }
    }
    try log.flush()
    report("write \(largeLogGiB) GiB log (flush every 64 MiB)", bytes: count * batchBytes, duration: clock.now - writeStart)
    try manager.shutdown()

    var start = clock.now
    var (reopened, openReport) = try LogManager.open(dataDirectory: dataDirectory, fileSystem: fileSystem, nowMs: 0) { _ in config }
    print(String(format: "open %d GiB log after clean shutdown: %.3f s (%d segments recovered)", largeLogGiB, seconds(clock.now - start), openReport.recoveredSegmentCount))
    try reopened.checkpoint()
    // A crash: no clean-shutdown marker (it was removed at open); checkpoints are current.
    start = clock.now
    (reopened, openReport) = try LogManager.open(dataDirectory: dataDirectory, fileSystem: fileSystem, nowMs: 0) { _ in config }
    print(String(format: "open %d GiB log after a crash, recovery point current: %.3f s (%d segments scanned)", largeLogGiB, seconds(clock.now - start), openReport.recoveredSegmentCount))
    try fileSystem.remove("\(dataDirectory)/\(LogManager.recoveryPointCheckpoint)")
    start = clock.now
    (reopened, openReport) = try LogManager.open(dataDirectory: dataDirectory, fileSystem: fileSystem, nowMs: 0) { _ in config }
    print(String(format: "open %d GiB log after a crash, no recovery point: %.3f s (%d segments scanned)", largeLogGiB, seconds(clock.now - start), openReport.recoveredSegmentCount))
    try reopened.shutdown()
    try fileSystem.removeTree(dataDirectory)
}
