/// One share-partition — a share group's view of one topic partition, kept by the partition's
/// leader (KIP-932): the records from the share-partition start offset to its end offset are in
/// flight, each available, acquired by one member under a time-limited lock, acknowledged, or
/// archived. Below the start offset every record is done; from the end offset on nothing has been
/// handed out yet.
///
/// A pure value driven by fetches (``acquire(memberId:logEndOffset:recordsMax:nowMs:)``),
/// acknowledgements and the clock; the caller reads the log, persists ``persistedState`` before it
/// answers, and wakes fetches when records become available again.
struct SharePartition: Sendable, Equatable {
    struct Settings: Sendable, Equatable {
        /// `share.record.lock.duration.ms`: how long an acquired record stays with its member.
        var lockDurationMs: Int64 = 30_000
        /// `group.share.delivery.count.limit`: a record released or timed out this many deliveries
        /// in is archived instead of offered again (a poison record stops here).
        var deliveryCountLimit: Int16 = 5
        /// `group.share.partition.max.record.locks`: the most records in flight; a fetch finds
        /// nothing new to acquire while the window is this wide.
        var recordLocksMax: Int = 2_000
    }

    /// Kafka's record states (`RecordState`), with their persisted ids.
    enum RecordState: Int8, Sendable {
        case available = 0
        case acquired = 1
        case acknowledged = 2
        case archived = 4

        /// As written and read back: an acquisition's lock does not survive the leader.
        var persisted: RecordState { self == .acquired ? .available : self }
    }

    struct InFlightRecord: Sendable, Equatable {
        var state: RecordState
        var deliveryCount: Int16
        /// The member holding it while acquired.
        var memberId: String?
        var lockDeadlineMs: Int64
    }

    /// A range of offsets handed to a member by one fetch (ShareFetch's `AcquiredRecords`).
    struct AcquiredRange: Sendable, Equatable {
        var firstOffset: Int64
        var lastOffset: Int64
        var deliveryCount: Int16
    }

    /// ShareFetch's and ShareAcknowledge's `AcknowledgeTypes`.
    enum AcknowledgeType: Int8, Sendable, CaseIterable {
        /// The offset holds no record (compacted away, a control batch).
        case gap = 0
        case accept = 1
        /// Offered again (archived once the delivery limit is reached).
        case release = 2
        case reject = 3
        /// Keeps the record acquired and restarts its lock (KIP-1222, v2).
        case renew = 4
    }

    enum AcknowledgeError: Error, Equatable {
        /// An offset of the range is not acquired by this member (any more): INVALID_RECORD_STATE.
        case invalidRecordState(offset: Int64)
    }

    /// What is written to the share coordinator: the start offset and the in-flight records as
    /// runs of one state and delivery count (Kafka's `StateBatches`). Acquired records are written
    /// as available: after a failover their locks are void and they are offered again.
    struct PersistedState: Sendable, Equatable {
        struct Batch: Sendable, Equatable {
            var firstOffset: Int64
            var lastOffset: Int64
            var state: RecordState
            var deliveryCount: Int16
        }
        var startOffset: Int64
        var batches: [Batch]
    }

    let settings: Settings
    /// The share-partition start offset: every record below it is acknowledged or archived.
    private(set) var startOffset: Int64
    /// The records from ``startOffset`` on, one per offset.
    private(set) var records: [InFlightRecord] = []

    /// One past the last offset handed out so far.
    var endOffset: Int64 { startOffset + Int64(records.count) }

    init(startOffset: Int64, settings: Settings) {
        self.startOffset = startOffset
        self.settings = settings
    }

    /// The share-partition as persisted (after a restart or a leader change).
    init(_ persisted: PersistedState, settings: Settings) {
        self.init(startOffset: persisted.startOffset, settings: settings)
        for batch in persisted.batches.sorted(by: { $0.firstOffset < $1.firstOffset }) where batch.lastOffset >= endOffset {
            // Offsets between batches were handed out and are done.
            while endOffset < batch.firstOffset { records.append(InFlightRecord(state: .archived, deliveryCount: 0, lockDeadlineMs: 0)) }
            for _ in max(batch.firstOffset, endOffset)...batch.lastOffset {
                records.append(InFlightRecord(state: batch.state.persisted, deliveryCount: batch.deliveryCount, lockDeadlineMs: 0))
            }
        }
        advanceStartOffset()
    }

    // MARK: Acquiring

    /// Acquires up to `recordsMax` records below `logEndOffset` for `memberId`: first those
    /// offered again inside the window (lowest offsets first), then new ones from the end offset
    /// while the window has room. Each acquired record counts a delivery and is locked
    /// for ``Settings/lockDurationMs``.
    mutating func acquire(memberId: String, logEndOffset: Int64, recordsMax: Int, nowMs: Int64) -> [AcquiredRange] {
        var ranges: [AcquiredRange] = []
        var remaining = recordsMax
        func take(_ index: Int) {
            records[index].state = .acquired
            records[index].deliveryCount += 1
            records[index].memberId = memberId
            records[index].lockDeadlineMs = nowMs + settings.lockDurationMs
            let offset = startOffset + Int64(index)
            let count = records[index].deliveryCount
            if let last = ranges.last, last.lastOffset == offset - 1, last.deliveryCount == count {
                ranges[ranges.count - 1].lastOffset = offset
            } else {
                ranges.append(AcquiredRange(firstOffset: offset, lastOffset: offset, deliveryCount: count))
            }
            remaining -= 1
        }
        for index in records.indices where remaining > 0 && records[index].state == .available && startOffset + Int64(index) < logEndOffset {
            take(index)
        }
        while remaining > 0, endOffset < logEndOffset, records.count < settings.recordLocksMax {
            records.append(InFlightRecord(state: .available, deliveryCount: 0, lockDeadlineMs: 0))
            take(records.count - 1)
        }
        return ranges
    }

