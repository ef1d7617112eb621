import KafkaProtocol
import Logging
import NIOCore
import StromStorage
import Synchronization

/// Where share-partition leaders keep their state: the share coordinator of the state's key,
/// on this broker or another.
protocol ShareStatePersister: Sendable {
    /// The stored state (nil: none yet), fencing leaders older than `leaderEpoch`.
    func read(_ key: ShareStateKey, leaderEpoch: Int32) async -> Result<ShareStateShard.State?, KafkaErrorCode>
    /// Lays `batches` over the stored state and moves its start offset (-1: unchanged); creates it.
    func write(
        _ key: ShareStateKey, stateEpoch: Int32, leaderEpoch: Int32, startOffset: Int64, batches: [SharePartition.PersistedState.Batch]
    ) async -> KafkaErrorCode
}

/// Counts releases of records (lock expiry, RELEASE, a member gone), so that a waiting ShareFetch
/// that registered just after one still sees it (no lost wake-up).
final class ShareReleaseSignal: Sendable {
    private let count = Atomic<UInt64>(0)
    var value: UInt64 { count.load(ordering: .acquiring) }
    func bump() { count.add(1, ordering: .releasing) }
}

/// The share-partitions this broker leads (KIP-932) and its share sessions: loads a
/// share-partition's state from its share coordinator on first use (initializing its start
/// offset by `share.auto.offset.reset`), acquires records for fetches, applies acknowledgements
/// and answers them only once the changed state is written, expires locks, and releases what a
/// closed session held. Writes of one share-partition go one at a time; acknowledgements that
/// arrive meanwhile share the next write (group commit).
actor SharePartitionManager {
    struct Settings: Sendable {
        var partition: SharePartition.Settings
        var autoOffsetReset: AutoOffsetReset = .latest
    }

    /// `share.auto.offset.reset`: where a share-partition without state starts.
    enum AutoOffsetReset: Sendable, Equatable {
        case latest
        case earliest
        /// The first offset whose timestamp is at or after now minus this many milliseconds.
        case byDuration(Int64)
    }

    /// A share-partition as read from (or first written to) its share coordinator.
    struct Loaded: Sendable {
        var partition: SharePartition
        var stateEpoch: Int32
    }

    /// One led share-partition and its write pipeline.
    final class Entry {
        let key: ShareStateKey
        let topicPartition: TopicPartition
        let log: PartitionLog
        var partition: SharePartition
        let stateEpoch: Int32
        let leaderEpoch: Int32
        /// What the share coordinator holds (the last successful write).
        var persisted: SharePartition.PersistedState
        var writing = false
        /// Waiting for the next write (arrived while one was under way).
        var writeWaiters: [CheckedContinuation<KafkaErrorCode, Never>] = []

        init(key: ShareStateKey, topicPartition: TopicPartition, log: PartitionLog, partition: SharePartition, stateEpoch: Int32, leaderEpoch: Int32) {
            self.key = key
            self.topicPartition = topicPartition
            self.log = log
            self.partition = partition
            self.stateEpoch = stateEpoch
            self.leaderEpoch = leaderEpoch
            self.persisted = partition.persistedState
        }
    }

    /// How much of the log one step of an acquisition reads.
    static let readChunkBytes = 1 << 20

    private let persister: any ShareStatePersister
    private let waiters: HighWatermarkWaiters
    private let logger: Logger
    private let clock: @Sendable () -> Int64
    private let settingsFor: @Sendable (String) -> Settings
    let releases = ShareReleaseSignal()
    private var entries: [ShareStateKey: Entry] = [:]
    private var loading: [ShareStateKey: Task<Result<Loaded, KafkaErrorCode>, Never>] = [:]
    private var sessions: ShareSessions
    private var lockTimer: Task<Void, Never>?
    private var lockTimerDeadlineMs: Int64?

    init(
        persister: any ShareStatePersister, waiters: HighWatermarkWaiters, sessionsMax: Int, logger: Logger,
        clock: @escaping @Sendable () -> Int64, settings: @escaping @Sendable (String) -> Settings
    ) {
        self.persister = persister
        self.waiters = waiters
        self.logger = logger
        self.clock = clock
        self.settingsFor = settings
        self.sessions = ShareSessions(sessionsMax: sessionsMax)
    }

    // MARK: Sessions

    func openSession(_ key: ShareSessions.Key, partitions: [ShareTopicPartition], connectionId: UInt64) -> KafkaErrorCode {
        switch sessions.open(key, partitions: partitions, connectionId: connectionId) {
        case .failure(let code): return code
        case .success(let previous):
            if let previous { release(memberId: key.memberId, groupId: key.groupId, partitions: previous.partitions) }
            return .none
        }
    }

    func advanceSession(
        _ key: ShareSessions.Key, epoch: Int32, added: [ShareTopicPartition], forgotten: Set<ShareTopicPartition>
    ) -> Result<ShareSessions.Session, KafkaErrorCode> {
        let before = sessions.sessions[key]?.partitions ?? []
        let result = sessions.advance(key, epoch: epoch, added: added, forgotten: forgotten)
        if case .success(let session) = result {
            // Records of partitions the member stopped fetching go back to the others.
            release(memberId: key.memberId, groupId: key.groupId, partitions: before.filter { !session.partitions.contains($0) })
        }
        return result
    }

    func hasSession(_ key: ShareSessions.Key) -> Bool { sessions.sessions[key] != nil }

    /// Ends a session (epoch -1, after its acknowledgements): what the member still holds is released.
    func closeSession(_ key: ShareSessions.Key) -> KafkaErrorCode {
        switch sessions.close(key) {
        case .failure(let code): return code
        case .success(let session):
            release(memberId: key.memberId, groupId: key.groupId, partitions: session.partitions)
            return .none
        }
    }

    /// The connection closed: its sessions end and their records go back to the other members.
    func connectionClosed(_ connectionId: UInt64) {
        for (key, session) in sessions.closeConnection(connectionId) {
            release(memberId: key.memberId, groupId: key.groupId, partitions: session.partitions)
        }
    }

    private func release(memberId: String, groupId: String, partitions: [ShareTopicPartition]) {
        for partition in partitions {
            let key = ShareStateKey(groupId: groupId, topicId: partition.topicId, partition: partition.partition)
            guard let entry = entries[key] else { continue }
            if entry.partition.releaseAll(memberId: memberId) > 0 { signalReleased(entry) }
            // The delivery counts are kept; nobody waits for this write. A share-partition no
            // session fetches from any more is then forgotten: loaded again (as its coordinator
            // has it, perhaps reset meanwhile) when fetched again.
            Task {
                _ = await self.persist(entry)
                self.forgetIfUnused(entry)
            }
        }
    }

    private func forgetIfUnused(_ entry: Entry) {
        let partition = ShareTopicPartition(topicId: entry.key.topicId, partition: entry.key.partition)
        let fetched = sessions.sessions.contains { $0.key.groupId == entry.key.groupId && $0.value.partitions.contains(partition) }
        guard !fetched, !entry.writing, entry.writeWaiters.isEmpty, entries[entry.key] === entry else { return }
        entries.removeValue(forKey: entry.key)
    }

    // MARK: Fetching

    /// Acquires up to `recordsMax` records of one share-partition for `memberId`, in whole batches
    /// of at most `bytesMax` bytes together: the acquired ranges and the batches holding them.
    /// - Parameter firstBatchMayExceed: the response carries nothing yet, so its first batch is
    ///   taken even when larger than `bytesMax` (as Kafka's fetches do, so that a consumer always
    ///   progresses); after it, a batch that does not fit stays for the next fetch.
    func acquire(
        _ key: ShareStateKey, topicPartition: TopicPartition, log: PartitionLog, leaderEpoch: Int32, memberId: String,
        recordsMax: Int, bytesMax: Int, firstBatchMayExceed: Bool
    ) async -> Result<(ranges: [SharePartition.AcquiredRange], records: ByteBuffer), KafkaErrorCode> {
        let entry: Entry
        switch await loadedEntry(key, topicPartition: topicPartition, log: log, leaderEpoch: leaderEpoch) {
        case .failure(let code): return .failure(code)
        case .success(let loaded): entry = loaded
        }
        let offsets = log.offsets
        entry.partition.moveStartOffset(to: offsets.logStartOffset)
        var ranges: [SharePartition.AcquiredRange] = []
        var records = ByteBuffer()
        var recordsLeft = recordsMax
        let nowMs = clock()
        // The log is read a chunk at a time: what a fetch may acquire (the record limit, the window)
        // is usually far less than what it may carry in bytes.
        while recordsLeft > 0, records.readableBytes < bytesMax,
              let from = entry.partition.nextAcquirableOffset(logEndOffset: offsets.highWatermark) {
            var bytes = ByteBuffer()
            do {
                let read = try log.read(
                    from: from, maxBytes: min(bytesMax - records.readableBytes, Self.readChunkBytes),
                    minOneBatch: firstBatchMayExceed && records.readableBytes == 0)
                // One slice (the usual case) is used as read; more are joined.
                for slice in read.slices { bytes.append(try slice.read()) }
            } catch {
                if !ranges.isEmpty { break }
                return .failure((error as? LogReadError)?.kafkaErrorCode ?? .kafkaStorageError)
            }
            // Whole batches only: acquire nothing past the last one read.
            var batchEnds: [(endIndex: Int, nextOffset: Int64)] = []
            var scan = bytes
            while scan.readableBytes >= RecordBatchHeader.sizeBytes, let batch = try? RecordBatch.read(from: &scan) {
                batchEnds.append((bytes.readableBytes - scan.readableBytes, batch.header.lastOffset + 1))
            }
            guard let fetchedEnd = batchEnds.last?.nextOffset else { break }
            let acquired = entry.partition.acquire(
                memberId: memberId, logEndOffset: min(fetchedEnd, offsets.highWatermark), recordsMax: recordsLeft, nowMs: nowMs)
            guard let lastAcquired = acquired.last?.lastOffset else { break }
            // Batches past the last acquired record stay behind.
            if let cut = batchEnds.first(where: { $0.nextOffset > lastAcquired }) {
                bytes = bytes.getSlice(at: bytes.readerIndex, length: cut.endIndex) ?? bytes
            }
            records.append(bytes)
            ranges += acquired
            recordsLeft -= acquired.reduce(0) { $0 + Int($1.lastOffset - $1.firstOffset + 1) }
        }
        guard !ranges.isEmpty else { return .success(([], ByteBuffer())) }
        // Each group has its own lock duration: the timer moves earlier when these locks end first
        // (with one duration for all they never do, and the pending timer stands).
        let lockedUntilMs = nowMs + entry.partition.settings.lockDurationMs
        if lockTimerDeadlineMs.map({ lockedUntilMs < $0 }) ?? true { rescheduleLockTimer() }
        return .success((ranges, records))
    }

    // MARK: Acknowledging

    /// Applies one partition's acknowledgement batches of `memberId` and waits until the
    /// changed state is written: NONE, INVALID_RECORD_STATE (some offset was not acquired by the
    /// member, the rest still applied), INVALID_REQUEST (a malformed batch), or why the write failed.
    func acknowledge(
        _ key: ShareStateKey, memberId: String, batches: [(firstOffset: Int64, lastOffset: Int64, types: [Int8])], renewAllowed: Bool
    ) async -> KafkaErrorCode {
        await applyAcknowledgements(key, memberId: memberId, batches: batches, renewAllowed: renewAllowed).value
    }

    /// ``acknowledge(_:memberId:batches:renewAllowed:)`` in two steps: the acknowledgements are
    /// applied now (their records leave the member, so a fetch right after finds room), and the
    /// returned task ends with the outcome once the state is written. ShareFetch acquires while
    /// that write is under way.
    func applyAcknowledgements(
        _ key: ShareStateKey, memberId: String, batches: [(firstOffset: Int64, lastOffset: Int64, types: [Int8])], renewAllowed: Bool
    ) -> Task<KafkaErrorCode, Never> {
        guard let entry = entries[key] else { return Task { .invalidRecordState } }
        var code = KafkaErrorCode.none
        var released = false
        let nowMs = clock()
        for batch in batches {
            guard batch.firstOffset <= batch.lastOffset, !batch.types.isEmpty,
                  batch.types.count == 1 || Int64(batch.types.count) == batch.lastOffset - batch.firstOffset + 1 else {
                code = .invalidRequest
                continue
            }
            // One type for the whole range, or one per offset (runs of one type applied together).
            var runStart = batch.firstOffset
            while runStart <= batch.lastOffset {
                let typeAt = { (offset: Int64) in batch.types.count == 1 ? batch.types[0] : batch.types[Int(offset - batch.firstOffset)] }
                let rawType = typeAt(runStart)
                var runEnd = runStart
                while runEnd < batch.lastOffset, typeAt(runEnd + 1) == rawType { runEnd += 1 }
                defer { runStart = runEnd + 1 }
                guard let type = SharePartition.AcknowledgeType(rawValue: rawType), type != .renew || renewAllowed else {
                    code = .invalidRequest
                    continue
                }
                do {
                    try entry.partition.acknowledge(memberId: memberId, firstOffset: runStart, lastOffset: runEnd, type: type, nowMs: nowMs)
                    released = released || type == .release
                } catch {
                    if code == .none { code = .invalidRecordState }
                }
            }
        }
        if released { signalReleased(entry) }
        return Task {
            let written = await self.persist(entry)
            return written == .none ? code : written
        }
    }

    // MARK: Leadership

    /// This broker stopped leading the partition (or leads it at a new epoch): its share-partitions
    /// are loaded again from their coordinators when next fetched.
    func unload(_ topicPartition: TopicPartition) {
        for (key, entry) in entries where entry.topicPartition == topicPartition { entries.removeValue(forKey: key) }
    }

    /// Forgets one share-partition (its state was reset or deleted at its coordinator).
    func unload(_ key: ShareStateKey) {
        entries.removeValue(forKey: key)
    }

    private func loadedEntry(
        _ key: ShareStateKey, topicPartition: TopicPartition, log: PartitionLog, leaderEpoch: Int32
    ) async -> Result<Entry, KafkaErrorCode> {
        if let entry = entries[key], entry.leaderEpoch == leaderEpoch, entry.log === log { return .success(entry) }
        // Concurrent fetches wait for one load.
        let load = loading[key] ?? startLoad(key, log: log, leaderEpoch: leaderEpoch)
        loading[key] = load
        let result = await load.value
        loading[key] = nil
        if let entry = entries[key], entry.leaderEpoch == leaderEpoch, entry.log === log { return .success(entry) }
        switch result {
        case .failure(let code): return .failure(code)
        case .success(let loaded):
            let entry = Entry(
                key: key, topicPartition: topicPartition, log: log, partition: loaded.partition, stateEpoch: loaded.stateEpoch, leaderEpoch: leaderEpoch)
            entries[key] = entry
            return .success(entry)
        }
    }

    private func startLoad(_ key: ShareStateKey, log: PartitionLog, leaderEpoch: Int32) -> Task<Result<Loaded, KafkaErrorCode>, Never> {
        let settings = settingsFor(key.groupId)
        let persister = self.persister
        let clock = self.clock
        return Task { () -> Result<Loaded, KafkaErrorCode> in
            let stored: ShareStateShard.State?
            switch await persister.read(key, leaderEpoch: leaderEpoch) {
            case .failure(let code): return .failure(code)
            case .success(let found): stored = found
            }
            var stateEpoch: Int32 = 0
            let partition: SharePartition
            if let stored, stored.persisted.startOffset >= 0 {
                stateEpoch = stored.stateEpoch
                partition = SharePartition(stored.persisted, settings: settings.partition)
            } else {
                // No state yet: the start is chosen now and written before any record is handed out,
                // so that a new leader starts from the same place.
                stateEpoch = stored?.stateEpoch ?? 0
                let start = Self.startOffset(log: log, reset: settings.autoOffsetReset, nowMs: clock())
                let code = await persister.write(key, stateEpoch: stateEpoch, leaderEpoch: leaderEpoch, startOffset: start, batches: [])
                guard code == .none else { return .failure(code) }
                partition = SharePartition(startOffset: start, settings: settings.partition)
            }
            return .success(Loaded(partition: partition, stateEpoch: stateEpoch))
        }
    }

    static func startOffset(log: PartitionLog, reset: AutoOffsetReset, nowMs: Int64) -> Int64 {
        let offsets = log.offsets
        switch reset {
        case .latest: return offsets.highWatermark
        case .earliest: return offsets.logStartOffset
        case .byDuration(let durationMs):
            let found = try? log.offset(forTimestamp: nowMs - durationMs)
            return found?.offset ?? offsets.highWatermark
        }
    }

    // MARK: Writing

    /// Writes what changed since the last write; concurrent callers share one write.
    private func persist(_ entry: Entry) async -> KafkaErrorCode {
        await withCheckedContinuation { continuation in
            entry.writeWaiters.append(continuation)
            if !entry.writing { startWrite(entry) }
        }
    }

    private func startWrite(_ entry: Entry) {
        entry.writing = true
        let waiting = entry.writeWaiters
        entry.writeWaiters = []
        let target = entry.partition.persistedState
        let changes = target.changes(since: entry.persisted)
        let previousStart = entry.persisted.startOffset
        Task {
            var code = KafkaErrorCode.none
            if !changes.isEmpty(comparedTo: entry.persisted) {
                code = await persister.write(
                    entry.key, stateEpoch: entry.stateEpoch, leaderEpoch: entry.leaderEpoch,
                    startOffset: changes.startOffset == previousStart ? -1 : changes.startOffset, batches: changes.batches)
            }
            finishWrite(entry, target: target, code: code, waiting: waiting)
        }
    }

    private func finishWrite(_ entry: Entry, target: SharePartition.PersistedState, code: KafkaErrorCode, waiting: [CheckedContinuation<KafkaErrorCode, Never>]) {
        entry.writing = false
        if code == .none {
            entry.persisted = target
        } else if entries[entry.key] === entry {
            // What the coordinator holds is the truth now: loaded again on the next fetch.
            logger.warning("share-partition \(entry.key): writing its state failed (\(code)); it is loaded again")
            entries.removeValue(forKey: entry.key)
        }
        for continuation in waiting { continuation.resume(returning: code) }
        if !entry.writeWaiters.isEmpty {
            if code == .none {
                startWrite(entry)
            } else {
                let failed = entry.writeWaiters
                entry.writeWaiters = []
                for continuation in failed { continuation.resume(returning: code) }
            }
        }
    }

    // MARK: Locks

    private func signalReleased(_ entry: Entry) {
        releases.bump()
        waiters.notify(entry.topicPartition)
    }

    private func rescheduleLockTimer() {
        guard let next = entries.values.compactMap(\.partition.nextLockDeadlineMs).min() else { return }
        if lockTimer != nil, let lockTimerDeadlineMs, lockTimerDeadlineMs <= next { return }
        lockTimer?.cancel()
        lockTimerDeadlineMs = next
        let delayMs = max(0, next - clock())
        lockTimer = Task { [weak self] in
            try? await Task.sleep(for: .milliseconds(delayMs))
            guard !Task.isCancelled else { return }
            await self?.expireLocks()
        }
    }

    private func expireLocks() {
        lockTimer = nil
        lockTimerDeadlineMs = nil
        let nowMs = clock()
        for entry in entries.values where entry.partition.expireLocks(nowMs: nowMs) > 0 {
            signalReleased(entry)
            Task { _ = await self.persist(entry) }
        }
        rescheduleLockTimer()
    }

    func shutdown() {
        lockTimer?.cancel()
        lockTimer = nil
    }
}

extension ByteBuffer {
    /// `other` after this buffer's readable bytes: taken as it is (no copy) when this one is empty.
    mutating func append(_ other: ByteBuffer) {
        if readableBytes == 0 {
            self = other
        } else {
            writeImmutableBuffer(other)
        }
    }
}
