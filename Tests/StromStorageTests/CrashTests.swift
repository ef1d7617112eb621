import Foundation
import KafkaProtocol
import NIOCore
import StromTestSupport
import Testing
@testable import StromStorage

/// Real process death: a child (`StromLogWriter`) appends with fsync and reports each acknowledged
/// batch; the test kills it with SIGKILL at random moments, reopens the log, and checks that every
/// acknowledged batch is there, intact, at its offsets, that nothing invalid is served, and that
/// the next child appends on top.
@Suite struct CrashTests {
    struct Ack: Hashable {
        var firstOffset: Int64
        var lastOffset: Int64
        var crc: UInt32
    }

    static let rounds = Int(ProcessInfo.processInfo.environment["STROM_CRASH_ROUNDS"] ?? "") ?? 50

    static var writerPath: String {
        // swift test runs the test binary from the build directory, beside the executables.
        URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent("StromLogWriter").path
    }

    @Test func killDashNineNeverLosesAnAcknowledgedBatch() async throws {
        let directory = try TemporaryDirectory()
        let logDirectory = directory.path + "/crash-0"
        var rng = SplitMix64(seed: 0x5EED)
        var acknowledged: [Ack] = []
        #expect(FileManager.default.isExecutableFile(atPath: Self.writerPath), "missing \(Self.writerPath)")
        for round in 0..<Self.rounds {
            let acksBeforeKill = 1 + rng.below(30)
            let acks = try await Self.runWriterAndKill(directory: logDirectory, round: round, seed: rng.next(), acksBeforeKill: acksBeforeKill)
            acknowledged += acks
            let (log, _) = try PartitionLog.open(
                directory: logDirectory, topicPartition: TopicPartition(topic: "crash", partition: 0),
                config: try LogConfig(properties: ["segment.bytes": "65536"]), fileSystem: PosixFileSystem(),
                cleanShutdown: false, nowMs: 0)
            for ack in acks { try Self.verify(ack, in: log, context: "round \(round)") }
            try log.close()
        }
        // Every acknowledged batch of every round is still there, and the whole log is valid and dense.
        let (log, _) = try PartitionLog.open(
            directory: logDirectory, topicPartition: TopicPartition(topic: "crash", partition: 0),
            config: try LogConfig(properties: ["segment.bytes": "65536"]), fileSystem: PosixFileSystem(),
            cleanShutdown: false, nowMs: 0)
        for ack in acknowledged { try Self.verify(ack, in: log, context: "final") }
        var expectedOffset: Int64 = 0
        var position: Int64 = 0
        while position < log.offsets.logEndOffset {
            let info = try log.read(from: position, maxBytes: 1 << 20)
            for slice in info.slices {
                var bytes = try slice.read()
                while bytes.readableBytes > 0 {
                    let batch = try RecordBatch.read(from: &bytes)
                    try batch.validate(mode: .stored, decompressedSizeBytesMax: 1 << 24)
                    #expect(batch.header.baseOffset == expectedOffset, "gap or overlap at \(expectedOffset)")
                    expectedOffset = batch.header.lastOffset + 1
                }
            }
            position = expectedOffset
        }
        #expect(expectedOffset == log.offsets.logEndOffset)
        #expect(acknowledged.count >= Self.rounds, "the writer made too little progress: \(acknowledged.count) acks")
        try log.close()
    }

