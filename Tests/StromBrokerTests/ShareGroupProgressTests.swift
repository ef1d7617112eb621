import Testing
@testable import StromBroker

/// A share group's start offset and completed count as the lag monitor's commits.
@Suite struct ShareGroupProgressTests {
    let key = LagMonitor.Key(group: "workers", topic: "jobs", partition: 0)

    func state(_ start: Int64, _ completed: Int64) -> ShareGroupProgress.State {
        .init(key: key, startOffset: start, completedCount: completed)
    }

    @Test func aCommitIsDatedWhenTheProgressLastChanged() {
        var progress = ShareGroupProgress()
        #expect(progress.commits([state(10, 0)], nowMs: 1_000) == [.init(key: key, offset: 10, commitTimestampMs: 1_000)])
        // Unchanged: the same commit, so the window takes no new sample.
        #expect(progress.commits([state(10, 0)], nowMs: 5_000).map(\.commitTimestampMs) == [1_000])
        // Records acknowledged past the start offset are progress too.
        #expect(progress.commits([state(10, 3)], nowMs: 6_000) == [.init(key: key, offset: 10, commitTimestampMs: 6_000, completedAfter: 3)])
        #expect(progress.commits([state(14, 0)], nowMs: 7_000).map(\.commitTimestampMs) == [7_000])
    }

    @Test func aStateThatWentAwayIsForgotten() {
        var progress = ShareGroupProgress()
        _ = progress.commits([state(10, 0)], nowMs: 1_000)
        _ = progress.commits([], nowMs: 2_000)
        #expect(progress.commits([state(10, 0)], nowMs: 3_000).map(\.commitTimestampMs) == [3_000])
    }

    @Test func lagCountsNeitherTheRecordsBeforeTheStartNorThoseDoneAfterIt() {
        var progress = ShareGroupProgress()
        let monitor = LagMonitor()
        monitor.sample(progress.commits([state(40, 5)], nowMs: 0)) { _ in 100 }
        let lag = monitor.evaluate(logEndOffset: { _ in 100 }, timestamp: { _, offset in offset == 40 ? 0 : nil }, nowMs: 2_000)
        #expect(lag.map(\.lag) == [55])
        #expect(lag.map(\.timeLagMs) == [2_000], "the oldest record not done is at the start offset")
        // A share group that acknowledges nothing while records arrive: STOP, as a consumer group.
        monitor.sample(progress.commits([state(40, 5)], nowMs: 20_000)) { _ in 200 }
        #expect(monitor.evaluate(logEndOffset: { _ in 200 }, timestamp: { _, _ in 0 }, nowMs: 20_000).map(\.status) == [.stop])
    }
}
