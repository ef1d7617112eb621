import Testing
@testable import StromBroker

/// Burrow's rules on recorded windows: each status, and how a group moves between them.
@Suite struct LagEvaluatorTests {
    /// A window from (offset, log end, time in seconds) commits.
    static func window(_ commits: [(Int64, Int64, Int64)], capacity: Int = 10) -> LagWindow {
        var window = LagWindow(capacity: capacity)
        for (offset, logEnd, seconds) in commits {
            window.record(.init(offset: offset, logEndOffset: logEnd, timeMs: seconds * 1_000))
        }
        return window
    }

    static func status(_ commits: [(Int64, Int64, Int64)], logEnd: Int64, now seconds: Int64) -> PartitionLagStatus {
        LagEvaluator.status(of: window(commits), logEndOffset: logEnd, nowMs: seconds * 1_000)
    }

    @Test func caughtUpNowIsOKWhateverTheWindow() {
        // Stalled all along, but the log end is where the group is.
        #expect(Self.status([(50, 60, 0), (50, 60, 5), (50, 60, 10)], logEnd: 50, now: 100) == .ok)
    }

    @Test func noCommitYetIsOK() {
        #expect(Self.status([], logEnd: 100, now: 10) == .ok)
    }

    @Test func aWindowWithAZeroLagCommitIsOK() {
        // Behind now, behind at most commits, but caught up once: it keeps up.
        #expect(Self.status([(10, 20, 0), (30, 30, 5), (40, 60, 10)], logEnd: 90, now: 12) == .ok)
    }

    @Test func anOffsetGoingBackIsRewind() {
        #expect(Self.status([(10, 20, 0), (30, 40, 5), (15, 45, 10)], logEnd: 50, now: 11) == .rewind)
    }

    @Test func commitsStoppedForLongerThanTheWindowSpansIsStop() {
        let commits: [(Int64, Int64, Int64)] = [(10, 20, 0), (25, 30, 5), (35, 40, 10)]
        // The window spans 10 s: 10 s after the last commit it is still running, 11 s it stopped.
        #expect(Self.status(commits, logEnd: 40, now: 20) == .ok)
        #expect(Self.status(commits, logEnd: 40, now: 21) == .stop)
    }

    @Test func committingTheSameOffsetWithLagIsStall() {
        #expect(Self.status([(10, 20, 0), (10, 25, 5), (10, 30, 10)], logEnd: 30, now: 11) == .stall)
    }

    @Test func movingButNeverShrinkingLagIsWarning() {
        #expect(Self.status([(10, 20, 0), (20, 30, 5), (25, 40, 10)], logEnd: 40, now: 11) == .warning)
    }

    @Test func movingWithLagShrinkingSomewhereIsOK() {
        #expect(Self.status([(10, 20, 0), (25, 30, 5), (30, 40, 10)], logEnd: 40, now: 11) == .ok)
    }

    @Test func oneCommitThenNothingWithLagIsStopOnceAFullWindowWouldHaveSpanned() {
        // A group that committed once and died: Burrow's window of 10 at 1 s spans 9 s at least.
        #expect(Self.status([(10, 20, 0)], logEnd: 20, now: 9) == .ok)
        #expect(Self.status([(10, 20, 0)], logEnd: 20, now: 10) == .stop)
        #expect(Self.status([(10, 20, 0)], logEnd: 10, now: 100) == .ok, "nothing to read: not stopped")
    }

    @Test func aYoungWindowIsNotStoppedBetweenFiveSecondAutoCommits() {
        // Two commits 5 s apart (librdkafka's auto.commit.interval.ms): 8 s after the last the
        // next is merely late; 10 s after, stopped.
        let commits: [(Int64, Int64, Int64)] = [(10, 20, 0), (18, 25, 5)]
        #expect(Self.status(commits, logEnd: 30, now: 13) == .ok)
        #expect(Self.status(commits, logEnd: 30, now: 15) == .stop)
    }

