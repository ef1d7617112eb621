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

    @Test func killDashNineNeverLosesAnAcknowledgedBatch() throws {
        let directory = try TemporaryDirectory()
        let logDirectory = directory.path + "/crash-0"
        var rng = SplitMix64(seed: 0x5EED)
        var acknowledged: [Ack] = []
        #expect(FileManager.default.isExecutableFile(atPath: Self.writerPath), "missing \(Self.writerPath)")
        for round in 0..<Self.rounds {
            let acksBeforeKill = 1 + rng.below(30)
            let acks = try Self.runWriterAndKill(directory: logDirectory, round: round, seed: rng.next(), acksBeforeKill: acksBeforeKill)
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
    static func runWriterAndKill(directory: String, round: Int, seed: UInt64, acksBeforeKill: Int) throws -> [Ack] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: writerPath)
        process.arguments = [directory, String(round), String(seed)]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let pid = process.processIdentifier
        // A watchdog bounds the round even if the child hangs: the pipe then reaches end of file.
        let watchdog = DispatchWorkItem { kill(pid, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + 30, execute: watchdog)
        defer { watchdog.cancel() }
        var acks: [Ack] = []
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
                if fields.first == "acked", fields.count == 4, let first = Int64(fields[1]), let last = Int64(fields[2]),
                   let crc = UInt32(fields[3]) {
                    acks.append(Ack(firstOffset: first, lastOffset: last, crc: crc))
                }
            }
            if !killed && acks.count >= acksBeforeKill {
                kill(pid, SIGKILL)
                killed = true
            }
        }
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal, "round \(round): the writer exited by itself: \(process.terminationStatus)")
        return acks
    }
}