    /// Whether a fetch could acquire something with the log ending at `logEndOffset`.
    func hasAcquirable(logEndOffset: Int64) -> Bool { nextAcquirableOffset(logEndOffset: logEndOffset) != nil }

    /// The lowest offset a fetch could acquire (where to start reading the log), nil when none.
    func nextAcquirableOffset(logEndOffset: Int64) -> Int64? {
        if let index = records.firstIndex(where: { $0.state == .available }), startOffset + Int64(index) < logEndOffset {
            return startOffset + Int64(index)
        }
        return endOffset < logEndOffset && records.count < settings.recordLocksMax ? endOffset : nil
    }

    // MARK: Acknowledging

    /// Applies one acknowledgement range of `memberId`'s: every offset in it must be acquired by
    /// that member and its lock not yet over, or nothing changes.
    mutating func acknowledge(memberId: String, firstOffset: Int64, lastOffset: Int64, type: AcknowledgeType, nowMs: Int64) throws(AcknowledgeError) {
        guard firstOffset <= lastOffset else { throw .invalidRecordState(offset: firstOffset) }
        for offset in firstOffset...lastOffset {
            guard offset >= startOffset, offset < endOffset else { throw .invalidRecordState(offset: offset) }
            let record = records[Int(offset - startOffset)]
            // A lock past its deadline is over even before the timer releases the record.
            guard record.state == .acquired, record.memberId == memberId, record.lockDeadlineMs > nowMs else {
                throw .invalidRecordState(offset: offset)
            }
        }
        for index in Int(firstOffset - startOffset)...Int(lastOffset - startOffset) {
            switch type {
            case .accept: finish(index, .acknowledged)
            case .gap, .reject: finish(index, .archived)
            case .release: release(index)
            case .renew: records[index].lockDeadlineMs = nowMs + settings.lockDurationMs
            }
        }
        advanceStartOffset()
    }

    /// Offers again every record whose lock has passed. Returns how many were released (archived
    /// ones at the delivery limit included).
    @discardableResult
    mutating func expireLocks(nowMs: Int64) -> Int {
        var released = 0
        for index in records.indices where records[index].state == .acquired && records[index].lockDeadlineMs <= nowMs {
            release(index)
            released += 1
        }
        advanceStartOffset()
        return released
    }

    /// Offers again everything `memberId` holds (it left the group, or its share session closed).
    @discardableResult
    mutating func releaseAll(memberId: String) -> Int {
        var released = 0
        for index in records.indices where records[index].state == .acquired && records[index].memberId == memberId {
            release(index)
            released += 1
        }
        advanceStartOffset()
        return released
    }

    /// The earliest lock deadline, when something is acquired (when to call ``expireLocks(nowMs:)``).
    var nextLockDeadlineMs: Int64? {
        records.lazy.filter { $0.state == .acquired }.map(\.lockDeadlineMs).min()
    }

    /// Moves the start offset up to `offset` (the log start moved past it: retention, deleted
    /// records, an offsets reset): records below it are done, whatever their state.
    mutating func moveStartOffset(to offset: Int64) {
        guard offset > startOffset else { return }
        let dropped = min(Int(offset - startOffset), records.count)
        records.removeFirst(dropped)
        startOffset = offset
        advanceStartOffset()
    }

    // MARK: Persistence

    var persistedState: PersistedState {
        var batches: [PersistedState.Batch] = []
        for (index, record) in records.enumerated() {
            let offset = startOffset + Int64(index)
            let state = record.state.persisted
            if let last = batches.last, last.lastOffset == offset - 1, last.state == state, last.deliveryCount == record.deliveryCount {
                batches[batches.count - 1].lastOffset = offset
            } else {
                batches.append(.init(firstOffset: offset, lastOffset: offset, state: state, deliveryCount: record.deliveryCount))
            }
        }
        return PersistedState(startOffset: startOffset, batches: batches)
    }

    // MARK: Transitions

    private mutating func finish(_ index: Int, _ state: RecordState) {
        records[index].state = state
        records[index].memberId = nil
    }

    /// Available again, or archived once it has been delivered the limit's number of times.
    private mutating func release(_ index: Int) {
        finish(index, records[index].deliveryCount >= settings.deliveryCountLimit ? .archived : .available)
    }

    /// Records at the head that are done leave the window.
    private mutating func advanceStartOffset() {
        let done = records.prefix { $0.state == .acknowledged || $0.state == .archived }.count
        guard done > 0 else { return }
        records.removeFirst(done)
        startOffset += Int64(done)
    }
}