    @Test func stopComesFirstThenRewindStallWarning() {
        // Rewound and then stopped: stop wins; rewound, still committing: rewind; stopped and stalled: stop.
        #expect(Self.status([(10, 20, 0), (5, 20, 5)], logEnd: 20, now: 100) == .stop)
        #expect(Self.status([(10, 20, 0), (5, 20, 5)], logEnd: 20, now: 6) == .rewind)
        #expect(Self.status([(10, 20, 0), (10, 20, 5)], logEnd: 20, now: 100) == .stop)
    }

    @Test func aGroupThatKeptUpAndThenDiedIsStoppedOnceTheProducerGoesOn() {
        // Every commit caught up; then no more commits while records keep coming.
        let commits: [(Int64, Int64, Int64)] = [(10, 10, 0), (20, 20, 5), (30, 30, 10)]
        #expect(Self.status(commits, logEnd: 30, now: 60) == .ok, "nothing new to read: not stopped")
        #expect(Self.status(commits, logEnd: 45, now: 15) == .ok, "still inside the window's span")
        #expect(Self.status(commits, logEnd: 45, now: 21) == .stop)
    }

    @Test func aGroupGoesFromOKToWarningToStopAndBackAsItsWindowSlides() {
        var window = LagWindow(capacity: 3)
        func record(_ offset: Int64, _ logEnd: Int64, _ seconds: Int64) {
            window.record(.init(offset: offset, logEndOffset: logEnd, timeMs: seconds * 1_000))
        }
        func status(_ logEnd: Int64, _ seconds: Int64) -> PartitionLagStatus {
            LagEvaluator.status(of: window, logEndOffset: logEnd, nowMs: seconds * 1_000)
        }
        record(100, 100, 0)
        record(200, 200, 5)
        #expect(status(210, 6) == .ok, "keeping up")
        // The producer speeds up: the consumer moves but falls further behind each commit.
        record(250, 300, 10)
        record(300, 400, 15)
        record(350, 500, 20)
        #expect(status(520, 21) == .warning, "the zero-lag commits slid out of the window")
        // The consumer dies: no more commits.
        #expect(status(900, 31) == .stop)
        // A new instance catches up.
        record(900, 900, 40)
        #expect(status(900, 41) == .ok)
    }

    @Test func commitsCloserThanTheMinimumDistanceReplaceTheLastOne() {
        var window = LagWindow(capacity: 10, minimumDistanceMs: 1_000)
        window.record(.init(offset: 1, logEndOffset: 10, timeMs: 0))
        window.record(.init(offset: 2, logEndOffset: 10, timeMs: 1_500))
        window.record(.init(offset: 3, logEndOffset: 10, timeMs: 1_900))
        #expect(window.samples.map(\.offset) == [1, 3])
        // Distances count from the last sample added: 0.9 s steps still grow the window.
        var steady = LagWindow(capacity: 10, minimumDistanceMs: 1_000)
        for step in 0..<10 { steady.record(.init(offset: Int64(step), logEndOffset: 20, timeMs: Int64(step) * 900)) }
        #expect(steady.samples.map(\.timeMs) == [900, 2_700, 4_500, 6_300, 8_100])
        for second in 2...20 { window.record(.init(offset: Int64(second), logEndOffset: 30, timeMs: Int64(second) * 1_000)) }
        #expect(window.samples.count == 10, "the newest ten")
        #expect(window.samples.last?.offset == 20)
    }

    @Test func aGroupsStatusIsItsWorstPartitions() {
        #expect(GroupLagStatus(partitions: []) == .ok)
        #expect(GroupLagStatus(partitions: [.ok, .ok]) == .ok)
        #expect(GroupLagStatus(partitions: [.ok, .warning]) == .warning)
        for error in [PartitionLagStatus.stall, .stop, .rewind] {
            #expect(GroupLagStatus(partitions: [.warning, error, .ok]) == .error)
        }
    }
}