    static func verify(_ ack: Ack, in log: PartitionLog, context: String) throws {
        let info = try log.read(from: ack.firstOffset, maxBytes: 1)
        var bytes = try #require(info.slices.first, "\(context): offset \(ack.firstOffset) missing").read()
        let batch = try RecordBatch.read(from: &bytes)
        #expect(batch.header.baseOffset == ack.firstOffset && batch.header.lastOffset == ack.lastOffset,
                "\(context): batch at \(ack.firstOffset) is \(batch.header.baseOffset)...\(batch.header.lastOffset)")
        #expect(batch.header.crc == ack.crc, "\(context): batch at \(ack.firstOffset) changed")
        try batch.verifyChecksum()
    }

    /// Starts the writer, lets it acknowledge `acksBeforeKill` batches, kills it, and returns every
    /// acknowledgement it printed (including any that raced with the kill).
    static func runWriterAndKill(directory: String, round: Int, seed: UInt64, acksBeforeKill: Int) async throws -> [Ack] {
        let lines = try await runChildAndKillOffPool(arguments: [directory, String(round), String(seed)], round: round, acksBeforeKill: acksBeforeKill)
        return lines.compactMap { fields in
            guard fields.count == 4, let first = Int64(fields[1]), let last = Int64(fields[2]), let crc = UInt32(fields[3]) else { return nil }
            return Ack(firstOffset: first, lastOffset: last, crc: crc)
        }
    }

    /// Kill -9 in the middle of compaction: the child (`StromLogWriter … compact`) appends keyed
    /// updates and cleans every few batches; after each kill the data directory reopens (finishing
    /// or discarding an interrupted segment swap), every record read back is one the child wrote
    /// for its key, at its offset, and every key's last record is at or after its latest
    /// acknowledged update (a later, unacknowledged one may have survived too): nothing resurrects.
    @Test func killDashNineDuringCompactionKeepsTheLatestValueOfEveryKey() async throws {
        let directory = try TemporaryDirectory()
        let dataDirectory = directory.path + "/data"
        let topicPartition = TopicPartition(topic: "compacted", partition: 0)
        var rng = SplitMix64(seed: 0xC1EA)
        var latestAcked: [String: Int64] = [:]
        var ackCount = 0
        var cleaned = false
        for round in 0..<max(1, Self.rounds / 2) {
            // Most children kill themselves at a random step of a clean; the others are killed from
            // here after some acknowledgements, wherever they are.
            let killAtStep = rng.below(4) == 0 ? 0 : 1 + rng.below(80)
            let lines = try await Self.runChildAndKillOffPool(
                arguments: [dataDirectory, String(round), String(rng.next()), "compact", String(killAtStep)], round: round,
                acksBeforeKill: killAtStep > 0 ? Int.max : 5 + rng.below(60))
            for fields in lines where fields.count == 4 {
                guard let first = Int64(fields[1]) else { continue }
                for (index, key) in fields[3].split(separator: ",").enumerated() { latestAcked[String(key)] = first + Int64(index) }
                ackCount += 1
            }
            let config = try LogConfig(properties: ["cleanup.policy": "compact", "segment.bytes": "4096"])
            let (manager, _) = try LogManager.open(dataDirectory: dataDirectory, fileSystem: PosixFileSystem(), nowMs: 0) { _ in config }
            try manager.restoreCleanerCheckpoints()
            let log = try #require(manager.log(for: topicPartition), "round \(round): log missing")
            cleaned = cleaned || (log.cleanerCheckpoint ?? 0) > 0
            let leftovers = try PosixFileSystem().list(dataDirectory + "/" + topicPartition.directoryName)
                .filter { $0.hasSuffix(".cleaned") || $0.hasSuffix(".swap") }
            #expect(leftovers.isEmpty, "round \(round): leftovers \(leftovers)")
            var lastOffsetByKey: [String: Int64] = [:]
            var position = log.offsets.logStartOffset
            for _ in 0..<100_000 where position < log.offsets.logEndOffset {
                let info = try log.read(from: position, maxBytes: 1 << 20)
                guard !info.slices.isEmpty else { break }
                for slice in info.slices {
                    var bytes = try slice.read()
                    while bytes.readableBytes > 0 {
                        let batch = try RecordBatch.read(from: &bytes)
                        try batch.validate(mode: .stored, decompressedSizeBytesMax: 1 << 20)
                        var records = try batch.records(decompressedSizeBytesMax: 1 << 20)
                        while let record = try records.next() {
                            let key = String(buffer: try #require(record.key, "round \(round): record without a key"))
                            let value = String(buffer: try #require(record.value, "round \(round): record without a value"))
                            #expect(value.hasPrefix(key + "@"), "round \(round): key \(key) holds \(value)")
                            lastOffsetByKey[key] = batch.header.baseOffset + Int64(record.offsetDelta)
                        }
                        position = batch.header.lastOffset + 1
                    }
                }
            }
            for (key, acked) in latestAcked {
                #expect((lastOffsetByKey[key] ?? -1) >= acked, "round \(round): key \(key) last at \(lastOffsetByKey[key] ?? -1), acknowledged at \(acked)")
            }
            try manager.shutdown()
        }
        #expect(ackCount >= Self.rounds / 2, "the writer made too little progress: \(ackCount) acks")
        #expect(cleaned, "no clean ever completed")
    }

    /// Starts the writer with `arguments`, lets it acknowledge `acksBeforeKill` times (or until it
    /// dies), kills it, and returns the fields of every "acked" line it printed (including any that
    /// raced with the kill).
    static func runChildAndKill(arguments: [String], round: Int, acksBeforeKill: Int) throws -> ChildRun {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: writerPath)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let pid = process.processIdentifier
        // A watchdog bounds the round even if the child hangs: the pipe then reaches end of file.
        let watchdog = DispatchWorkItem { kill(pid, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + 30, execute: watchdog)
        defer { watchdog.cancel() }
        var acks: [[Substring]] = []
        var pending = ""
        var killed = false
        let reader = output.fileHandleForReading
        while true {
            let data = reader.availableData
            if data.isEmpty { break }
            pending += String(decoding: data, as: UTF8.self)
            while let newline = pending.firstIndex(of: "\n") {
                let line = pending[..<newline]
                pending = String(pending[pending.index(after: newline)...])
                let fields = line.split(separator: " ")
                if fields.first == "acked" { acks.append(fields.map { Substring($0) }) }
            }
            if !killed && acks.count >= acksBeforeKill {
                kill(pid, SIGKILL)
                killed = true
            }
        }
        process.waitUntilExit()
        return ChildRun(lines: acks, killed: process.terminationReason == .uncaughtSignal, status: process.terminationStatus)
    }

    struct ChildRun: Sendable {
        var lines: [[Substring]]
        /// Whether it ended by a signal (the kill), not by itself.
        var killed: Bool
        var status: Int32
    }

    /// ``runChildAndKill(arguments:round:acksBeforeKill:)`` off the cooperative pool; checks that the
    /// child was killed rather than exiting by itself.
    static func runChildAndKillOffPool(arguments: [String], round: Int, acksBeforeKill: Int) async throws -> [[Substring]] {
        let run = try await runBlocking { try runChildAndKill(arguments: arguments, round: round, acksBeforeKill: acksBeforeKill) }
        #expect(run.killed, "round \(round): the writer exited by itself: \(run.status)")
        return run.lines
    }
}
