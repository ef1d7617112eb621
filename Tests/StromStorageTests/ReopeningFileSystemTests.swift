import Dispatch
import KafkaProtocol
import NIOCore
import StromTestSupport
import Synchronization
import Testing
@testable import StromStorage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A bounded number of open files (ReopeningFileSystem): files the budget closed read and write
/// as before, a rename or removal never lets a closed file reopen onto other contents, a leased
/// descriptor outlives eviction, and a log with far more segments than the budget recovers.
@Suite struct ReopeningFileSystemTests {
    func withBudget(_ openFilesMax: Int, _ body: (ReopeningFileSystem, String) throws -> Void) throws {
        let directory = try TemporaryDirectory(prefix: "strom-reopen-test")
        try withExtendedLifetime(directory) {
            try body(ReopeningFileSystem(base: PosixFileSystem(), openFilesMax: openFilesMax), directory.path)
        }
    }

    func contents(_ file: any StorageFile) throws -> String {
        String(buffer: try file.read(at: 0, count: Int(try file.size())))
    }

    @Test func filesBeyondTheBudgetAreClosedAndReopenedOnUse() throws {
        try withBudget(4) { fileSystem, directory in
            let files = try (0..<20).map { index in
                let file = try fileSystem.open("\(directory)/file-\(index)", create: true)
                try file.write(ByteBuffer(string: "first-\(index)"), at: 0)
                return file
            }
            #expect(fileSystem.counters.openFiles <= 4)
            #expect(fileSystem.counters.evictions >= 16)
            // Twice round, appending: every file reopens and writes where it should.
            for round in 0..<2 {
                for file in files {
                    let size = try file.size()
                    try file.write(ByteBuffer(string: "+\(round)"), at: size)
                    try file.sync()
                    #expect(fileSystem.counters.openFiles <= 4)
                }
            }
            for (index, file) in files.enumerated() {
                #expect(try contents(file) == "first-\(index)+0+1")
            }
            #expect(fileSystem.counters.reopens >= 20)
            for file in files { try file.close() }
            #expect(throws: StorageIOError.self) { try files[0].read(at: 0, count: 1) }
        }
    }

    @Test func aRenameOrRemovalKeepsTheOldContentsForTheirHolders() throws {
        try withBudget(2) { fileSystem, directory in
            let replaced = try fileSystem.open("\(directory)/replaced", create: true)
            try replaced.write(ByteBuffer(string: "old contents"), at: 0)
            let removed = try fileSystem.open("\(directory)/removed", create: true)
            try removed.write(ByteBuffer(string: "removed contents"), at: 0)
            let moved = try fileSystem.open("\(directory)/moved", create: true)
            try moved.write(ByteBuffer(string: "moved contents"), at: 0)
            // Push all three out of the budget.
            let others = try (0..<6).map { try fileSystem.open("\(directory)/other-\($0)", create: true) }
            for other in others { _ = try other.size() }

            let replacement = try fileSystem.open("\(directory)/replacement", create: true)
            try replacement.write(ByteBuffer(string: "new contents"), at: 0)
            try replacement.close()
            try fileSystem.rename("\(directory)/replacement", to: "\(directory)/replaced")
            try fileSystem.remove("\(directory)/removed")
            try fileSystem.rename("\(directory)/moved", to: "\(directory)/elsewhere")
            let newcomer = try fileSystem.open("\(directory)/moved", create: true)
            try newcomer.write(ByteBuffer(string: "a newcomer"), at: 0)
            for other in others { _ = try other.size() }

            #expect(try contents(replaced) == "old contents")
            #expect(try contents(removed) == "removed contents")
            #expect(try contents(moved) == "moved contents")
            #expect(try contents(try fileSystem.open("\(directory)/replaced", create: false)) == "new contents")
            #expect(try contents(newcomer) == "a newcomer")
        }
    }

