import Dispatch
import Synchronization
import KafkaProtocol
import NIOCore
import StromTestSupport
import Testing
@testable import StromStorage

@Suite struct GroupCommitTests {
    /// 32 concurrent appenders each wait for durability; every waiter resumes only once its batch
    /// is at or below the recovery point, and no sync is spent per appender.
    @Test func concurrentAppendersShareSyncs() async throws {
        let directory = try TemporaryDirectory()
        let (log, _) = try PartitionLog.open(
            directory: directory.path + "/g-0", topicPartition: TopicPartition(topic: "g", partition: 0),
            config: .defaults, fileSystem: PosixFileSystem(), cleanShutdown: false, nowMs: 0)
        let groupCommit = GroupCommit()
        let appendsPerTask = 20
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<32 {
                group.addTask {
                    for index in 0..<appendsPerTask {
                        let info = try log.append(try producedBatch(keys: ["t\(task)-\(index)"]), nowMs: 0)
                        let durable = try await groupCommit.waitUntilDurable(log, offset: info.lastOffset)
                        #expect(durable > info.lastOffset)
                        #expect(log.recoveryPoint > info.lastOffset)
                        #expect(log.offsets.highWatermark > info.lastOffset, "flushed data is visible to consumers")
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(log.recoveryPoint == 32 * Int64(appendsPerTask))
        groupCommit.shutdown()
        await #expect(throws: CancellationError.self) {
            _ = try await groupCommit.waitUntilDurable(log, offset: log.offsets.logEndOffset + 5)
        }
        try log.close()
    }

    /// Waiters share syncs, counted on the disk: 32 appenders wait while the first sync is held
    /// (a slow disk), so they all ride the next one — two syncs of the segment for 32 waiters.
    @Test(.timeLimit(.minutes(1))) func waitersDuringASyncShareTheNextOne() async throws {
        let fileSystem = SimulatedFileSystem()
        let (log, _) = try PartitionLog.open(
            directory: "/data/s-0", topicPartition: TopicPartition(topic: "s", partition: 0),
            config: .defaults, fileSystem: fileSystem, cleanShutdown: false, nowMs: 0)
        let segmentSyncs = Mutex(0)
        let firstSyncMayFinish = DispatchSemaphore(value: 0)
        fileSystem.observeSyncs { path in
            guard path.hasSuffix(".log") else { return }
            let count = segmentSyncs.withLock { count in
                count += 1
                return count
            }
            if count == 1 { firstSyncMayFinish.wait() }
        }
        let groupCommit = GroupCommit(flusherThreads: 1)
        let appenders = 32
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<appenders {
                group.addTask {
                    let info = try log.append(try producedBatch(keys: ["t\(task)"]), nowMs: 0)
                    #expect(try await groupCommit.waitUntilDurable(log, offset: info.lastOffset) > info.lastOffset)
                }
            }
            // Every appender has appended (and so waits) before the first sync may end.
            while log.offsets.logEndOffset < Int64(appenders) { try await Task.sleep(for: .milliseconds(1)) }
            firstSyncMayFinish.signal()
            try await group.waitForAll()
        }
        #expect(segmentSyncs.withLock { $0 } <= 2, "32 waiters, at most two syncs of the segment")
        #expect(groupCommit.currentStatistics.waitersServed == appenders)
        #expect(groupCommit.currentStatistics.rounds == segmentSyncs.withLock { $0 }, "one sync a round, the one log")
        groupCommit.shutdown()
        try log.close()
    }
}
