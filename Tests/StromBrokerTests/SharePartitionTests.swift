import PropertyBased
import Testing
@testable import StromBroker

/// The share-partition state machine on a fake clock: acquisition, locks, acknowledgements, the
/// delivery limit, the window bound, the start offset, and recovery from what was persisted.
@Suite struct SharePartitionTests {
    typealias Range = SharePartition.AcquiredRange
    let settings = SharePartition.Settings(lockDurationMs: 30_000, deliveryCountLimit: 5, recordLocksMax: 10)

    @Test func acquiresNewRecordsUpToTheLogEndAndTheLimit() {
        var partition = SharePartition(startOffset: 100, settings: settings)
        #expect(partition.acquire(memberId: "a", logEndOffset: 104, recordsMax: 3, nowMs: 0) == [Range(firstOffset: 100, lastOffset: 102, deliveryCount: 1)])
        #expect(partition.acquire(memberId: "b", logEndOffset: 104, recordsMax: 3, nowMs: 0) == [Range(firstOffset: 103, lastOffset: 103, deliveryCount: 1)])
        #expect(partition.acquire(memberId: "b", logEndOffset: 104, recordsMax: 3, nowMs: 0) == [], "nothing new: no record twice")
        #expect(partition.endOffset == 104 && partition.startOffset == 100)
    }

    @Test func acceptAndRejectMoveTheStartOffsetReleaseOffersAgain() throws {
        var partition = SharePartition(startOffset: 0, settings: settings)
        _ = partition.acquire(memberId: "a", logEndOffset: 4, recordsMax: 4, nowMs: 0)
        try partition.acknowledge(memberId: "a", firstOffset: 0, lastOffset: 0, type: .accept, nowMs: 1)
        try partition.acknowledge(memberId: "a", firstOffset: 1, lastOffset: 1, type: .release, nowMs: 1)
        try partition.acknowledge(memberId: "a", firstOffset: 2, lastOffset: 3, type: .reject, nowMs: 1)
        #expect(partition.startOffset == 1, "offset 1 is available again")
        #expect(partition.acquire(memberId: "b", logEndOffset: 4, recordsMax: 10, nowMs: 2) == [Range(firstOffset: 1, lastOffset: 1, deliveryCount: 2)])
        try partition.acknowledge(memberId: "b", firstOffset: 1, lastOffset: 1, type: .accept, nowMs: 3)
        #expect(partition.startOffset == 4 && partition.records.isEmpty)
    }