    @Test func aRemovedTreeKeepsItsFilesReadableForTheirHolders() throws {
        try withBudget(2) { fileSystem, directory in
            try fileSystem.createDirectory("\(directory)/topic-0")
            let files = try (0..<5).map { index in
                let file = try fileSystem.open("\(directory)/topic-0/\(index).log", create: true)
                try file.write(ByteBuffer(string: "segment \(index)"), at: 0)
                return file
            }
            try fileSystem.removeTree("\(directory)/topic-0")
            #expect(!fileSystem.exists("\(directory)/topic-0"))
            for (index, file) in files.enumerated() { #expect(try contents(file) == "segment \(index)") }
        }
    }

    @Test func aLeasedDescriptorOutlivesEviction() throws {
        try withBudget(1) { fileSystem, directory in
            let file = try fileSystem.open("\(directory)/leased", create: true)
            try file.write(ByteBuffer(string: "sendfile me"), at: 0)
            let lease = try #require(file.leaseDescriptor())
            let other = try fileSystem.open("\(directory)/other", create: true)
            _ = try other.size()
            _ = try other.size()
            #expect(fileSystem.counters.evictions >= 1)
            var bytes = [UInt8](repeating: 0, count: 11)
            #expect(pread(lease.descriptor, &bytes, 11, 0) == 11)
            #expect(String(decoding: bytes, as: UTF8.self) == "sendfile me")
            lease.release()
            #expect(try contents(file) == "sendfile me")
        }
    }

    /// Readers on several threads while the budget keeps closing files under them: every read
    /// returns the file's own bytes.
    @Test func concurrentReadersAlwaysSeeTheirFile() throws {
        try withBudget(3) { fileSystem, directory in
            let files = try (0..<12).map { index in
                let file = try fileSystem.open("\(directory)/file-\(index)", create: true)
                try file.write(ByteBuffer(repeating: UInt8(index), count: 4_096), at: 0)
                return file
            }
            let mismatches = Atomic<Int>(0)
            let failures = Atomic<Int>(0)
            DispatchQueue.concurrentPerform(iterations: 4) { worker in
                var rng = SplitMix64(seed: UInt64(worker + 1))
                for _ in 0..<2_000 {
                    let index = rng.below(files.count)
                    do {
                        let bytes = try files[index].read(at: Int64(rng.below(4_000)), count: 64)
                        if bytes.readableBytesView.contains(where: { $0 != UInt8(index) }) || bytes.readableBytes != 64 {
                            mismatches.add(1, ordering: .relaxed)
                        }
                    } catch {
                        failures.add(1, ordering: .relaxed)
                    }
                }
            }
            #expect(mismatches.load(ordering: .relaxed) == 0)
            #expect(failures.load(ordering: .relaxed) == 0)
            #expect(fileSystem.counters.evictions > 0)
        }
    }

    /// The finding of the fault harness: a partition with far more segments than descriptors.
    /// With a budget of 8 files, 300 segments are written, recovered after an unclean stop,
    /// read back whole, and retention deletes old segments while a reader holds one of them.
    @Test func aLogWithManyMoreSegmentsThanTheBudgetRecoversAndReads() throws {
        try withBudget(8) { fileSystem, directory in
            let topicPartition = TopicPartition(topic: "many", partition: 0)
            var config = smallSegments(600, indexIntervalBytes: 100)
            config.retentionSizeBytes = 60_000
            let logDirectory = "\(directory)/many-0"
            var (log, _) = try PartitionLog.open(
                directory: logDirectory, topicPartition: topicPartition, config: config, fileSystem: fileSystem,
                cleanShutdown: false, nowMs: 0)
            for index in 0..<600 {
                _ = try log.append(try producedBatch(keys: ["k\(index)"], valueSizeBytes: 200), nowMs: 0)
            }
            try log.flush()
            #expect(log.segmentBaseOffsets.count >= 300)
            #expect(fileSystem.counters.openFiles <= 8)
            // No close: the next open recovers every segment, as after kill -9.
            (log, _) = try PartitionLog.open(
                directory: logDirectory, topicPartition: topicPartition, config: config, fileSystem: fileSystem,
                cleanShutdown: false, nowMs: 0)
            #expect(log.offsets.logEndOffset == 600)
            #expect(try allBatches(of: log).map(\.baseOffset) == Array(0..<600))
            #expect(fileSystem.counters.openFiles <= 8)

            let held = try log.read(from: 0, maxBytes: 10_000)
            let heldBytes = try held.slices.map { try $0.read() }
            try log.applyRetention(nowMs: 1)
            #expect(log.offsets.logStartOffset > 0)
            for _ in 0..<3 { _ = try allBatches(of: log) }
            #expect(try held.slices.map { try $0.read() } == heldBytes)
            try log.close()
        }
    }
}
