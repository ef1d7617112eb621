import StromStorage
import Testing
@testable import StromBroker

/// Sampling the coordinator's committed offsets into windows, and what an evaluation reports.
@Suite struct LagMonitorTests {
    let key = LagMonitor.Key(group: "billing", topic: "orders", partition: 0)

    func commit(_ offset: Int64, at seconds: Int64) -> LagMonitor.Commit {
        .init(key: key, offset: offset, commitTimestampMs: seconds * 1_000)
    }

    @Test func aRepeatedCommitOfTheSameOffsetIsASampleTheSameCommitIsNot() {
        let monitor = LagMonitor(windowCapacity: 10, minimumDistanceMs: 0)
        let logEnd: (TopicPartition) -> Int64? = { _ in 100 }
        monitor.sample([commit(40, at: 0)], logEndOffset: logEnd)
        monitor.sample([commit(40, at: 0)], logEndOffset: logEnd)  // nothing new since
        monitor.sample([commit(40, at: 5)], logEndOffset: logEnd)  // committed again, unchanged
        let lag = monitor.evaluate(logEndOffset: logEnd, timestamp: { _, _ in nil }, nowMs: 6_000)
        #expect(lag.map(\.status) == [.stall], "two commits of one offset with lag")
    }

    @Test func reportsLagInRecordsAndInTimeFromTheOldestUnreadRecord() {
        let monitor = LagMonitor()
        monitor.sample([commit(40, at: 0)], logEndOffset: { _ in 100 })
        let lag = monitor.evaluate(
            logEndOffset: { _ in 120 }, timestamp: { topicPartition, offset in
                #expect(topicPartition == TopicPartition(topic: "orders", partition: 0))
                #expect(offset == 40, "the committed offset is the first record not read")
                return 3_000
            }, nowMs: 9_000)
        #expect(lag == [.init(key: key, committedOffset: 40, logEndOffset: 120, lag: 80, timeLagMs: 6_000, status: .ok)])
    }

    @Test func noLagMeansNoTimeLagWhateverTheTimestamps() {
        let monitor = LagMonitor()
        monitor.sample([commit(120, at: 0)], logEndOffset: { _ in 120 })
        let lag = monitor.evaluate(logEndOffset: { _ in 120 }, timestamp: { _, _ in 0 }, nowMs: 99_000)
        #expect(lag.first?.lag == 0)
        #expect(lag.first?.timeLagMs == 0)
    }

    @Test func partitionsWithoutAKnownLogEndAndGroupsThatWentAreLeftOut() {
        let monitor = LagMonitor()
        let other = LagMonitor.Key(group: "billing", topic: "elsewhere", partition: 3)
        monitor.sample([commit(1, at: 0), .init(key: other, offset: 5, commitTimestampMs: 0)]) { $0.topic == "orders" ? 10 : nil }
        #expect(monitor.evaluate(logEndOffset: { _ in 10 }, timestamp: { _, _ in nil }, nowMs: 1_000).map(\.key) == [key])
        // The group moved to another coordinator (or was deleted): its commits are no longer here.
        monitor.sample([], logEndOffset: { _ in 10 })
        #expect(monitor.evaluate(logEndOffset: { _ in 10 }, timestamp: { _, _ in nil }, nowMs: 1_000).isEmpty)
    }
}