    /// Kafka answers INVALID_RECORD_STATE once a record's acquisition lock is over, even if the
    /// lock timer has not released it yet (librdkafka's 0173 `lock_expiry_callback_err`).
    @Test func aLockPastItsDeadlineTakesNoAcknowledgement() throws {
        var partition = SharePartition(startOffset: 0, settings: settings)
        _ = partition.acquire(memberId: "a", logEndOffset: 2, recordsMax: 2, nowMs: 0)
        #expect(throws: SharePartition.AcknowledgeError.invalidRecordState(offset: 1)) {
            try partition.acknowledge(memberId: "a", firstOffset: 1, lastOffset: 1, type: .accept, nowMs: 30_000)
        }
        try partition.acknowledge(memberId: "a", firstOffset: 0, lastOffset: 0, type: .accept, nowMs: 29_999)
        #expect(partition.expireLocks(nowMs: 30_000) == 1)
        #expect(partition.acquire(memberId: "b", logEndOffset: 2, recordsMax: 2, nowMs: 30_001) == [Range(firstOffset: 1, lastOffset: 1, deliveryCount: 2)])
    }

    @Test func onlyTheHolderAcknowledgesAndOnlyWhileAcquired() throws {
        var partition = SharePartition(startOffset: 0, settings: settings)
        _ = partition.acquire(memberId: "a", logEndOffset: 3, recordsMax: 2, nowMs: 0)
        #expect(throws: SharePartition.AcknowledgeError.invalidRecordState(offset: 0)) {
            try partition.acknowledge(memberId: "b", firstOffset: 0, lastOffset: 0, type: .accept, nowMs: 1)
        }
        // A range reaching an offset not acquired changes nothing.
        #expect(throws: SharePartition.AcknowledgeError.invalidRecordState(offset: 2)) {
            try partition.acknowledge(memberId: "a", firstOffset: 0, lastOffset: 2, type: .accept, nowMs: 1)
        }
        #expect(partition.records.allSatisfy { $0.state == .acquired })
        try partition.acknowledge(memberId: "a", firstOffset: 0, lastOffset: 1, type: .accept, nowMs: 1)
        #expect(throws: SharePartition.AcknowledgeError.invalidRecordState(offset: 0)) {
            try partition.acknowledge(memberId: "a", firstOffset: 0, lastOffset: 0, type: .accept, nowMs: 1)
        }
    }

    @Test func anExpiredLockOffersTheRecordAgainAndRenewKeepsIt() throws {
        var partition = SharePartition(startOffset: 0, settings: settings)
        _ = partition.acquire(memberId: "a", logEndOffset: 2, recordsMax: 2, nowMs: 0)
        #expect(partition.nextLockDeadlineMs == 30_000)
        try partition.acknowledge(memberId: "a", firstOffset: 1, lastOffset: 1, type: .renew, nowMs: 20_000)
        #expect(partition.expireLocks(nowMs: 29_999) == 0)
        #expect(partition.expireLocks(nowMs: 30_000) == 1)
        #expect(partition.acquire(memberId: "b", logEndOffset: 2, recordsMax: 5, nowMs: 30_000) == [Range(firstOffset: 0, lastOffset: 0, deliveryCount: 2)])
        #expect(partition.nextLockDeadlineMs == 50_000, "offset 1 renewed at 20 s")
        #expect(partition.releaseAll(memberId: "a") == 1)
    }

    @Test func aPoisonRecordIsArchivedAtTheDeliveryLimit() throws {
        var partition = SharePartition(startOffset: 7, settings: settings)
        for delivery in 1...5 {
            #expect(partition.acquire(memberId: "a", logEndOffset: 8, recordsMax: 1, nowMs: 0) == [Range(firstOffset: 7, lastOffset: 7, deliveryCount: Int16(delivery))])
            try partition.acknowledge(memberId: "a", firstOffset: 7, lastOffset: 7, type: .release, nowMs: 0)
        }
        #expect(partition.startOffset == 8, "archived after 5 deliveries")
        #expect(partition.acquire(memberId: "a", logEndOffset: 8, recordsMax: 1, nowMs: 0) == [])
    }

    @Test func aFullWindowAcquiresNothingNewUntilItsHeadIsDone() throws {
        var partition = SharePartition(startOffset: 0, settings: settings)
        #expect(partition.acquire(memberId: "a", logEndOffset: 100, recordsMax: 50, nowMs: 0) == [Range(firstOffset: 0, lastOffset: 9, deliveryCount: 1)])
        #expect(!partition.hasAcquirable(logEndOffset: 100))
        try partition.acknowledge(memberId: "a", firstOffset: 5, lastOffset: 9, type: .accept, nowMs: 0)
        #expect(!partition.hasAcquirable(logEndOffset: 100), "acknowledged behind an acquired head still holds the window")
        try partition.acknowledge(memberId: "a", firstOffset: 0, lastOffset: 4, type: .accept, nowMs: 0)
        #expect(partition.hasAcquirable(logEndOffset: 100))
        #expect(partition.acquire(memberId: "a", logEndOffset: 100, recordsMax: 50, nowMs: 0) == [Range(firstOffset: 10, lastOffset: 19, deliveryCount: 1)])
    }

    @Test func theLogStartMovingPastInFlightRecordsEndsThem() {
        var partition = SharePartition(startOffset: 0, settings: settings)
        _ = partition.acquire(memberId: "a", logEndOffset: 5, recordsMax: 5, nowMs: 0)
        partition.moveStartOffset(to: 3)
        #expect(partition.startOffset == 3 && partition.endOffset == 5)
        partition.moveStartOffset(to: 9)
        #expect(partition.startOffset == 9 && partition.endOffset == 9)
        #expect(partition.acquire(memberId: "a", logEndOffset: 10, recordsMax: 5, nowMs: 0) == [Range(firstOffset: 9, lastOffset: 9, deliveryCount: 1)])
    }

    @Test func recoveryOffersAcquiredRecordsAgainAndKeepsWhatWasDone() throws {
        var partition = SharePartition(startOffset: 0, settings: settings)
        _ = partition.acquire(memberId: "a", logEndOffset: 6, recordsMax: 6, nowMs: 0)
        try partition.acknowledge(memberId: "a", firstOffset: 0, lastOffset: 0, type: .release, nowMs: 0)
        try partition.acknowledge(memberId: "a", firstOffset: 2, lastOffset: 3, type: .accept, nowMs: 0)
        try partition.acknowledge(memberId: "a", firstOffset: 5, lastOffset: 5, type: .reject, nowMs: 0)
        let persisted = partition.persistedState
        #expect(persisted == .init(startOffset: 0, batches: [
            .init(firstOffset: 0, lastOffset: 1, state: .available, deliveryCount: 1),
            .init(firstOffset: 2, lastOffset: 3, state: .acknowledged, deliveryCount: 1),
            .init(firstOffset: 4, lastOffset: 4, state: .available, deliveryCount: 1),
            .init(firstOffset: 5, lastOffset: 5, state: .archived, deliveryCount: 1),
        ]))
        var recovered = SharePartition(persisted, settings: settings)
        #expect(recovered.startOffset == 0 && recovered.endOffset == 6)
        #expect(recovered.acquire(memberId: "b", logEndOffset: 6, recordsMax: 10, nowMs: 0) == [
            Range(firstOffset: 0, lastOffset: 1, deliveryCount: 2), Range(firstOffset: 4, lastOffset: 4, deliveryCount: 2),
        ])
        #expect(SharePartition(recovered.persistedState, settings: settings).persistedState == recovered.persistedState, "round trip")
    }

    // MARK: Property

    enum Step: Sendable, CustomStringConvertible {
        case produce(Int)
        case fetch(member: Int, recordsMax: Int)
        case acknowledge(member: Int, type: SharePartition.AcknowledgeType, count: Int)
        case tick(Int64)
        case leave(member: Int)
        case recover

        var description: String {
            switch self {
            case .produce(let count): "produce(\(count))"
            case .fetch(let member, let recordsMax): "fetch(m\(member), \(recordsMax))"
            case .acknowledge(let member, let type, let count): "ack(m\(member), \(type), \(count))"
            case .tick(let milliseconds): "tick(\(milliseconds))"
            case .leave(let member): "leave(m\(member))"
            case .recover: "recover"
            }
        }
    }

    static let step = zip(Gen.int(in: 0...11), Gen.int(in: 0...2), Gen.int(in: 1...6)).map { kind, member, amount -> Step in
        switch kind {
        case 0, 1: .produce(amount)
        case 2, 3, 4: .fetch(member: member, recordsMax: amount)
        case 5, 6, 7, 8: .acknowledge(member: member, type: SharePartition.AcknowledgeType.allCases[amount % 5], count: amount)
        case 9: .tick(Int64(amount) * 10_000)
        case 10: .leave(member: member)
        default: .recover
        }
    }

    /// No record is held by two members at once; a record is delivered again only after its
    /// earlier delivery ended unacknowledged; the start offset never moves back; and once every
    /// member accepts what it holds, every record ends acknowledged or archived.
    @Test func noRecordIsHeldTwiceAndEveryRecordEnds() async {
        await propertyCheck(count: 300, input: Self.step.array(of: 0...80)) { steps in
            let settings = SharePartition.Settings(lockDurationMs: 30_000, deliveryCountLimit: 3, recordLocksMax: 8)
            var partition = SharePartition(startOffset: 0, settings: settings)
            var logEndOffset: Int64 = 0
            var nowMs: Int64 = 0
            var held: [Int64: String] = [:] // offset -> member, as the members see it
            var accepted: Set<Int64> = []
            var previousStart = partition.startOffset
            func expire() {
                partition.expireLocks(nowMs: nowMs)
                held = held.filter { offset, _ in
                    offset >= partition.startOffset && offset < partition.endOffset
                        && partition.records[Int(offset - partition.startOffset)].state == .acquired
                }
            }
            for step in steps {
                switch step {
                case .produce(let count):
                    logEndOffset += Int64(count)
                case .fetch(let member, let recordsMax):
                    expire()
                    for range in partition.acquire(memberId: "m\(member)", logEndOffset: logEndOffset, recordsMax: recordsMax, nowMs: nowMs) {
                        for offset in range.firstOffset...range.lastOffset {
                            #expect(held[offset] == nil, "offset \(offset) acquired by m\(member) while m\(held[offset] ?? "") holds it: \(steps)")
                            #expect(!accepted.contains(offset), "offset \(offset) delivered after it was accepted: \(steps)")
                            held[offset] = "m\(member)"
                        }
                    }
                case .acknowledge(let member, let type, let count):
                    let mine = held.filter { $0.value == "m\(member)" }.keys.sorted().prefix(count)
                    for offset in mine {
                        do {
                            try partition.acknowledge(memberId: "m\(member)", firstOffset: offset, lastOffset: offset, type: type, nowMs: nowMs)
                            if type == .accept { accepted.insert(offset) }
                            if type != .renew { held[offset] = nil }
                        } catch {
                            Issue.record("m\(member) could not acknowledge \(offset) it holds: \(steps)")
                        }
                    }
                case .tick(let milliseconds):
                    nowMs += milliseconds
                    expire()
                case .leave(let member):
                    partition.releaseAll(memberId: "m\(member)")
                    held = held.filter { $0.value != "m\(member)" }
                case .recover:
                    partition = SharePartition(partition.persistedState, settings: settings)
                    held = [:]
                }
                #expect(partition.startOffset >= previousStart, "start offset moved back: \(steps)")
                #expect(partition.records.count <= settings.recordLocksMax)
                previousStart = partition.startOffset
            }
            // Drain: every member accepts everything it gets until nothing is left.
            for _ in 0..<100 where partition.startOffset < logEndOffset {
                let ranges = partition.acquire(memberId: "m0", logEndOffset: logEndOffset, recordsMax: 100, nowMs: nowMs)
                for range in ranges {
                    try? partition.acknowledge(memberId: "m0", firstOffset: range.firstOffset, lastOffset: range.lastOffset, type: .accept, nowMs: nowMs)
                }
                nowMs += 60_000
                expire()
            }
            #expect(partition.startOffset == logEndOffset && partition.records.isEmpty, "records left in flight: \(steps)")
        }
    }
}
