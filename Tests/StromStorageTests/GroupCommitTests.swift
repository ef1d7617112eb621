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
}
