import Foundation
import KafkaProtocol
import NIOCore
import StromTestSupport
import Testing
@testable import StromStorage

/// Power cuts on the simulated disk, which drops or tears writes that were not fsynced — what
/// kill -9 cannot show, since the page cache survives it. Every batch acknowledged as durable
/// (covered by a completed flush) must survive, intact and at its offsets; the recovered log must
/// be valid and dense; appends must continue.
@Suite struct PowerLossTests {
    static let rounds = Int(ProcessInfo.processInfo.environment["STROM_POWER_LOSS_ROUNDS"] ?? "") ?? 300

    @Test func acknowledgedBatchesSurviveEveryPowerCut() throws {
        var failures: [String] = []
        for seed in UInt64(0)..<UInt64(Self.rounds) {
            do {
                try Self.round(seed: seed)
            } catch {
                failures.append("seed \(seed): \(error)")
            }
        }
        #expect(failures.isEmpty, "\(failures.count) rounds failed, e.g. \(failures.prefix(3))")
    }

    /// STROM_DEBUG_SEED=n prints what each power cut of round n dropped, to replay a failure.
    static let debugSeed: UInt64? = UInt64(ProcessInfo.processInfo.environment["STROM_DEBUG_SEED"] ?? "")

    struct Lost: Error, CustomStringConvertible { let description: String }

    static func round(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let fileSystem = SimulatedFileSystem()
        let topicPartition = TopicPartition(topic: "power", partition: 0)
        let config = smallSegments(1_024 + rng.below(4_096), indexIntervalBytes: 128)
        let directory = "/data/power-0"
        var (log, _) = try PartitionLog.open(
            directory: directory, topicPartition: topicPartition, config: config, fileSystem: fileSystem,
            cleanShutdown: false, nowMs: 0)
        var durable: [Int64: UInt32] = [:]      // first offset → CRC of batches acknowledged as durable
        var written: [Int64: UInt32] = [:]      // every batch written, durable or not
        for cut in 0..<3 {
            for step in 0..<(5 + rng.below(60)) {
                let keys = (0..<(1 + rng.below(8))).map { "s\(seed)-c\(cut)-\(step)-\($0)" }
                let batch = try producedBatch(keys: keys, valueSizeBytes: rng.below(400), codec: rng.oneIn(3) ? .lz4 : .none)
                let info = try log.append(batch, nowMs: 0)
                written[info.firstOffset] = batch.header.crc
                if rng.oneIn(3) {
                    let durableUpTo = try log.flush()
                    for (offset, crc) in written where offset < durableUpTo { durable[offset] = crc }
                }
            }
            let crashReport = fileSystem.crash(seed: rng.next())
            if Self.debugSeed == seed { print("DEBUG cut \(cut) before crash: segments \(log.segmentBaseOffsets) offsets \(log.offsets) recovery \(log.recoveryPoint) durable max \(durable.keys.max() ?? -1)\n\(crashReport)") }
            (log, _) = try PartitionLog.open(
                directory: directory, topicPartition: topicPartition, config: config, fileSystem: fileSystem,
                cleanShutdown: false, nowMs: 0)
            if Self.debugSeed == seed { print("DEBUG after reopen: segments \(log.segmentBaseOffsets) offsets \(log.offsets)") }
            let present = Dictionary(uniqueKeysWithValues: try allBatches(of: log).map { ($0.baseOffset, $0.crc) })
            for (offset, crc) in durable where present[offset] != crc {
                throw Lost(description: "acknowledged batch at \(offset) lost or changed after cut \(cut)")
            }
            // What survived beyond the durable part was written by us, not garbage.
            for (offset, crc) in present where written[offset] != crc {
                throw Lost(description: "batch at \(offset) after cut \(cut) was never written")
            }
            written = present
            // Recovery made everything it kept durable.
            for (offset, crc) in present { durable[offset] = crc }
        }
    }
}
