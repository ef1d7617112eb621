import Foundation
import KafkaProtocol
import NIOCore
import StromStorage
import StromTestSupport
import Synchronization

/// The `compact` mode of the crash-test child (see main.swift): keyed updates over 16 keys, each
/// batch fsynced and then reported as "acked <firstOffset> <lastOffset> <key>,<key>,…", and every
/// fourth batch a roll and a compaction round (at most two segments). Values are
/// "<key>@r<round>-b<batch>-<index>", so the test can check that every record read back is one
/// this writer made for that key.
///
/// With `killAtStep` > 0 the child sends itself SIGKILL just before the `killAtStep`-th file-system
/// change made by compaction (counted over all rounds): a kill -9 aimed inside a clean, at every
/// step of a segment swap, which a kill from outside hits only by luck when clean rounds take
/// microseconds.
func runCompactingWriter(dataDirectory: String, round: Int, seed: UInt64, killAtStep: Int) throws -> Never {
    let config = try LogConfig(properties: [
        "cleanup.policy": "compact", "segment.bytes": "4096", "index.interval.bytes": "256",
        "min.cleanable.dirty.ratio": "0",
    ])
    let fileSystem = KillingFileSystem(killAtStep: killAtStep)
    let (manager, _) = try LogManager.open(dataDirectory: dataDirectory, fileSystem: fileSystem, nowMs: 0) { _ in config }
    let log = try manager.createLog(TopicPartition(topic: "compacted", partition: 0), config: config, nowMs: 0)
    FileHandle.standardOutput.write(Data("ready \(log.offsets.logEndOffset)\n".utf8))
    var rng = SplitMix64(seed: seed)
    func next() -> UInt64 { rng.next() }
    var batchNumber = 0
    while true {
        let keys = (0..<(1 + Int(next() % 4))).map { _ in "k\(next() % 16)" }
        var builder = RecordBatchBuilder(compressionCodec: batchNumber % 2 == 0 ? .zstd : .none)
        for (index, key) in keys.enumerated() {
            builder.append(
                timestampMs: Int64(batchNumber), key: ByteBuffer(string: key),
                value: ByteBuffer(string: "\(key)@r\(round)-b\(batchNumber)-\(index)"))
        }
        var bytes = try builder.build()
        let batch = try RecordBatch.read(from: &bytes)
        try batch.validate(mode: .produced, decompressedSizeBytesMax: 1 << 20)
        let info = try log.append(batch, nowMs: Int64(batchNumber))
        try log.flush()
        FileHandle.standardOutput.write(Data("acked \(info.firstOffset) \(info.lastOffset) \(keys.joined(separator: ","))\n".utf8))
        if batchNumber % 4 == 3 {
            try log.roll(nowMs: Int64(batchNumber))
            try log.flush()
            fileSystem.counting(true)
            _ = try manager.compact(nowMs: Int64(batchNumber), limits: LogCleanerLimits(segmentsPerRoundMax: 2))
            fileSystem.counting(false)
        }
        batchNumber += 1
    }
}

/// POSIX files, plus a self-inflicted SIGKILL before the chosen change while counting is on.
final class KillingFileSystem: StorageFileSystem {
    private struct Counter {
        var isCounting = false
        var steps = 0
    }

    private let base = PosixFileSystem()
    private let killAtStep: Int
    private let counter = Mutex(Counter())

    init(killAtStep: Int) {
        self.killAtStep = killAtStep
    }

    func counting(_ on: Bool) {
        counter.withLock { $0.isCounting = on }
    }

    /// Counts one change; dies before making the chosen one.
    func step() {
        let die = counter.withLock { counter -> Bool in
            guard counter.isCounting else { return false }
            counter.steps += 1
            return counter.steps == killAtStep
        }
        if die { kill(getpid(), SIGKILL) }
    }

    func open(_ path: String, create: Bool) throws(StorageIOError) -> any StorageFile {
        if create && !base.exists(path) { step() }
        return KillingFile(try base.open(path, create: create), fileSystem: self)
    }

    func list(_ directory: String) throws(StorageIOError) -> [String] { try base.list(directory) }
    func createDirectory(_ path: String) throws(StorageIOError) { try base.createDirectory(path) }
    func exists(_ path: String) -> Bool { base.exists(path) }

    func rename(_ source: String, to destination: String) throws(StorageIOError) {
        step()
        try base.rename(source, to: destination)
    }

    func remove(_ path: String) throws(StorageIOError) {
        step()
        try base.remove(path)
    }

    func removeTree(_ path: String) throws(StorageIOError) {
        step()
        try base.removeTree(path)
    }

    func syncDirectory(_ path: String) throws(StorageIOError) {
        step()
        try base.syncDirectory(path)
    }
}

final class KillingFile: StorageFile {
    private let file: any StorageFile
    private let fileSystem: KillingFileSystem

    init(_ file: any StorageFile, fileSystem: KillingFileSystem) {
        self.file = file
        self.fileSystem = fileSystem
    }

    var path: String { file.path }
    func leaseDescriptor() -> StorageFileLease? { file.leaseDescriptor() }

    func write(_ bytes: ByteBuffer, at position: Int64) throws(StorageIOError) {
        fileSystem.step()
        try file.write(bytes, at: position)
    }

    func read(at position: Int64, count: Int) throws(StorageIOError) -> ByteBuffer { try file.read(at: position, count: count) }
    func size() throws(StorageIOError) -> Int64 { try file.size() }

    func sync() throws(StorageIOError) {
        fileSystem.step()
        try file.sync()
    }

    func truncate(to sizeBytes: Int64) throws(StorageIOError) {
        fileSystem.step()
        try file.truncate(to: sizeBytes)
    }

    func close() throws(StorageIOError) { try file.close() }
}
